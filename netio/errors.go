package netio

import (
	"errors"
	"fmt"

	"github.com/weirio/weir/frame"
)

// Errors a Handler sees as the reason a peer went down, or that Engine
// methods return.
var (
	ErrClosed        = errors.New("netio: engine closed")
	ErrPeerTimeout   = errors.New("netio: peer silent past the keepalive timeout")
	ErrHandshakeTime = errors.New("netio: handshake timed out")
	ErrReplaced      = errors.New("netio: connection replaced by another to the same node")
	ErrLocalClose    = errors.New("netio: closed by this node")
)

// RemoteError is a bye or error frame received from the peer.
type RemoteError struct {
	Bye  bool // a bye (orderly close) rather than an error frame
	Code frame.ErrCode
	Text string
}

func (e *RemoteError) Error() string {
	what := "error"
	if e.Bye {
		what = "bye"
	}
	return fmt.Sprintf("netio: peer sent %s(%s): %s", what, e.Code, e.Text)
}

// LocalError is why this node closed a connection: a protocol violation
// by the peer, a limit, a failed handshake.
type LocalError struct {
	Code frame.ErrCode
	Text string
	Err  error // the underlying decode error, if any
}

func (e *LocalError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("netio: %s: %s: %v", e.Code, e.Text, e.Err)
	}
	return fmt.Sprintf("netio: %s: %s", e.Code, e.Text)
}

func (e *LocalError) Unwrap() error { return e.Err }
