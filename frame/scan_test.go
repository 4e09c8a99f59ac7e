package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestScanIncremental(t *testing.T) {
	fr := AppendDataString(nil, Header{TTL: 7, Stamped: true, Origin: 11, Seq: 12}, []byte("a/topic"), []byte("payload"))
	for i := 0; i < len(fr); i++ {
		f, need, err := Scan(fr[:i], nil)
		if err != nil || f.b != nil {
			t.Fatalf("prefix %d: got frame=%v err=%v", i, f.b != nil, err)
		}
		want := HeaderSize - i
		if i >= HeaderSize {
			want = len(fr) - i
		}
		if need != want {
			t.Fatalf("prefix %d: need %d, want %d", i, need, want)
		}
	}
	stream := append(append([]byte{}, fr...), fr[:5]...)
	f, need, err := Scan(stream, nil)
	if err != nil || need != 0 || f.Len() != len(fr) {
		t.Fatalf("full: len %d need %d err %v", f.Len(), need, err)
	}
	if f.Kind() != KindData || f.TTL() != 7 || string(f.Topic()) != "a/topic" {
		t.Fatalf("header: kind %v ttl %d topic %q", f.Kind(), f.TTL(), f.Topic())
	}
	if o, s, ok := f.Stamp(); !ok || o != 11 || s != 12 {
		t.Fatalf("stamp %d %d %v", o, s, ok)
	}
	v, err := DecodeData(f.Body(), nil)
	if err != nil || string(v.Bytes()) != "payload" {
		t.Fatalf("body %q err %v", v.Bytes(), err)
	}
	SetTTL(stream, 3)
	if f.TTL() != 3 {
		t.Fatalf("SetTTL not in place")
	}
	if !bytes.Equal(f.Body(), fr[len(fr)-len(f.Body()):]) {
		t.Fatalf("SetTTL touched the body")
	}
}

func TestScanUnstamped(t *testing.T) {
	fr := AppendDataString(nil, Header{}, []byte("t"), []byte("x"))
	f, _, err := Scan(fr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.Stamp(); ok {
		t.Fatal("unexpected stamp")
	}
	if f.TTL() != DefaultTTL || string(f.Topic()) != "t" || len(fr) != HeaderSize+1+3 {
		t.Fatalf("ttl %d topic %q len %d", f.TTL(), f.Topic(), len(fr))
	}
}

func TestScanErrors(t *testing.T) {
	good := AppendDataString(nil, Header{}, []byte("topic"), []byte("x"))
	mod := func(f func(b []byte)) []byte {
		b := append([]byte{}, good...)
		f(b)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		lim  *Limits
		want error
	}{
		{"magic", mod(func(b []byte) { b[offMagic] = 'H' }), nil, ErrBadMagic},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), nil, ErrBadMagic},
		{"kind0", mod(func(b []byte) { b[offKind] = 0 }), nil, ErrUnknownKind},
		{"kind99", mod(func(b []byte) { b[offKind] = 99 }), nil, ErrUnknownKind},
		{"flags", mod(func(b []byte) { b[offFlags] = 0x80 }), nil, ErrReserved},
		{"reserved", mod(func(b []byte) { b[offReserved+1] = 1 }), nil, ErrReserved},
		{"too-large", mod(func(b []byte) { binary.LittleEndian.PutUint32(b, DefaultMaxFrame+1) }), nil, ErrFrameTooLarge},
		{"too-large-lim", good, &Limits{MaxFrame: 16, MaxTopic: 100, MaxDepth: 4}, ErrFrameTooLarge},
		{"short", mod(func(b []byte) { binary.LittleEndian.PutUint32(b, HeaderSize+2) }), nil, ErrFrameTooShort},
		{"short-stamp", mod(func(b []byte) { b[offFlags] = byte(FlagStamped) }), nil, ErrFrameTooShort},
		{"topic-lim", good, &Limits{MaxFrame: 1000, MaxTopic: 4, MaxDepth: 4}, ErrTopicTooLong},
	}
	for _, c := range cases {
		_, _, err := Scan(c.in, c.lim)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	var l Limits
	l.EnsureDefaults()
	if err := l.Validate(); err != nil || l.MaxFrame != DefaultMaxFrame || l.MaxTopic != 65535 || l.MaxDepth != 32 {
		t.Fatalf("defaults %+v: %v", l, err)
	}
	for _, bad := range []Limits{
		{MaxFrame: 10, MaxTopic: 1, MaxDepth: 1},
		{MaxFrame: 2 << 30, MaxTopic: 1, MaxDepth: 1},
		{MaxFrame: 1000, MaxTopic: 70000, MaxDepth: 1},
		{MaxFrame: 1000, MaxTopic: 10, MaxDepth: 0},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
