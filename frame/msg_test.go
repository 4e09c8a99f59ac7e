package frame

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// scanOne scans b, which must hold exactly one frame of kind k.
func scanOne(t *testing.T, b []byte, k Kind) Frame {
	t.Helper()
	f, need, err := Scan(b, nil)
	if err != nil || need != 0 || f.Len() != len(b) {
		t.Fatalf("scan: need %d err %v len %d/%d", need, err, f.Len(), len(b))
	}
	if f.Kind() != k {
		t.Fatalf("kind %v, want %v", f.Kind(), k)
	}
	return f
}

func TestHandshakeRoundTrip(t *testing.T) {
	id := NodeID{1, 2, 3, 15: 16}
	h := Hello{MinVersion: 1, MaxVersion: 3, ID: id, Role: RoleWorker, Features: FeatForwarding | FeatAuth,
		Name: []byte("worker-1"), Auth: []byte("nonce"), Filter: MakeStrList("zeek/", "", "weir/node/worker-1/")}
	f := scanOne(t, AppendHello(nil, h), KindHello)
	got, err := DecodeHello(f.Body(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.MinVersion != 1 || got.MaxVersion != 3 || got.ID != id || got.Role != RoleWorker || got.Features != h.Features ||
		string(got.Name) != "worker-1" || string(got.Auth) != "nonce" ||
		!slices.Equal(got.Filter.Strings(), []string{"zeek/", "", "weir/node/worker-1/"}) {
		t.Fatalf("hello %+v", got)
	}
	w := Welcome{Version: 1, ID: id, Role: RoleLogger, Name: []byte("logger"), Filter: MakeStrList()}
	f = scanOne(t, AppendWelcome(nil, w), KindWelcome)
	gw, err := DecodeWelcome(f.Body(), nil)
	if err != nil || gw.Version != 1 || gw.Role != RoleLogger || string(gw.Name) != "logger" || gw.Filter.Len() != 0 {
		t.Fatalf("welcome %+v %v", gw, err)
	}
	f = scanOne(t, AppendAuth(nil, []byte("proof")), KindAuth)
	if p, err := DecodeAuth(f.Body()); err != nil || string(p) != "proof" {
		t.Fatalf("auth %q %v", p, err)
	}
	// Bad field values are rejected.
	bad := h
	bad.Role = 77
	if _, err := DecodeHello(scanOne(t, AppendHello(nil, bad), KindHello).Body(), nil); !errors.Is(err, ErrBadValue) {
		t.Fatalf("role 77: %v", err)
	}
	bad = h
	bad.MinVersion = 4
	if _, err := DecodeHello(scanOne(t, AppendHello(nil, bad), KindHello).Body(), nil); !errors.Is(err, ErrBadValue) {
		t.Fatalf("min > max: %v", err)
	}
	bad = h
	bad.Features = 0x80
	if _, err := DecodeHello(scanOne(t, AppendHello(nil, bad), KindHello).Body(), nil); !errors.Is(err, ErrReserved) {
		t.Fatalf("features: %v", err)
	}
}

func TestSubscribeRoundTrip(t *testing.T) {
	for _, op := range []SubOp{SubReplace, SubAdd, SubRemove} {
		f := scanOne(t, AppendSubscribe(nil, Subscribe{Op: op, Prefixes: MakeStrList("a", "bc")}), KindSubscribe)
		m, err := DecodeSubscribe(f.Body())
		if err != nil || m.Op != op || !slices.Equal(m.Prefixes.Strings(), []string{"a", "bc"}) {
			t.Fatalf("op %d: %+v %v", op, m, err)
		}
	}
	b := AppendSubscribe(nil, Subscribe{Op: 9})
	if _, err := DecodeSubscribe(scanOne(t, b, KindSubscribe).Body()); !errors.Is(err, ErrBadValue) {
		t.Fatalf("op 9: %v", err)
	}
}

func TestDataAndEventRoundTrip(t *testing.T) {
	v := NewVector(NewCount(1), NewString("x"))
	f := scanOne(t, AppendData(nil, Header{}, []byte("t/d"), v), KindData)
	got, err := DecodeData(f.Body(), nil)
	if err != nil || !Equal(got.Value(), v) {
		t.Fatalf("data %v %v", got.Value(), err)
	}
	args := []Value{NewCount(7), NewString("s"), NewReal(1.5), NewBool(true), NewSet(NewInt(1))}
	meta := NewTable(Entry{NewCount(1), NewTimestamp(testTime)})
	f = scanOne(t, AppendEvent(nil, Header{Stamped: true, Origin: 1, Seq: 2}, []byte("t/e"), "ping", args, meta), KindEvent)
	ev, err := DecodeEvent(f.Body(), nil)
	if err != nil || string(ev.Name) != "ping" || ev.Args.Len() != 5 || ev.Meta.Len() != 1 {
		t.Fatalf("event %+v %v", ev, err)
	}
	if !slices.EqualFunc(ev.Args.Value().Elems(), args, Equal) {
		t.Fatalf("args %v", ev.Args.Value())
	}
	f = scanOne(t, AppendEvent(nil, Header{}, []byte("t"), "e", nil, None), KindEvent)
	if ev, err = DecodeEvent(f.Body(), nil); err != nil || ev.Args.Len() != 0 || ev.Meta.Type() != TypeNone {
		t.Fatalf("empty event %+v %v", ev, err)
	}
	// Args must be a vector, meta a table or none.
	b := Begin(nil, Header{Kind: KindEvent}, nil)
	b = appendStr(b, []byte("e"))
	b = AppendValue(b, NewCount(1))
	b = End(AppendValue(b, None), 0)
	if _, err := DecodeEvent(scanOne(t, b, KindEvent).Body(), nil); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("args count: %v", err)
	}
	// Trailing bytes are an error.
	b = AppendData(nil, Header{}, nil, NewCount(1))
	b = End(append(b, 0), 0)
	if _, err := DecodeData(scanOne(t, b, KindData).Body(), nil); !errors.Is(err, ErrTrailingBytes) {
		t.Fatalf("trailing: %v", err)
	}
}

func TestLogRoundTrip(t *testing.T) {
	m := LogBatch{Origin: NodeID{9}, Stream: []byte("conn"), Codec: CodecZstd, Records: 400, Seq: 77, RawLen: 12345, Payload: []byte("compressed")}
	f := scanOne(t, AppendLogBatch(nil, Header{}, []byte("weir/logs/conn"), m), KindLogBatch)
	got, err := DecodeLogBatch(f.Body())
	if err != nil || got.Origin != m.Origin || string(got.Stream) != "conn" || got.Codec != CodecZstd || got.Records != 400 ||
		got.Seq != 77 || got.RawLen != 12345 || string(got.Payload) != "compressed" {
		t.Fatalf("batch %+v %v", got, err)
	}
	m.Codec = CodecNone
	if _, err := DecodeLogBatch(scanOne(t, AppendLogBatch(nil, Header{}, nil, m), KindLogBatch).Body()); !errors.Is(err, ErrBadValue) {
		t.Fatalf("raw len mismatch: %v", err)
	}
	m.Codec = 5
	if _, err := DecodeLogBatch(scanOne(t, AppendLogBatch(nil, Header{}, nil, m), KindLogBatch).Body()); !errors.Is(err, ErrBadValue) {
		t.Fatalf("codec: %v", err)
	}
	f = scanOne(t, AppendLogAck(nil, LogAck{Stream: []byte("conn"), Seq: 77, Status: CodeCorrupt}), KindLogAck)
	a, err := DecodeLogAck(f.Body())
	if err != nil || string(a.Stream) != "conn" || a.Seq != 77 || a.Status != CodeCorrupt {
		t.Fatalf("ack %+v %v", a, err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	f := scanOne(t, AppendStoreCmd(nil, Header{}, []byte("weir/store/s"), "s", OpAdd, 5, NewString("k"), NewCount(3), 1e9), KindStoreCmd)
	c, err := DecodeStoreCmd(f.Body(), nil)
	if err != nil || string(c.Store) != "s" || c.Op != OpAdd || c.Seq != 5 || string(c.Key.Bytes()) != "k" || c.Value.Count() != 3 || c.Expiry != 1e9 {
		t.Fatalf("cmd %+v %v", c, err)
	}
	for _, bad := range []struct {
		op  StoreOp
		exp int64
	}{{0, 0}, {99, 0}, {OpPut, -1}} {
		b := AppendStoreCmd(nil, Header{}, nil, "s", bad.op, 1, None, None, bad.exp)
		if _, err := DecodeStoreCmd(scanOne(t, b, KindStoreCmd).Body(), nil); !errors.Is(err, ErrBadValue) {
			t.Errorf("op %d exp %d: %v", bad.op, bad.exp, err)
		}
	}
	f = scanOne(t, AppendStoreAck(nil, nil, "s", 9, NewBool(true)), KindStoreAck)
	a, err := DecodeStoreAck(f.Body(), nil)
	if err != nil || string(a.Store) != "s" || a.Seq != 9 || !a.Result.Bool() {
		t.Fatalf("ack %+v %v", a, err)
	}
	f = scanOne(t, AppendStoreNack(nil, nil, StoreNack{Store: []byte("s"), First: 3, Last: 8}), KindStoreNack)
	n, err := DecodeStoreNack(f.Body())
	if err != nil || n.First != 3 || n.Last != 8 || n.Code != CodeOK {
		t.Fatalf("nack %+v %v", n, err)
	}
	if _, err := DecodeStoreNack(scanOne(t, AppendStoreNack(nil, nil, StoreNack{First: 9, Last: 8}), KindStoreNack).Body()); !errors.Is(err, ErrBadValue) {
		t.Fatalf("nack range: %v", err)
	}
	entries := []SnapshotEntry{{NewString("a"), NewCount(1), 0}, {NewString("b"), NewSet(NewInt(2)), 5e9}}
	f = scanOne(t, AppendStoreSnapshot(nil, nil, "s", 42, true, entries), KindStoreSnapshot)
	s, err := DecodeStoreSnapshot(f.Body(), nil)
	if err != nil || s.Seq != 42 || !s.Final || s.Count != 2 {
		t.Fatalf("snapshot %+v %v", s, err)
	}
	var got []SnapshotEntry
	for it := range s.Entries {
		got = append(got, SnapshotEntry{it.Key.Value(), it.Value.Value(), it.Expiry})
	}
	if !slices.EqualFunc(got, entries, func(a, b SnapshotEntry) bool {
		return Equal(a.Key, b.Key) && Equal(a.Value, b.Value) && a.Expiry == b.Expiry
	}) {
		t.Fatalf("entries %v", got)
	}
}

func TestStoreAnswersRoundTrip(t *testing.T) {
	results := []Value{None, NewBool(true), NewString("v"), NewCount(7)}
	var ents []byte
	for _, v := range results {
		ents = AppendAnswerEntry(ents, v)
	}
	f := scanOne(t, AppendStoreAnswers(nil, []byte("weir/store/s/r/x"), "s", 41, len(results), ents), KindStoreSnapshot)
	a, err := DecodeStoreAnswers(f.Body(), nil)
	if err != nil || string(a.Store) != "s" || a.First != 41 || a.Count != len(results) {
		t.Fatalf("answers %+v %v", a, err)
	}
	var got []Value
	for i, v := range a.Results {
		if i != len(got) {
			t.Fatalf("index %d at %d", i, len(got))
		}
		got = append(got, v.Value())
	}
	if !slices.EqualFunc(got, results, Equal) {
		t.Fatalf("results %v", got)
	}
	// A snapshot chunk is not an answers message, nor is an empty or
	// final one, or one whose ids would wrap.
	for name, b := range map[string][]byte{
		"keyed":   AppendStoreSnapshot(nil, nil, "s", 1, false, []SnapshotEntry{{NewString("k"), None, 0}}),
		"expiry":  AppendStoreSnapshot(nil, nil, "s", 1, false, []SnapshotEntry{{None, None, 5}}),
		"final":   AppendStoreSnapshot(nil, nil, "s", 1, true, []SnapshotEntry{{None, None, 0}}),
		"empty":   AppendStoreAnswers(nil, nil, "s", 1, 0, nil),
		"id zero": AppendStoreAnswers(nil, nil, "s", 0, 1, AppendAnswerEntry(nil, None)),
		"wraps":   AppendStoreAnswers(nil, nil, "s", math.MaxUint64, 2, AppendAnswerEntry(AppendAnswerEntry(nil, None), None)),
	} {
		if _, err := DecodeStoreAnswers(scanOne(t, b, KindStoreSnapshot).Body(), nil); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestControlRoundTrip(t *testing.T) {
	for _, k := range []Kind{KindPing, KindPong} {
		f := scanOne(t, AppendPing(nil, k, Ping{Token: 3, Time: -4}), k)
		p, err := DecodePing(f.Body())
		if err != nil || p.Token != 3 || p.Time != -4 {
			t.Fatalf("%v %+v %v", k, p, err)
		}
	}
	for _, k := range []Kind{KindBye, KindError} {
		f := scanOne(t, AppendReason(nil, k, CodeVersion, "no common version"), k)
		r, err := DecodeReason(f.Body())
		if err != nil || r.Code != CodeVersion || string(r.Text) != "no common version" {
			t.Fatalf("%v %+v %v", k, r, err)
		}
	}
	long := make([]byte, MaxTextLen+10)
	f := scanOne(t, AppendReason(nil, KindError, CodeLimit, string(long)), KindError)
	if r, err := DecodeReason(f.Body()); err != nil || len(r.Text) != MaxTextLen {
		t.Fatalf("long text: %d %v", len(r.Text), err)
	}
}

func TestStringers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{KindLogBatch.String(), "log-batch"}, {Kind(0).String(), "kind(0)"}, {TypeEnum.String(), "enum-value"},
		{RoleProxy.String(), "proxy"}, {CodecS2.String(), "s2"}, {OpPutUnique.String(), "put_unique"},
		{CodeAuth.String(), "auth"}, {ProtoUDP.String(), "udp"},
	} {
		if c.got != c.want {
			t.Errorf("got %q want %q", c.got, c.want)
		}
	}
	if r, ok := ParseRole("worker"); !ok || r != RoleWorker {
		t.Error("ParseRole")
	}
}
