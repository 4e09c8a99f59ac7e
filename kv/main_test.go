package kv

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes what it opens: no goroutine of kv's or Pebble's
// survives the package's tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
