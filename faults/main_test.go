//go:build faults

package faults

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

// childEnv, when set, makes the test binary play a child process of a
// case instead of running tests (see runChild).
const childEnv = "WEIR_FAULTS_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

// runChild runs one of the child processes the cases start, and returns
// its exit status.
func runChild(role string) int {
	switch role {
	case "pebble-master":
		return pebbleMasterChild()
	}
	fmt.Fprintf(os.Stderr, "faults: unknown child role %q\n", role)
	return 2
}

// report prints the checks of one case, one line each, in the form the
// perf/faults script tabulates:
//
//	FAULT <case> | <check> | <measured> | ok
//	FAULT <case> | <check> | <measured> | FAIL
//	FAULT <case> | <what> | <measured> | info     (a measurement, not a check)
type report struct {
	t    *testing.T
	name string
}

func newReport(t *testing.T, name string) *report { return &report{t: t, name: name} }

// check prints a line and, when ok is false, fails the test (which goes
// on, so the other checks still print).
func (r *report) check(check string, ok bool, format string, args ...any) bool {
	r.t.Helper()
	measured := strings.ReplaceAll(fmt.Sprintf(format, args...), "|", "/")
	res := "ok"
	if !ok {
		res = "FAIL"
	}
	r.t.Logf("FAULT %s | %s | %s | %s", r.name, check, measured, res)
	if !ok {
		r.t.Errorf("%s: check failed: %s (%s)", r.name, check, measured)
	}
	return ok
}

// info prints a measurement that is not a check (result "info").
func (r *report) info(what string, format string, args ...any) {
	r.t.Helper()
	r.t.Logf("FAULT %s | %s | %s | info", r.name, what, strings.ReplaceAll(fmt.Sprintf(format, args...), "|", "/"))
}

// must is check that stops the test when ok is false.
func (r *report) must(check string, ok bool, format string, args ...any) {
	r.t.Helper()
	if !r.check(check, ok, format, args...) {
		r.t.FailNow()
	}
}

// wait polls cond (up to testutil.Deadline) and prints how long it took
// to hold; on timeout it prints FAIL and stops the test.
func (r *report) wait(check string, cond func() bool) time.Duration {
	r.t.Helper()
	start := time.Now()
	ok := testutil.Poll(cond)
	d := time.Since(start).Round(time.Millisecond)
	if ok {
		r.check(check, true, "after %v", d)
	} else {
		r.must(check, false, "not within %v", testutil.Deadline)
	}
	return d
}

// testLogger discards node logs unless WEIR_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("WEIR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newNode starts a node with quick redials and housekeeping, closed at
// the end of the test.
func newNode(t *testing.T, name string, mod func(*node.Options)) *node.Node {
	t.Helper()
	o := node.Options{Name: name, Logger: testLogger()}
	o.Net.Loops = 2
	o.Net.RetryInitial = 50 * time.Millisecond
	o.Net.RetryMax = 200 * time.Millisecond
	o.Net.Tick = 20 * time.Millisecond
	if mod != nil {
		mod(&o)
	}
	n, err := node.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func listen(t *testing.T, n *node.Node) string {
	t.Helper()
	a, err := n.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

// up reports whether the events about peer from the since'th on end with
// the peer up. It is how a test waits for a peer: the node emits the
// event once its routes to the peer are in place, while the transport
// lists the peer (Node.Peers) a little earlier.
func (l *statusLog) up(peer string, since int) bool {
	k := l.kinds(peer)
	return since <= len(k) && isUp(k[since:])
}

// hasPeer reports whether n's transport has an established peer named
// name (its routes may not be in place yet: see statusLog.up).
func hasPeer(n *node.Node, name string) bool {
	for _, p := range n.Peers() {
		if p.Name == name {
			return true
		}
	}
	return false
}

// seqPayload writes seq at the start of a message body (at least 8
// bytes), where seqs.handler reads it.
func seqPayload(body []byte, seq uint64) { binary.LittleEndian.PutUint64(body, seq) }

// seqs records the sequence numbers delivered to a subscription: how
// often each arrived and whether they arrived in order.
type seqs struct {
	mu       sync.Mutex
	count    map[uint64]int
	last     uint64
	n        int // deliveries
	dups     int // deliveries of a sequence already delivered
	reorders int // deliveries of a sequence below the previous one
	firstDup uint64
}

func newSeqs() *seqs { return &seqs{count: map[uint64]int{}} }

// handler is a node.SubscribeFunc handler for seqPayload messages.
func (s *seqs) handler(m node.Message) {
	v, err := m.Data()
	if err != nil || len(v.Bytes()) < 8 {
		panic(fmt.Sprintf("faults: undecodable message on %q: %v", m.Topic(), err))
	}
	s.add(binary.LittleEndian.Uint64(v.Bytes()))
}

func (s *seqs) add(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[seq]++
	if s.count[seq] > 1 {
		if s.dups == 0 {
			s.firstDup = seq
		}
		s.dups++
	}
	if s.n > 0 && seq <= s.last && s.count[seq] == 1 {
		s.reorders++
	}
	s.last = seq
	s.n++
}

// has reports whether every sequence in [from, to) arrived.
func (s *seqs) has(from, to uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := from; q < to; q++ {
		if s.count[q] == 0 {
			return false
		}
	}
	return true
}

// received returns how many distinct sequences in [from, to) arrived.
func (s *seqs) received(from, to uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for q := from; q < to; q++ {
		if s.count[q] > 0 {
			n++
		}
	}
	return n
}

func (s *seqs) stats() (deliveries, dups, reorders int, firstDup uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.dups, s.reorders, s.firstDup
}

// statusLog collects a node's status events. It is polled (from wait
// conditions), so no goroutine reads the channel.
type statusLog struct {
	n      *node.Node
	mu     sync.Mutex
	events []node.Status
}

func newStatusLog(n *node.Node) *statusLog { return &statusLog{n: n} }

func (l *statusLog) poll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		select {
		case s := <-l.n.Status():
			l.events = append(l.events, s)
		default:
			return
		}
	}
}

// kinds returns the kinds of the events about peer, in order.
func (l *statusLog) kinds(peer string) []node.StatusKind {
	l.poll()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []node.StatusKind
	for _, s := range l.events {
		if s.Peer.Name == peer {
			out = append(out, s.Kind)
		}
	}
	return out
}

// lostAsDuplicate reports whether peer was ever reported lost because
// its connection was replaced by another to the same node (which is no
// loss).
func (l *statusLog) lostAsDuplicate(peer string) bool {
	l.poll()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.events {
		var le *netio.LocalError
		var re *netio.RemoteError
		if s.Peer.Name == peer && s.Kind == node.StatusPeerLost &&
			((errors.As(s.Err, &le) && le.Code == frame.CodeDuplicate) || (errors.As(s.Err, &re) && re.Code == frame.CodeDuplicate)) {
			return true
		}
	}
	return false
}

// fmtKinds prints kinds as "peer_lost,peer_recovered".
func fmtKinds(k []node.StatusKind) string {
	if len(k) == 0 {
		return "none"
	}
	s := make([]string, len(k))
	for i, x := range k {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

// isUp reports whether the last of kinds says the peer is connected.
func isUp(k []node.StatusKind) bool {
	return len(k) > 0 && slices.Contains([]node.StatusKind{node.StatusPeerAdded, node.StatusPeerRecovered}, k[len(k)-1])
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
