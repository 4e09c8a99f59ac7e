package frame

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestFromGoAndBack(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := []struct {
		in   any
		want Value
		back any
	}{
		{nil, None, nil},
		{true, NewBool(true), true},
		{-3, NewInt(-3), int64(-3)},
		{int8(-3), NewInt(-3), int64(-3)},
		{uint16(7), NewCount(7), uint64(7)},
		{2.5, NewReal(2.5), 2.5},
		{"s", NewString("s"), "s"},
		{[]byte("b"), NewString("b"), "b"},
		{Enum("E"), NewEnum("E"), Enum("E")},
		{netip.MustParseAddr("1.2.3.4"), NewAddr(netip.MustParseAddr("1.2.3.4")), netip.MustParseAddr("1.2.3.4")},
		{netip.MustParsePrefix("10.0.0.0/8"), NewSubnet(netip.MustParsePrefix("10.0.0.0/8")), netip.MustParsePrefix("10.0.0.0/8")},
		{Port{80, ProtoTCP}, NewPort(Port{80, ProtoTCP}), Port{80, ProtoTCP}},
		{ts, NewTimestamp(ts), ts},
		{time.Second, NewTimespan(time.Second), time.Second},
		{[]any{1, "x"}, NewVector(NewInt(1), NewString("x")), []any{int64(1), "x"}},
		{map[string]any{"b": 2, "a": 1}, NewTable(Entry{NewString("a"), NewInt(1)}, Entry{NewString("b"), NewInt(2)}),
			[]TableEntry{{"a", int64(1)}, {"b", int64(2)}}},
	}
	for _, c := range cases {
		got, err := FromGo(c.in)
		if err != nil || !Equal(got, c.want) {
			t.Errorf("FromGo(%#v) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		if back := got.Go(); !reflect.DeepEqual(back, c.back) {
			t.Errorf("%v.Go() = %#v, want %#v", got, back, c.back)
		}
	}
	for _, bad := range []any{struct{}{}, make(chan int), []any{struct{}{}}, netip.Addr{}, Port{1, 9}, map[any]any{1: struct{}{}}} {
		if _, err := FromGo(bad); !errors.Is(err, ErrUnsupportedType) && !errors.Is(err, ErrBadValue) {
			t.Errorf("FromGo(%#v): %v", bad, err)
		}
	}
	// Every random value survives Go() -> FromGo for the types without
	// lossy Go forms (sets become vectors, tables become entry lists).
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		v := randValue(r, 0)
		back, err := FromGo(v.Go())
		if err != nil || !Equal(back, v) {
			t.Fatalf("%v: %v %v", v, back, err)
		}
	}
}
