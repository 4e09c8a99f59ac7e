package node

import (
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
)

// StoreEventsTopic is the local topic on which a store attached with
// StoreOptions.Events publishes its changes. It is under the node's local
// prefix: the events never leave the node (each master and clone reports
// the changes it applies).
func (n *Node) StoreEventsTopic(name string) string {
	return n.opts.LocalPrefix + "store/" + name + "/events"
}

// storeEventHook returns the kv.Options.OnEvent hook of a store: the
// caller's own hook, then, with events on, an event on the store's events
// topic whenever a local subscription wants it (no subscriber: no
// decoding, no publish).
func (n *Node) storeEventHook(name string, events bool, kvo kv.Options) func(kv.Event) {
	user := kvo.OnEvent
	if !events {
		return user
	}
	topic := n.StoreEventsTopic(name)
	store := frame.NewString(name)
	// The store accepts values as deep as its MaxDepth: decode them all.
	lim := &frame.Limits{MaxDepth: max(kvo.MaxDepth, frame.DefaultMaxDepth)}
	value := func(b []byte) frame.Value {
		v, _, err := frame.DecodeValue(b, lim)
		if err != nil {
			return frame.None // the store wrote it: not reached
		}
		return v.Value()
	}
	expiry := func(at int64) frame.Value {
		if at == 0 {
			return frame.None
		}
		return frame.NewTimestamp(time.Unix(0, at))
	}
	return func(ev kv.Event) {
		if user != nil {
			user(ev)
		}
		var arr [4]*Subscription
		if len(n.subs.MatchString(topic, arr[:0])) == 0 {
			return
		}
		var err error
		switch ev.Kind {
		case kv.EventInsert:
			err = n.PublishEvent(topic, "insert", store, value(ev.Key), value(ev.Value), expiry(ev.ExpireAt))
		case kv.EventUpdate:
			err = n.PublishEvent(topic, "update", store, value(ev.Key), value(ev.Old), value(ev.Value), expiry(ev.ExpireAt))
		case kv.EventErase, kv.EventExpire:
			err = n.PublishEvent(topic, ev.Kind.String(), store, value(ev.Key))
		}
		if err != nil {
			n.log.Warn("cannot publish store event", "store", name, "event", ev.Kind.String(), "err", err)
		}
	}
}
