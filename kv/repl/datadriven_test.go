package repl

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScripts runs the scenarios in testdata/*.txt. Regenerate the expected
// transcripts with
//
//	go test ./kv/repl/ -run TestScripts -rewrite
//
// and review the diff. Commands (IDs: masters print as mN, clones as cN):
//
//	master id=N epoch=E [buffer-entries= buffer-bytes= chunk-bytes= window= max-syncs=
//	       max-clones= max-resend= batch-entries= batch-bytes= heartbeat= retry= clone-timeout=]
//	                         start or restart a master
//	clone id=N [pending-entries= pending-bytes= master-timeout= sync-timeout= retry=]
//	attach id=N | detach id=N
//	propose id=N            one update per input line: put K V [ttl=D] | erase K | expire K | clear
//	tick [d=100ms] [id=(..)] advance the clock, tick the nodes (default all)
//	ready [id=(..)]          handle the nodes' Ready (default all)
//	net                      list the frames in flight
//	deliver [from=N] [to=N] [kind=K] [match=TEXT] [n=N] [drop] [dup] [reverse]
//	                         deliver (or drop) the matching frames in flight
//	stabilize                ready + deliver until nothing moves
//	advance d=D [step=100ms] [verbose]
//	                         tick every step and stabilize, for d; prints events
//	                         only unless verbose
//	partition a=N b=N [oneway] | heal   cut both ways, or only a->b
//	snapshot-fail id=N [off]
//	state                    every node's state and store
func TestScripts(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			e := newEnv()
			datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
				e.out.Reset()
				if err := e.run(t, td); err != nil {
					fmt.Fprintf(e.out, "error: %v\n", err)
				}
				return e.out.String()
			})
		})
	}
}

func (e *env) run(t *testing.T, td *datadriven.TestData) error {
	switch td.Cmd {
	case "master":
		var o MasterOptions
		o.ID = ID(argInt(t, td, "id", 0))
		o.Epoch = uint64(argInt(t, td, "epoch", 0))
		o.BufferEntries = argInt(t, td, "buffer-entries", 0)
		o.BufferBytes = argInt(t, td, "buffer-bytes", 0)
		o.ChunkBytes = argInt(t, td, "chunk-bytes", 0)
		o.SnapshotWindow = argInt(t, td, "window", 0)
		o.MaxSyncs = argInt(t, td, "max-syncs", 0)
		o.MaxClones = argInt(t, td, "max-clones", 0)
		o.MaxResend = argInt(t, td, "max-resend", 0)
		o.BatchEntries = argInt(t, td, "batch-entries", 0)
		o.BatchBytes = argInt(t, td, "batch-bytes", 0)
		o.HeartbeatInterval = argDur(t, td, "heartbeat", 0)
		o.RetryInterval = argDur(t, td, "retry", 0)
		o.CloneTimeout = argDur(t, td, "clone-timeout", 0)
		return e.startMaster(o)
	case "clone":
		var o CloneOptions
		o.ID = ID(argInt(t, td, "id", 0))
		o.PendingEntries = argInt(t, td, "pending-entries", 0)
		o.PendingBytes = argInt(t, td, "pending-bytes", 0)
		o.MasterTimeout = argDur(t, td, "master-timeout", 0)
		o.SyncTimeout = argDur(t, td, "sync-timeout", 0)
		o.RetryInterval = argDur(t, td, "retry", 0)
		return e.startClone(o)
	case "attach", "detach":
		n := e.clones[ID(argInt(t, td, "id", 0))]
		if n == nil {
			return fmt.Errorf("no such clone")
		}
		if td.Cmd == "attach" {
			n.c.Attach()
		} else {
			n.c.Detach()
		}
		return nil
	case "propose":
		id := ID(argInt(t, td, "id", 0))
		if e.masters[id] == nil {
			return fmt.Errorf("no such master")
		}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			u, err := e.parseUpdate(line)
			if err != nil {
				return err
			}
			if err := e.propose(id, u); err != nil {
				return err
			}
		}
		return nil
	case "tick":
		d := argDur(t, td, "d", 100*time.Millisecond)
		e.tick(d, argIDs(t, td, e.ids()))
		e.printf("t=%v\n", e.now.Sub(epoch0))
		return nil
	case "ready":
		for _, id := range argIDs(t, td, e.ids()) {
			if _, err := e.handleReady(id); err != nil {
				return err
			}
		}
		return nil
	case "net":
		for _, p := range e.net {
			e.printf("%s->%s %s\n", e.nodeName(p.from), e.nodeName(p.to), p.desc)
		}
		return nil
	case "deliver":
		return e.deliverCmd(t, td)
	case "stabilize":
		return e.stabilize()
	case "advance":
		return e.advance(argDur(t, td, "d", 0), argDur(t, td, "step", 100*time.Millisecond), td.HasArg("verbose"))
	case "partition":
		a, b := ID(argInt(t, td, "a", 0)), ID(argInt(t, td, "b", 0))
		e.cut[[2]ID{a, b}] = true
		if !td.HasArg("oneway") {
			e.cut[[2]ID{b, a}] = true
		}
		return nil
	case "heal":
		clear(e.cut)
		return nil
	case "snapshot-fail":
		n := e.masters[ID(argInt(t, td, "id", 0))]
		n.store.fail = !td.HasArg("off")
		return nil
	case "state":
		e.printf("%s", e.state())
		return nil
	}
	return fmt.Errorf("unknown command %q", td.Cmd)
}

func (e *env) deliverCmd(t *testing.T, td *datadriven.TestData) error {
	from, to := ID(argInt(t, td, "from", 0)), ID(argInt(t, td, "to", 0))
	kind := ""
	if arg, ok := td.Arg("kind"); ok {
		kind = arg.SingleVal(t)
	}
	match := ""
	if arg, ok := td.Arg("match"); ok {
		match = arg.SingleVal(t)
	}
	limit := argInt(t, td, "n", -1)
	var picked, rest []packet
	for _, p := range e.net {
		match := (from == 0 || p.from == from) && (to == 0 || p.to == to) &&
			(kind == "" || strings.HasPrefix(p.desc, kind+" ")) && strings.Contains(p.desc, match) &&
			(limit < 0 || len(picked) < limit)
		if match {
			picked = append(picked, p)
		} else {
			rest = append(rest, p)
		}
	}
	e.net = rest
	if td.HasArg("reverse") {
		slices.Reverse(picked)
	}
	for _, p := range picked {
		if td.HasArg("drop") {
			e.printf("  %s->%s dropped: %s\n", e.nodeName(p.from), e.nodeName(p.to), p.desc)
			continue
		}
		if err := e.deliver(p); err != nil {
			return err
		}
		if td.HasArg("dup") {
			if err := e.deliver(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// advance runs the cluster for d: every step, tick all nodes and
// stabilize. Unless verbose, only events, state changes and applies are
// printed, prefixed with the time.
func (e *env) advance(d, step time.Duration, verbose bool) error {
	end := e.now.Add(d)
	for e.now.Before(end) {
		e.tick(step, e.ids())
		if verbose {
			e.printf("t=%v\n", e.now.Sub(epoch0))
			if err := e.stabilize(); err != nil {
				return err
			}
			continue
		}
		saved := e.out
		e.out = &strings.Builder{}
		err := e.stabilize()
		tr := e.out.String()
		e.out = saved
		for _, line := range strings.Split(tr, "\n") {
			if strings.HasSuffix(line, " ready:") {
				e.quietNode = strings.TrimSuffix(line, " ready:")
			}
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "event ") || strings.HasPrefix(l, "apply ") || strings.HasPrefix(l, "step error") {
				e.printf("t=%v %s %s\n", e.now.Sub(epoch0), e.quietNode, l)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func argInt(t *testing.T, td *datadriven.TestData, key string, def int) int {
	arg, ok := td.Arg(key)
	if !ok {
		return def
	}
	s := arg.SingleVal(t)
	n, err := strconv.Atoi(s)
	if err != nil {
		td.Fatalf(t, "%s: %v", key, err)
	}
	return n
}

func argDur(t *testing.T, td *datadriven.TestData, key string, def time.Duration) time.Duration {
	arg, ok := td.Arg(key)
	if !ok {
		return def
	}
	s := arg.SingleVal(t)
	d, err := time.ParseDuration(s)
	if err != nil {
		td.Fatalf(t, "%s: %v", key, err)
	}
	return d
}

func argIDs(t *testing.T, td *datadriven.TestData, def []ID) []ID {
	arg, ok := td.Arg("id")
	if !ok {
		return def
	}
	var ids []ID
	for _, v := range arg.Vals {
		n, err := strconv.Atoi(v)
		if err != nil {
			td.Fatalf(t, "id: %v", err)
		}
		ids = append(ids, ID(n))
	}
	return ids
}
