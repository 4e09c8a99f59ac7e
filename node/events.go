package node

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/weirio/weir/frame"
)

// Event is an event as a handler sees it: decoded, owned values that the
// handler may keep.
type Event struct {
	Topic  string // "" for a Raise without auto-publish
	Name   string
	Args   []frame.Value
	Meta   frame.Value // none, or a table
	Remote bool        // arrived from a peer
}

// EventHandler handles an event. It runs on a network event loop for
// remote events and on the raising goroutine for Raise, so it must not
// block. A panic is recovered, logged and counted (Stats.HandlerPanics).
type EventHandler func(Event)

// registry maps event names to handlers and auto-publish topics. Readers
// (every event dispatch) load an immutable snapshot; writers copy it.
type registry struct {
	mu   sync.Mutex
	snap atomic.Pointer[regSnap]
	next uint64
}

type regSnap struct {
	handlers map[string][]handlerEntry
	auto     map[string][]string // event name -> topics
}

type handlerEntry struct {
	id uint64
	h  EventHandler
}

func (r *registry) load() *regSnap {
	if s := r.snap.Load(); s != nil {
		return s
	}
	return &regSnap{}
}

// update applies fn to a copy of the snapshot and publishes it.
func (r *registry) update(fn func(s *regSnap)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	s := &regSnap{handlers: make(map[string][]handlerEntry, len(old.handlers)), auto: make(map[string][]string, len(old.auto))}
	for k, v := range old.handlers {
		s.handlers[k] = slices.Clone(v)
	}
	for k, v := range old.auto {
		s.auto[k] = slices.Clone(v)
	}
	fn(s)
	r.snap.Store(s)
}

// On registers h for events named name that arrive on topics the node
// subscribed to with SubscribeEvents, and for Raise. It returns a function
// that removes the handler.
func (n *Node) On(name string, h EventHandler) (cancel func()) {
	var id uint64
	n.events.update(func(s *regSnap) {
		n.events.next++
		id = n.events.next
		s.handlers[name] = append(s.handlers[name], handlerEntry{id: id, h: h})
	})
	return func() {
		n.events.update(func(s *regSnap) {
			s.handlers[name] = slices.DeleteFunc(s.handlers[name], func(e handlerEntry) bool { return e.id == id })
			if len(s.handlers[name]) == 0 {
				delete(s.handlers, name)
			}
		})
	}
}

// AutoPublish makes every Raise of the event name also publish it on topic
// (Broker's auto_publish): local handlers run and subscribed peers receive
// it. Registering the same pair twice is a no-op.
func (n *Node) AutoPublish(topic, name string) error {
	if len(name) > frame.MaxNameLen {
		return fmt.Errorf("node: event name longer than %d bytes", frame.MaxNameLen)
	}
	if err := frame.CheckTopic(topic, &n.opts.Net.Limits); err != nil {
		return err
	}
	n.events.update(func(s *regSnap) {
		if !slices.Contains(s.auto[name], topic) {
			s.auto[name] = append(s.auto[name], topic)
		}
	})
	return nil
}

// AutoUnpublish undoes AutoPublish.
func (n *Node) AutoUnpublish(topic, name string) {
	n.events.update(func(s *regSnap) {
		s.auto[name] = slices.DeleteFunc(s.auto[name], func(t string) bool { return t == topic })
		if len(s.auto[name]) == 0 {
			delete(s.auto, name)
		}
	})
}

// Raise runs the local handlers of the event name (synchronously, in
// registration order) and publishes the event on every topic registered
// with AutoPublish. Unlike PublishEvent, which runs no local handler, Raise
// is how an application "calls" an event. The node's own event handlers
// never also receive the auto-published copy.
func (n *Node) Raise(name string, args ...frame.Value) error {
	snap := n.events.load()
	n.dispatch(snap, Event{Name: name, Args: args})
	for _, topic := range snap.auto[name] {
		if err := n.publishEvent(topic, name, args, nil); err != nil {
			return err
		}
	}
	return nil
}

// RaiseLocal runs the local handlers of the event name only: no
// auto-publish.
func (n *Node) RaiseLocal(name string, args ...frame.Value) {
	n.dispatch(n.events.load(), Event{Name: name, Args: args})
}

// SubscribeEvents subscribes to prefix and dispatches every event that
// arrives from a peer on it to the handlers registered with On. Data
// messages on the prefix are ignored by this subscription.
func (n *Node) SubscribeEvents(prefix string) (*Subscription, error) {
	s, err := n.subscribe(prefix, func(m Message) {
		if m.Kind() != frame.KindEvent {
			return
		}
		snap := n.events.load()
		ev, err := m.Event()
		if err != nil {
			n.log.Warn("undecodable event", "topic", string(m.Topic()), "err", err)
			return
		}
		if len(snap.handlers[string(ev.Name)]) == 0 {
			return
		}
		n.dispatch(snap, Event{Topic: string(m.Topic()), Name: string(ev.Name), Args: ev.Args.Value().Elems(),
			Meta: ev.Meta.Value(), Remote: true})
	}, nil)
	if s != nil {
		s.events = true
	}
	return s, err
}

func (n *Node) dispatch(snap *regSnap, ev Event) {
	for _, e := range snap.handlers[ev.Name] {
		n.callHandler(e.h, ev)
	}
}

func (n *Node) callHandler(h EventHandler, ev Event) {
	defer func() {
		if r := recover(); r != nil {
			n.stats.handlerPanics.Add(1)
			n.log.Error("event handler panicked", "event", ev.Name, "panic", r)
		}
	}()
	h(ev)
}
