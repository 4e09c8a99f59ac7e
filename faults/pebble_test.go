//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/node"
)

// Case 4: a store master on Pebble in sync mode, SIGKILLed while a
// frontend pipelines writes: every write it acknowledged is on disk, with
// its expiry, and the restarted master serves it.

const (
	pebbleStore  = "faults"
	pebbleMaster = "pebble-master"
)

// pebbleMasterChild is the child process: a node that is the master of
// pebbleStore on a Pebble database in $WEIR_FAULTS_DIR (sync mode),
// listening on $WEIR_FAULTS_LISTEN. It prints "READY <addr>" and serves
// until its standard input ends.
func pebbleMasterChild() int {
	dir, addr := os.Getenv("WEIR_FAULTS_DIR"), os.Getenv("WEIR_FAULTS_LISTEN")
	fail := func(err error) int {
		fmt.Printf("ERROR %v\n", err)
		return 1
	}
	db, err := kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.Sync})
	if err != nil {
		return fail(err)
	}
	n, err := node.New(node.Options{Name: pebbleMaster, Logger: testLogger()})
	if err != nil {
		_ = db.Close()
		return fail(err)
	}
	defer n.Close()
	if _, err := n.AttachMaster(pebbleStore, db, node.StoreOptions{}); err != nil {
		return fail(err)
	}
	var a net.Addr
	for try := 0; ; try++ {
		// A restart reuses the killed process's port, which the kernel may
		// not have released yet.
		if a, err = n.Listen(addr); err == nil || try == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fail(err)
	}
	fmt.Printf("READY %s\n", a)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// child is a running pebbleMasterChild.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  bool
}

func startPebbleMaster(t *testing.T, dir, addr string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=pebble-master", "WEIR_FAULTS_DIR="+dir, "WEIR_FAULTS_LISTEN="+addr)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	c := &child{cmd: cmd}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text() // "" once the child is gone
	}()
	select {
	case l := <-line:
		a, ok := strings.CutPrefix(l, "READY ")
		if !ok {
			t.Fatalf("pebble master child: %q", l)
		}
		c.addr = a
	case <-time.After(testutil.Deadline):
		c.kill()
		<-line
		t.Fatal("pebble master child did not start")
	}
	return c
}

// kill SIGKILLs the child and reaps it. Idempotent.
func (c *child) kill() {
	if c.done {
		return
	}
	c.done = true
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// stop ends the child cleanly (its input ends) and returns its exit error.
func (c *child) stop() error {
	c.done = true
	_ = c.stdin.Close()
	return c.cmd.Wait()
}

// pebblePut is one pipelined write and what is known of it.
type pebblePut struct {
	key, val frame.Value
	expiry   time.Duration
	sent     time.Time
	f        *node.Future
	acked    bool
}

func TestPebbleMasterKilled(t *testing.T) {
	r := newReport(t, "4.pebble-kill")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	m := startPebbleMaster(t, dir, "127.0.0.1:0")
	// The frontend waits for room in its peer queue rather than dropping
	// requests: unanswered requests are then only those the kill cut off.
	fe := newNode(t, "frontend", func(o *node.Options) { o.PublishWait = 10 * time.Second })
	if err := fe.Peer(m.addr); err != nil {
		t.Fatal(err)
	}
	fs := newStatusLog(fe)
	testutil.WaitFor(t, "frontend peered with the master", func() bool { return fs.up(pebbleMaster, 0) })
	st, err := fe.StoreFrontend(pebbleStore)
	if err != nil {
		t.Fatal(err)
	}

	// Pipeline puts, up to window unanswered; every fifth has an expiry.
	// Kill the master once killAfter are acknowledged, with a window in
	// flight (a master that commits requests in groups then has groups
	// in every stage: applied, being synced, answered).
	const window, killAfter = 1024, 3000
	var puts []*pebblePut
	issue := func() {
		i := len(puts)
		p := &pebblePut{key: frame.NewString(fmt.Sprintf("key-%06d", i)), val: frame.NewString(fmt.Sprintf("value-%d-%x", i, i*2654435761))}
		if i%5 == 0 {
			p.expiry = time.Hour
		}
		p.sent = time.Now()
		p.f = st.Do(frame.OpPut, p.key, p.val, p.expiry)
		puts = append(puts, p)
	}
	start := time.Now()
	for acked := 0; acked < killAfter; acked++ {
		for len(puts)-acked < window {
			issue()
		}
		if _, err := puts[acked].f.Wait(ctx); err != nil {
			t.Fatalf("put %d: %v", acked, err)
		}
	}
	writeTime := time.Since(start)
	m.kill()
	killedAt := time.Now()
	var acked []*pebblePut
	failed := 0
	for _, p := range puts {
		select {
		case <-p.f.Done():
			_, err := p.f.Wait(ctx)
			switch {
			case err == nil:
				p.acked = true
				acked = append(acked, p)
			case !errors.Is(err, node.ErrMasterLost): // lost: cut off by the kill
				failed++
			}
		default:
		}
	}
	r.check("master SIGKILLed mid-stream", len(acked) >= killAfter && len(acked) < len(puts) && failed == 0,
		"after %d acked puts (%.0f/s, sync), %d of %d in flight unanswered", len(acked),
		float64(killAfter)/writeTime.Seconds(), len(puts)-len(acked), len(puts))
	// The requests the kill cut off fail at once with ErrMasterLost (the
	// frontend reached the master through no other peer), not after
	// RequestTimeout. (One answered between the kill and the scan above
	// may still succeed.)
	lost, late, other := 0, 0, 0
	r.wait("requests cut off by the kill fail with ErrMasterLost", func() bool {
		lost, late, other = 0, 0, 0
		for _, p := range puts {
			if p.acked {
				continue
			}
			select {
			case <-p.f.Done():
			default:
				return false
			}
			switch _, err := p.f.Wait(ctx); {
			case errors.Is(err, node.ErrMasterLost):
				lost++
			case err == nil:
				late++
			default:
				other++
			}
		}
		return true
	})
	r.check("no request cut off by the kill failed otherwise", other == 0 && lost > 0,
		"%d failed with ErrMasterLost, %d answered late, %d other errors", lost, late, other)

	// The database as the killed process left it.
	db, err := kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.Sync})
	if err != nil {
		t.Fatal(err)
	}
	var missing, wrong, badExpiry, expiring int
	for _, p := range acked {
		val, at, ok, err := db.Get(frame.AppendValue(nil, p.key))
		switch {
		case err != nil:
			t.Fatal(err)
		case !ok:
			missing++
		case !bytes.Equal(val, frame.AppendValue(nil, p.val)):
			wrong++
		case p.expiry > 0:
			expiring++
			// The master set it to (its clock at the request) + expiry.
			if at < p.sent.Add(p.expiry).UnixNano() || at > killedAt.Add(p.expiry).UnixNano() {
				badExpiry++
			}
		case at != 0:
			badExpiry++
		}
	}
	unacked := 0
	for _, p := range puts {
		if _, _, ok, _ := db.Get(frame.AppendValue(nil, p.key)); ok && !p.acked {
			unacked++
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r.check("acknowledged writes on disk after the kill", missing == 0 && wrong == 0,
		"%d of %d present, %d missing, %d wrong value (and %d unacknowledged also present)",
		len(acked)-missing-wrong, len(acked), missing, wrong, unacked)
	r.check("expiry of acknowledged writes on disk", badExpiry == 0 && expiring > 0,
		"%d keys with expiry, %d with a wrong expiry time", expiring, badExpiry)

	// Restarted on the same directory and address: the frontend reconnects
	// by itself, and the master serves every acknowledged write.
	m2 := startPebbleMaster(t, dir, m.addr)
	r.wait("frontend reconnected to the restarted master", func() bool { return fs.up(pebbleMaster, 1) })
	gets := make([]*node.Future, len(acked))
	for i, p := range acked {
		gets[i] = st.Do(frame.OpGet, p.key, frame.None, 0)
	}
	var bad int
	for i, f := range gets {
		v, err := f.Wait(ctx)
		if err != nil || !frame.Equal(v, acked[i].val) {
			bad++
			if bad == 1 {
				t.Logf("get %v after restart: %v, %v", acked[i].key, v, err)
			}
		}
	}
	r.check("acknowledged writes served by the restarted master", bad == 0,
		"%d of %d read back (%d with an expiry still present)", len(acked)-bad, len(acked), expiring)
	if err := st.Put(ctx, frame.NewString("after-restart"), frame.NewBool(true), 0); err != nil {
		t.Errorf("put after restart: %v", err)
	}
	if err := m2.stop(); err != nil {
		t.Errorf("restarted master did not exit cleanly: %v", err)
	}
}
