//go:build faults && linux

package faults

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a child process die with the test binary, so a
// failed or interrupted test leaves no process behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
