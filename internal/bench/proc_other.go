//go:build !linux

package bench

import "os/exec"

// setParentDeath does nothing here: children rely on their input's EOF.
func setParentDeath(*exec.Cmd) {}
