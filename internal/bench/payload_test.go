package bench

import (
	"errors"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		p    Payload
		size int
	}{
		{Payload{Kind: KindData, Pub: 0, Seq: 0, SentNs: 0}, PayloadHeaderSize},
		{Payload{Kind: KindData, Pub: 7, Seq: 1<<40 + 3, SentNs: 1_700_000_000_123_456_789}, 64},
		{Payload{Kind: KindProbe, Pub: 1<<32 - 1, Seq: 1<<64 - 1, SentNs: -5}, 1024},
		{Payload{Kind: KindAck, Sub: 63, Pub: 2, Seq: 4096}, 24},
	} {
		b := AppendPayload([]byte("prefix"), tc.p, tc.size)
		if len(b) != len("prefix")+tc.size {
			t.Fatalf("%+v: appended %d bytes, want %d", tc.p, len(b)-len("prefix"), tc.size)
		}
		got, err := DecodePayload(b[len("prefix"):])
		if err != nil || got != tc.p {
			t.Fatalf("decode(%+v) = %+v, %v", tc.p, got, err)
		}
	}
}

func TestPutPayloadRewritesOnlyTheHeader(t *testing.T) {
	b := AppendPayload(nil, Payload{Kind: KindData}, 40)
	tail := string(b[PayloadHeaderSize:])
	PutPayload(b, Payload{Kind: KindProbe, Pub: 3, Seq: 9, SentNs: 11})
	if string(b[PayloadHeaderSize:]) != tail {
		t.Fatal("PutPayload changed the filler")
	}
	if p, err := DecodePayload(b); err != nil || p != (Payload{Kind: KindProbe, Pub: 3, Seq: 9, SentNs: 11}) {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	good := AppendPayload(nil, Payload{Kind: KindData, Pub: 1, Seq: 2, SentNs: 3}, 32)
	mutate := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":        {nil, ErrShortPayload},
		"short":        {good[:PayloadHeaderSize-1], ErrShortPayload},
		"magic":        {mutate(0, 'x'), ErrBadPayload},
		"kind zero":    {mutate(1, 0), ErrBadPayload},
		"kind unknown": {mutate(1, 4), ErrBadPayload},
		"sub on data":  {mutate(3, 1), ErrBadPayload},
	} {
		if _, err := DecodePayload(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
}

func TestPayloadCodecAllocs(t *testing.T) {
	b := AppendPayload(nil, Payload{Kind: KindData}, 64)
	n := testing.AllocsPerRun(100, func() {
		PutPayload(b, Payload{Kind: KindData, Pub: 1, Seq: 2, SentNs: 3})
		if _, err := DecodePayload(b); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs per put+decode, want 0", n)
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add(AppendPayload(nil, Payload{Kind: KindData, Pub: 1, Seq: 2, SentNs: 3}, 24))
	f.Add([]byte{0xB5, 2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePayload(b)
		if err != nil {
			return
		}
		again := AppendPayload(nil, p, len(b))
		if string(again[:PayloadHeaderSize]) != string(b[:PayloadHeaderSize]) {
			t.Fatalf("header %x re-encodes as %x", b[:PayloadHeaderSize], again[:PayloadHeaderSize])
		}
	})
}

func BenchmarkPayloadPutDecode(b *testing.B) {
	buf := AppendPayload(nil, Payload{Kind: KindData}, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var sink uint64
	for i := range b.N {
		PutPayload(buf, Payload{Kind: KindData, Pub: 1, Seq: uint64(i), SentNs: int64(i)})
		p, _ := DecodePayload(buf)
		sink += p.Seq
	}
	_ = sink
}
