package bench

import (
	"math/rand/v2"
	"testing"
)

func data(pub uint32, seq uint64, sent int64) Payload {
	return Payload{Kind: KindData, Pub: pub, Seq: seq, SentNs: sent}
}

func TestTrackerInOrder(t *testing.T) {
	tr := NewTracker([]uint64{3, 2})
	now := int64(1000)
	for _, p := range []Payload{data(0, 0, 900), data(1, 0, 900), data(0, 1, 950), data(1, 1, 990), data(0, 2, 999)} {
		now += 10
		tr.Observe(p, 64, now)
	}
	if !tr.Done() {
		t.Fatal("not done after every message")
	}
	r := tr.Result(4)
	want := SubResult{ID: 4, Expected: 5, Received: 5, Delivered: 5, Bytes: 320, FirstNs: 1010, LastNs: 1050}
	if r.ID != want.ID || r.Expected != want.Expected || r.Received != want.Received || r.Delivered != want.Delivered ||
		r.Bytes != want.Bytes || r.Lost != 0 || r.Duplicates != 0 || r.Reordered != 0 || r.Bad != 0 ||
		r.FirstNs != want.FirstNs || r.LastNs != want.LastNs || r.LossByPub != nil {
		t.Fatalf("result %+v", r)
	}
	// 5 messages over 40 ns.
	if r.MsgsPerSec != 5/40e-9 {
		t.Fatalf("rate %v", r.MsgsPerSec)
	}
	// Latencies 110, 120, 80, 50, 51 ns.
	if r.Latency.Count != 5 || r.Latency.Max < 119.9e-3 || r.Latency.Max > 120.1e-3 {
		t.Fatalf("latency %+v", r.Latency)
	}
}

func TestTrackerLossDuplicatesReorder(t *testing.T) {
	tr := NewTracker([]uint64{10, 4})
	seqs := []Payload{
		data(0, 0, 0), data(0, 1, 0), data(0, 4, 0), // 2, 3 late
		data(0, 2, 0),                // reordered
		data(0, 4, 0),                // duplicate
		data(0, 3, 0),                // reordered
		data(0, 9, 0),                // 5..8 lost
		data(1, 3, 0), data(1, 0, 0), // pub 1: 0 reordered; 1, 2 lost
		data(2, 0, 0), // unknown publisher
		data(1, 4, 0), // sequence out of range
		data(1, 0, 0), // duplicate
	}
	for i, p := range seqs {
		tr.Observe(p, 10, int64(i))
	}
	tr.Bad() // an undecodable payload
	if tr.Done() {
		t.Fatal("done with messages missing")
	}
	r := tr.Result(0)
	if r.Expected != 14 || r.Received != 8 || r.Lost != 6 || r.Duplicates != 2 || r.Reordered != 3 || r.Bad != 3 ||
		r.Delivered != 10 || r.Bytes != 80 {
		t.Fatalf("result %+v", r)
	}
	if tr.Count(0) != 6 || tr.Count(1) != 2 || tr.Count(2) != 0 {
		t.Fatalf("counts %d %d %d", tr.Count(0), tr.Count(1), tr.Count(2))
	}
	if len(r.LossByPub) != 2 || r.LossByPub[0] != (PubLoss{0, 4}) || r.LossByPub[1] != (PubLoss{1, 2}) {
		t.Fatalf("loss by pub %+v", r.LossByPub)
	}
}

// TestTrackerAgainstModel checks the tracker against a map-based reference
// on random delivery orders with losses and duplicates.
func TestTrackerAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		expect := []uint64{uint64(rng.IntN(300)), uint64(rng.IntN(300)), uint64(rng.IntN(3))}
		tr := NewTracker(expect)
		seen := map[[2]uint64]bool{}
		maxSeq := map[uint64]int64{0: -1, 1: -1, 2: -1}
		var dups, reord, uniq, total uint64
		for _, n := range expect {
			total += n
		}
		var msgs []Payload
		for pub, n := range expect {
			for s := range n {
				if rng.IntN(10) == 0 {
					continue // lost
				}
				msgs = append(msgs, data(uint32(pub), s, 0))
				if rng.IntN(20) == 0 {
					msgs = append(msgs, data(uint32(pub), s, 0)) // duplicated
				}
			}
		}
		for i := range msgs { // local swaps: mild reordering
			if j := i + rng.IntN(3); j < len(msgs) && rng.IntN(4) == 0 {
				msgs[i], msgs[j] = msgs[j], msgs[i]
			}
		}
		for _, p := range msgs {
			tr.Observe(p, 1, 1)
			k := [2]uint64{uint64(p.Pub), p.Seq}
			switch {
			case seen[k]:
				dups++
			case int64(p.Seq) < maxSeq[uint64(p.Pub)]:
				seen[k] = true
				uniq++
				reord++
			default:
				seen[k] = true
				uniq++
				maxSeq[uint64(p.Pub)] = int64(p.Seq)
			}
		}
		r := tr.Result(0)
		if r.Received != uniq || r.Duplicates != dups || r.Reordered != reord || r.Lost != total-uniq || tr.Done() != (uniq == total) {
			t.Fatalf("round %d: tracker %+v; model unique %d dups %d reordered %d of %d", round, r, uniq, dups, reord, total)
		}
	}
}

// TestTrackerUnstamped checks that messages without a send time count
// but add no latency sample and leave the arrival span alone.
func TestTrackerUnstamped(t *testing.T) {
	tr := NewTracker([]uint64{3})
	tr.Observe(data(0, 0, 100), 10, 1000)
	tr.Observe(data(0, 1, 0), 10, 99999) // nowNs ignored
	tr.Observe(data(0, 2, 200), 10, 3000)
	r := tr.Result(0)
	if r.Received != 3 || r.Lost != 0 || tr.hist.TotalCount() != 2 || tr.firstNs != 1000 || tr.lastNs != 3000 {
		t.Fatalf("result %+v, %d samples, span [%d, %d]", r, tr.hist.TotalCount(), tr.firstNs, tr.lastNs)
	}
}

func TestAggregate(t *testing.T) {
	mk := func(id int, lats ...int64) SubResult {
		tr := NewTracker([]uint64{uint64(len(lats))})
		for i, l := range lats {
			tr.Observe(data(0, uint64(i), 1), 100, l) // sent at 1 ns: stamped
		}
		return tr.Result(id)
	}
	s0 := mk(0, 1000, 2000, 3000) // first 1000, last 3000
	s1 := mk(1, 1500, 5000)       // first 1500, last 5000
	s1.Lost, s1.Expected = 1, 3
	cfg := Config{Scenario: Fanout, Size: 100, Msgs: 3, Pubs: 1, Subs: 2}
	pubs := []PubResult{{ID: 0, Sent: 3, Bytes: 300, StartNs: 0, EndNs: 1000, Dropped: 2}}
	r, err := Aggregate(cfg, []SubResult{s0, s1}, pubs, &RelayResult{Dropped: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sub.Received != 5 || r.Sub.Lost != 1 || r.Sub.Expected != 6 {
		t.Fatalf("sub aggregate %+v", r.Sub)
	}
	// 5 messages over [1000, 5000] ns.
	if r.Sub.MsgsPerSec != 5/4000e-9 || r.Sub.MBPerSec != 500/4000e-9/1e6 {
		t.Fatalf("aggregate rate %v msgs/s %v MB/s", r.Sub.MsgsPerSec, r.Sub.MBPerSec)
	}
	if r.Latency.Count != 5 || r.Latency.Max < 4.99 || r.Latency.Max > 5.01 {
		t.Fatalf("merged latency %+v", r.Latency)
	}
	if r.Pub.Sent != 3 || r.Pub.Dropped != 2 || r.Pub.MsgsPerSec != 3/1000e-9 {
		t.Fatalf("pub aggregate %+v", r.Pub)
	}
	for _, s := range r.SubResults {
		if s.Hist != "" {
			t.Fatal("encoded histogram left in the report")
		}
	}
	if r.Clean() {
		t.Fatal("a report with loss and drops is clean")
	}
}
