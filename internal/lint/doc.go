// Package lint holds tests that enforce the project's structural rules, the
// ones DESIGN.md states and a reviewer would otherwise have to remember: the
// dependency direction between packages. It has no non-test code.
package lint
