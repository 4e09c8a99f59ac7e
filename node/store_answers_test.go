package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// The master's answer runs, without sockets: a fake master (a storeMaster
// that publishes through the frontend's own node) sends a turn's answers
// to the frontend's requests; the frames must be the runs expected, and
// the frontend's handle must resolve each request with its answer.
func TestStoreAnswerRuns(t *testing.T) {
	n := newNode(t, "n", nil)
	silentMaster(t, n, "s") // requests have a route, and are not answered
	f, err := n.StoreFrontend("s")
	if err != nil {
		t.Fatal(err)
	}
	reply := storeTopic("s", "r/"+idHex(f.self))
	other := storeTopic("s", "r/"+idHex(f.self+1))
	var mu sync.Mutex
	var kinds []string // frames seen on either topic, "topic kind first..last"
	capture := func(topic string) {
		sub, err := n.subscribe(topic, func(m Message) {
			var first, last uint64
			switch m.Kind() {
			case frame.KindStoreAck:
				a, _ := frame.DecodeStoreAck(m.f.Body(), nil)
				first, last = a.Seq, a.Seq
			case frame.KindStoreNack:
				nk, _ := frame.DecodeStoreNack(m.f.Body())
				first, last = nk.First, nk.Last
			case frame.KindStoreSnapshot:
				as, err := frame.DecodeStoreAnswers(m.f.Body(), nil)
				if err != nil {
					t.Errorf("answers frame: %v", err)
				}
				first, last = as.First, as.First+uint64(as.Count)-1
			}
			mu.Lock()
			kinds = append(kinds, topic[len(topic)-2:]+" "+m.Kind().String()+" "+idRange(first, last))
			mu.Unlock()
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sub.store = true
	}
	capture(reply)
	capture(other)

	var futs []*Future
	for i := range 10 {
		futs = append(futs, f.Do(frame.OpGet, frame.NewCount(uint64(i)), frame.None, 0))
	}
	big := frame.NewString(string(make([]byte, 100)))
	sm := &storeMaster{s: f, runIndex: map[string]int{}, answerBytes: 64} // three small answers
	ok := func(reply string, id uint64, v frame.Value) masterAnswer {
		return masterAnswer{reply: reply, id: id, res: v}
	}
	sm.out = []masterAnswer{
		ok(reply, 1, frame.NewCount(1)),
		ok(other, 5, frame.NewCount(50)), // another node's run in between
		ok(reply, 2, frame.NewCount(2)),
		ok(reply, 3, frame.NewCount(3)),
		{reply: reply, id: 4, err: &StoreError{Code: frame.CodeBadRequest, Text: "bad"}}, // ends the run
		ok(reply, 5, frame.NewCount(5)),
		ok(other, 6, frame.NewCount(60)),
		ok(reply, 7, frame.NewCount(7)), // 6 was lost: a gap ends the run
		ok(reply, 8, big),               // past answerBytes: 7 goes alone
		ok(reply, 9, frame.NewCount(9)), // and so does 8
		ok(reply, 10, frame.NewCount(10)),
	}
	sm.answerAll(nil)

	mu.Lock()
	got := append([]string(nil), kinds...)
	mu.Unlock()
	r, o := reply[len(reply)-2:], other[len(other)-2:]
	exp := []string{
		r + " store-snapshot 1..3", r + " store-nack 4..4", r + " store-ack 5..5", r + " store-ack 7..7",
		r + " store-ack 8..8", r + " store-snapshot 9..10", o + " store-snapshot 5..6",
	}
	if len(got) != len(exp) {
		t.Fatalf("frames %q, want %q", got, exp)
	}
	for i := range exp {
		if got[i] != exp[i] {
			t.Fatalf("frames %q, want %q", got, exp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, fu := range futs {
		id := i + 1
		v, err := fu.Wait(ctx)
		switch id {
		case 4:
			var se *StoreError
			if !errors.As(err, &se) || se.Code != frame.CodeBadRequest {
				t.Errorf("request 4: %v, want a bad-request error", err)
			}
		case 6:
			if !errors.Is(err, ErrRequestLost) {
				t.Errorf("request 6: %v, want ErrRequestLost", err)
			}
		case 8:
			if err != nil || !frame.Equal(v, big) {
				t.Errorf("request 8: %v %v", v, err)
			}
		default:
			if err != nil || v.Type() != frame.TypeCount || v.Count() != uint64(id) {
				t.Errorf("request %d: %v %v", id, v, err)
			}
		}
	}
}

func idRange(first, last uint64) string {
	return frame.NewCount(first).String() + ".." + frame.NewCount(last).String()
}
