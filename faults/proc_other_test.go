//go:build faults && !linux

package faults

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere the
// tests' cleanups kill their children.
func dieWithParent(*exec.Cmd) {}
