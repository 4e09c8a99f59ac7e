package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/node"
)

// StoreRequest is one store operation as weir-node store sends it.
type StoreRequest struct {
	// Store is the store's name.
	Store string
	// Op is get, exists, put, erase or keys.
	Op string
	// Key and Value are in the JSON form of weir values when they begin
	// with '{'; anything else is a string.
	Key, Value string
	// Expiry, for put: the key expires this long after the write (0:
	// never).
	Expiry time.Duration
}

// ParseArg reads a key or value argument: the JSON form of a weir value
// when it begins with '{', else the string itself.
func ParseArg(s string) (frame.Value, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		v, err := frame.ParseJSON([]byte(s), nil)
		if err != nil {
			return frame.None, fmt.Errorf("bad value %q (want the JSON form, e.g. {\"@data-type\":\"count\",\"data\":42}, or a plain string): %w", s, err)
		}
		return v, nil
	}
	return frame.NewString(s), nil
}

// Store runs one operation against the master of store req.Store through
// the node at addr (the master may be that node or one of its peers) and
// returns the answer: the value for get, a bool for exists, the set of
// keys for keys, none for put and erase. A get of a missing key fails
// with an error that says so.
func Store(ctx context.Context, addr string, req StoreRequest, log *slog.Logger, opts ...Option) (frame.Value, error) {
	op, ok := map[string]frame.StoreOp{"get": frame.OpGet, "exists": frame.OpExists, "put": frame.OpPut,
		"erase": frame.OpErase, "keys": frame.OpKeys}[req.Op]
	if !ok {
		return frame.None, fmt.Errorf("unknown store operation %q (want get, exists, put, erase or keys)", req.Op)
	}
	key, val := frame.None, frame.None
	var err error
	if op != frame.OpKeys {
		if key, err = ParseArg(req.Key); err != nil {
			return frame.None, err
		}
	}
	if op == frame.OpPut {
		if val, err = ParseArg(req.Value); err != nil {
			return frame.None, err
		}
	}
	if req.Expiry < 0 {
		return frame.None, errors.New("negative expiry")
	}
	n, err := connect(ctx, addr, nil, nil, log, opts)
	if err != nil {
		return frame.None, err
	}
	defer n.Close()
	s, err := n.StoreFrontend(req.Store)
	if err != nil {
		return frame.None, err
	}
	// The answer topic's subscription goes to the node ahead of the
	// request on the same connection, so the answer finds its way back.
	var res frame.Value
	found := true
	if op == frame.OpGet {
		res, found, err = s.Get(ctx, key)
	} else {
		res, err = s.Do(op, key, val, req.Expiry).Wait(ctx)
	}
	switch {
	case errors.Is(err, node.ErrNoMaster):
		return frame.None, fmt.Errorf("no master of store %q reachable via %s (is a node attached as its master?)", req.Store, addr)
	case errors.Is(err, context.DeadlineExceeded):
		return frame.None, fmt.Errorf("no answer from the master of store %q via %s (is a node attached as its master?)", req.Store, addr)
	case err != nil:
		return frame.None, err
	case !found:
		return frame.None, fmt.Errorf("store %q: no such key %s", req.Store, key)
	}
	return res, nil
}
