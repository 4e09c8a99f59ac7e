package bench

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the child when the parent dies, a
// second guard besides the child watching its input for EOF.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
