package frame

import (
	"bytes"
	"testing"
)

// The fuzz targets check two things: no input makes a decoder panic (or
// loop), and whatever decodes re-encodes to exactly the same bytes — the
// encoding is canonical, so a decoder that accepts something the encoder
// would never write is a bug. Seeds live in testdata/fuzz/<Target>/ and run
// in the normal test command.

// FuzzScan feeds a byte stream to the scanner, then decodes each frame's
// body by its kind, as a connection would.
func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		lim := &Limits{MaxFrame: 1 << 16, MaxTopic: 1024, MaxDepth: 8}
		for len(stream) > 0 {
			fr, need, err := Scan(stream, lim)
			if err != nil {
				return
			}
			if need > 0 {
				if need > lim.MaxFrame {
					t.Fatalf("need %d beyond the frame limit", need)
				}
				return
			}
			if fr.Len() < HeaderSize || fr.Len() > len(stream) || len(fr.Topic()) > lim.MaxTopic {
				t.Fatalf("bad frame view: len %d of %d", fr.Len(), len(stream))
			}
			decodeBody(t, fr, lim)
			stream = stream[fr.Len():]
		}
	})
}

// decodeBody decodes a frame's body by kind and checks the re-encoding.
func decodeBody(t *testing.T, fr Frame, lim *Limits) {
	h := Header{TTL: fr.TTL()}
	if o, s, ok := fr.Stamp(); ok {
		h.Stamped, h.Origin, h.Seq = true, o, s
	}
	body, topic := fr.Body(), fr.Topic()
	var re []byte
	switch fr.Kind() {
	case KindHello:
		m, err := DecodeHello(body, lim)
		if err != nil {
			return
		}
		re = AppendHello(nil, m)
	case KindWelcome:
		m, err := DecodeWelcome(body, lim)
		if err != nil {
			return
		}
		re = AppendWelcome(nil, m)
	case KindAuth:
		p, err := DecodeAuth(body)
		if err != nil {
			return
		}
		re = AppendAuth(nil, p)
	case KindSubscribe:
		m, err := DecodeSubscribe(body)
		if err != nil {
			return
		}
		re = AppendSubscribe(nil, m)
	case KindData:
		v, err := DecodeData(body, lim)
		if err != nil {
			return
		}
		re = AppendData(nil, h, topic, v.Value())
	case KindEvent:
		m, err := DecodeEvent(body, lim)
		if err != nil {
			return
		}
		re = AppendEvent(nil, h, topic, string(m.Name), m.Args.Value().Elems(), m.Meta.Value())
	case KindLogBatch:
		m, err := DecodeLogBatch(body)
		if err != nil {
			return
		}
		re = AppendLogBatch(nil, h, topic, m)
	case KindLogAck:
		m, err := DecodeLogAck(body)
		if err != nil {
			return
		}
		re = AppendLogAck(nil, m)
	case KindStoreCmd:
		m, err := DecodeStoreCmd(body, lim)
		if err != nil {
			return
		}
		re = AppendStoreCmd(nil, h, topic, string(m.Store), m.Op, m.Seq, m.Key.Value(), m.Value.Value(), m.Expiry)
	case KindStoreAck:
		m, err := DecodeStoreAck(body, lim)
		if err != nil {
			return
		}
		re = AppendStoreAck(nil, topic, string(m.Store), m.Seq, m.Result.Value())
	case KindStoreNack:
		m, err := DecodeStoreNack(body)
		if err != nil {
			return
		}
		re = AppendStoreNack(nil, topic, m)
	case KindStoreSnapshot:
		m, err := DecodeStoreSnapshot(body, lim)
		if err != nil {
			return
		}
		var es []SnapshotEntry
		for it := range m.Entries {
			es = append(es, SnapshotEntry{it.Key.Value(), it.Value.Value(), it.Expiry})
		}
		re = AppendStoreSnapshot(nil, topic, string(m.Store), m.Seq, m.Final, es)
		if a, err := DecodeStoreAnswers(body, lim); err == nil {
			// An answers message re-encodes to the same body too.
			var ents []byte
			n := 0
			for i, v := range a.Results {
				if i != n {
					t.Fatalf("answers: result %d out of order (%d)", i, n)
				}
				ents = AppendAnswerEntry(ents, v.Value())
				n++
			}
			if n != a.Count || a.First != m.Seq {
				t.Fatalf("answers: %d results of %d, first %d of %d", n, a.Count, a.First, m.Seq)
			}
			ra, _, err := Scan(AppendStoreAnswers(nil, topic, string(a.Store), a.First, n, ents), nil)
			if err != nil || !bytes.Equal(ra.Body(), body) {
				t.Fatalf("answers: body not canonical (%v)", err)
			}
		}
	case KindPing, KindPong:
		m, err := DecodePing(body)
		if err != nil {
			return
		}
		re = AppendPing(nil, fr.Kind(), m)
	case KindBye, KindError:
		m, err := DecodeReason(body)
		if err != nil {
			return
		}
		re = AppendReason(nil, fr.Kind(), m.Code, string(m.Text))
	default:
		t.Fatalf("Scan accepted unknown kind %v", fr.Kind())
	}
	// Header.TTL 0 means "default" to encoders, while 0 is a legal wire
	// value (do not relay further): carry the TTL over before comparing.
	SetTTL(re, fr.TTL())
	// Control frames are written with empty topics; compare bodies for
	// them, whole frames for the routed kinds.
	rf, _, err := Scan(re, nil)
	if err != nil {
		t.Fatalf("%v: re-encoding does not scan: %v", fr.Kind(), err)
	}
	if !bytes.Equal(rf.Body(), body) {
		t.Fatalf("%v: body not canonical:\n in  %x\n out %x", fr.Kind(), body, rf.Body())
	}
	switch fr.Kind() {
	case KindData, KindEvent, KindLogBatch, KindStoreCmd:
		if !bytes.Equal(re, fr.Bytes()) {
			t.Fatalf("%v: frame not reproduced:\n in  %x\n out %x", fr.Kind(), fr.Bytes(), re)
		}
	}
}

// FuzzValue: DecodeValue never panics; accepted values re-encode to the
// same bytes; order checks agree.
func FuzzValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := &Limits{MaxDepth: 16}
		v, rest, err := DecodeValue(b, lim)
		if err != nil {
			return
		}
		if len(v.Raw())+len(rest) != len(b) {
			t.Fatalf("lengths: %d + %d != %d", len(v.Raw()), len(rest), len(b))
		}
		val := v.Value()
		if re := AppendValue(nil, val); !bytes.Equal(re, v.Raw()) {
			t.Fatalf("not canonical:\n in  %x\n out %x", v.Raw(), re)
		}
		if CompareViews(v, v) != 0 || Compare(val, val) != 0 {
			t.Fatal("value not equal to itself")
		}
		if len(rest) > 0 {
			if w, _, err := DecodeValue(rest, lim); err == nil && CompareViews(v, w) != Compare(val, w.Value()) {
				t.Fatal("Compare and CompareViews disagree")
			}
		}
	})
}

// fuzzKind builds one frame of the given kind around a fuzzed body and runs
// the same checks as FuzzScan; it is shared by the per-family targets.
func fuzzKind(t *testing.T, kinds []Kind, sel byte, body []byte) {
	k := kinds[int(sel)%len(kinds)]
	b := Begin(nil, Header{Kind: k}, nil)
	b = End(append(b, body...), 0)
	fr, _, err := Scan(b, nil)
	if err != nil {
		t.Fatalf("scan of built frame: %v", err)
	}
	decodeBody(t, fr, &Limits{MaxDepth: 16})
}

// FuzzHandshake targets the hello, welcome and auth decoders.
func FuzzHandshake(f *testing.F) {
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		fuzzKind(t, []Kind{KindHello, KindWelcome, KindAuth}, sel, body)
	})
}

// FuzzSubscribe targets the subscription-update decoder.
func FuzzSubscribe(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) { fuzzKind(t, []Kind{KindSubscribe}, 0, body) })
}

// FuzzEvent targets the data and event decoders.
func FuzzEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		fuzzKind(t, []Kind{KindEvent, KindData}, sel, body)
	})
}

// FuzzLog targets the log-batch and log-ack decoders.
func FuzzLog(f *testing.F) {
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		fuzzKind(t, []Kind{KindLogBatch, KindLogAck}, sel, body)
	})
}

// FuzzStore targets the store command, ack, nack and snapshot decoders.
func FuzzStore(f *testing.F) {
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		fuzzKind(t, []Kind{KindStoreCmd, KindStoreAck, KindStoreNack, KindStoreSnapshot}, sel, body)
	})
}

// FuzzControl targets ping, pong, bye and error.
func FuzzControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		fuzzKind(t, []Kind{KindPing, KindPong, KindBye, KindError}, sel, body)
	})
}
