package kv

import (
	"errors"

	"github.com/weirio/weir/frame"
)

// Errors callers branch on. Exec wraps them with the details
// ("kv: cannot add string to count: kv: type mismatch"); test with
// errors.Is.
var (
	// ErrTypeMismatch: the operand does not fit the stored value (add a
	// string to a count, index a vector with a string, ...).
	ErrTypeMismatch = errors.New("kv: type mismatch")
	// ErrTooLarge: a key or a value (given, or resulting from add) exceeds
	// Options.MaxKeySize or Options.MaxValueSize.
	ErrTooLarge = errors.New("kv: value too large")
	// ErrTooDeep: add would nest a value deeper than Options.MaxDepth.
	ErrTooDeep = errors.New("kv: value nested too deep")
	// ErrUnknownOp: the operation is not one Exec (or ApplyUpdate) accepts.
	ErrUnknownOp = errors.New("kv: unknown operation")
	// ErrInvalid: a malformed command or update (negative expiry, an
	// update whose bytes are not one canonical value, ...).
	ErrInvalid = errors.New("kv: invalid command")
	// ErrNotFound: get, get_index or subtract on a missing key, or
	// get_index of a missing table key or vector index.
	ErrNotFound = errors.New("kv: no such key")
	// ErrCorrupt: bytes read from a backend do not decode.
	ErrCorrupt = errors.New("kv: corrupt data")
	// ErrClosed: the store or backend is closed.
	ErrClosed = errors.New("kv: closed")
)

// Code maps an error returned by Exec to the protocol error code a node
// sends back in a store-nack (docs/PROTOCOL.md §8): bad-request for a
// command that cannot be applied, limit for an oversized value, internal
// for anything else.
func Code(err error) frame.ErrCode {
	switch {
	case err == nil:
		return frame.CodeOK
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrTooDeep):
		return frame.CodeLimit
	case errors.Is(err, ErrTypeMismatch), errors.Is(err, ErrUnknownOp),
		errors.Is(err, ErrInvalid), errors.Is(err, ErrNotFound):
		return frame.CodeBadRequest
	case errors.Is(err, ErrClosed):
		return frame.CodeShutdown
	}
	return frame.CodeInternal
}
