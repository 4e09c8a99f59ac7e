package kv

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// deepValue returns a value nested d levels deep (a vector in a vector ...).
func deepValue(d int) frame.Value {
	v := cnt(1)
	for i := 0; i < d; i++ {
		v = vec(v)
	}
	return v
}

func TestArith(t *testing.T) {
	const add, sub = frame.OpAdd, frame.OpSubtract
	ts := frame.NewTimestamp(time.Unix(100, 0))
	span := frame.NewTimespan
	a, b, c := str("a"), str("b"), str("c")
	none := frame.None
	val := func(v frame.Value) *frame.Value { return &v }
	cases := []struct {
		name    string
		op      frame.StoreOp
		init    *frame.Value // nil: the key is missing
		operand frame.Value
		want    frame.Value
		err     error
	}{
		{"count", add, val(cnt(2)), cnt(3), cnt(5), nil},
		{"count wraps", add, val(cnt(math.MaxUint64)), cnt(2), cnt(1), nil},
		{"count minus wraps", sub, val(cnt(1)), cnt(2), cnt(math.MaxUint64), nil},
		{"integer", add, val(intv(-2)), intv(5), intv(3), nil},
		{"integer minus", sub, val(intv(-2)), intv(5), intv(-7), nil},
		{"real", add, val(flt(1.5)), flt(2.25), flt(3.75), nil},
		{"real minus", sub, val(flt(1.5)), flt(2.25), flt(-0.75), nil},
		{"timespan", add, val(span(time.Second)), span(2 * time.Second), span(3 * time.Second), nil},
		{"timestamp plus timespan", add, val(ts), span(5 * time.Second), frame.NewTimestamp(time.Unix(105, 0)), nil},
		{"timestamp minus timespan", sub, val(ts), span(5 * time.Second), frame.NewTimestamp(time.Unix(95, 0)), nil},
		{"string append", add, val(str("ab")), str("cd"), str("abcd"), nil},
		{"set insert middle", add, val(set(cnt(1), cnt(3))), cnt(2), set(cnt(1), cnt(2), cnt(3)), nil},
		{"set insert first", add, val(set(cnt(2))), cnt(1), set(cnt(1), cnt(2)), nil},
		{"set insert last", add, val(set(cnt(2))), str("x"), set(cnt(2), str("x")), nil},
		{"set insert present", add, val(set(cnt(1))), cnt(1), set(cnt(1)), nil},
		{"set union", add, val(set(cnt(1), cnt(3))), set(cnt(2), cnt(3), cnt(4)), set(cnt(1), cnt(2), cnt(3), cnt(4)), nil},
		{"set insert a set (wrapped)", add, val(set(set(cnt(1)))), set(set(cnt(2))), set(set(cnt(1)), set(cnt(2))), nil},
		{"set remove", sub, val(set(cnt(1), cnt(2), cnt(3))), cnt(2), set(cnt(1), cnt(3)), nil},
		{"set remove absent", sub, val(set(cnt(1), cnt(3))), cnt(2), set(cnt(1), cnt(3)), nil},
		{"set difference", sub, val(set(cnt(1), cnt(2), cnt(3))), set(cnt(2), cnt(3), cnt(9)), set(cnt(1)), nil},
		{"table entry", add, val(table(a, cnt(1))), vec(b, cnt(2)), table(a, cnt(1), b, cnt(2)), nil},
		{"table entry first", add, val(table(b, cnt(1))), vec(a, cnt(2)), table(a, cnt(2), b, cnt(1)), nil},
		{"table entry overwrites", add, val(table(a, cnt(1), b, cnt(2))), vec(a, cnt(9)), table(a, cnt(9), b, cnt(2)), nil},
		{"table merge", add, val(table(a, cnt(1), c, cnt(3))), table(b, cnt(2), c, cnt(9)), table(a, cnt(1), b, cnt(2), c, cnt(9)), nil},
		{"table short vector", add, val(table()), vec(cnt(1)), none, ErrTypeMismatch},
		{"table scalar", add, val(table()), cnt(1), none, ErrTypeMismatch},
		{"table erase", sub, val(table(a, cnt(1), b, cnt(2))), a, table(b, cnt(2)), nil},
		{"table erase absent", sub, val(table(a, cnt(1))), b, table(a, cnt(1)), nil},
		{"vector push", add, val(vec(cnt(1))), str("x"), vec(cnt(1), str("x")), nil},
		{"vector concat", add, val(vec(cnt(1))), vec(cnt(2), cnt(3)), vec(cnt(1), cnt(2), cnt(3)), nil},
		{"vector pop", sub, val(vec(cnt(1), str("two"))), none, vec(cnt(1)), nil},
		{"vector pop ignores operand", sub, val(vec(cnt(1), cnt(2))), cnt(7), vec(cnt(1)), nil},
		{"vector pop empty", sub, val(vec()), none, vec(), nil},
		{"missing count", add, nil, cnt(4), cnt(4), nil},
		{"missing integer", add, nil, intv(-4), intv(-4), nil},
		{"missing real", add, nil, flt(0.5), flt(0.5), nil},
		{"missing timespan", add, nil, span(3), span(3), nil},
		{"missing string", add, nil, str("x"), str("x"), nil},
		{"missing set", add, nil, set(cnt(1)), set(cnt(1)), nil},
		{"missing table", add, nil, table(a, cnt(1)), table(a, cnt(1)), nil},
		{"missing vector", add, nil, vec(cnt(1)), vec(cnt(1)), nil},
		{"missing bool", add, nil, frame.NewBool(true), none, ErrTypeMismatch},
		{"missing timestamp", add, nil, ts, none, ErrTypeMismatch},
		{"missing none", add, nil, none, none, ErrTypeMismatch},
		{"missing subtract", sub, nil, cnt(1), none, ErrNotFound},
		{"string plus count", add, val(str("a")), cnt(1), none, ErrTypeMismatch},
		{"count plus string", add, val(cnt(1)), str("a"), none, ErrTypeMismatch},
		{"count plus integer", add, val(cnt(1)), intv(1), none, ErrTypeMismatch},
		{"real plus count", add, val(flt(1)), cnt(1), none, ErrTypeMismatch},
		{"string minus string", sub, val(str("ab")), str("b"), none, ErrTypeMismatch},
		{"bool plus bool", add, val(frame.NewBool(false)), frame.NewBool(true), none, ErrTypeMismatch},
		{"timestamp plus timestamp", add, val(ts), ts, none, ErrTypeMismatch},
		{"address plus count", add, val(frame.NewAddr(netip.MustParseAddr("10.0.0.1"))), cnt(1), none, ErrTypeMismatch},
		{"none minus none", sub, val(none), none, none, ErrTypeMismatch},
		{"set insert too deep", add, val(set()), deepValue(frame.DefaultMaxDepth), none, ErrTooDeep},
		{"vector push too deep", add, val(vec()), set(deepValue(frame.DefaultMaxDepth - 1)), none, ErrTooDeep},
		{"vector concat keeps depth", add, val(vec()), deepValue(frame.DefaultMaxDepth), deepValue(frame.DefaultMaxDepth), nil},
		{"table entry too deep", add, val(table()), vec(cnt(1), deepValue(frame.DefaultMaxDepth)), none, ErrTooDeep},
		{"set insert at the depth limit", add, val(set()), deepValue(frame.DefaultMaxDepth - 1), set(deepValue(frame.DefaultMaxDepth - 1)), nil},
	}
	key := str("k")
	for _, bk := range backendKinds {
		for _, tc := range cases {
			t.Run(bk.name+"/"+tc.name, func(t *testing.T) {
				s := newStore(t, bk.open(t), Options{})
				if tc.init != nil {
					mustExec(t, s, NewCommand(frame.OpPut, key, *tc.init, 0), 0)
				}
				before := contents(t, s)
				res, upd, err := s.Exec(NewCommand(tc.op, key, tc.operand, 0), 1)
				if tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					if upd.Op != 0 {
						t.Fatalf("failed command produced update %+v", upd)
					}
					sameContents(t, "after a failed command", contents(t, s), before)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Type() != frame.TypeNone {
					t.Errorf("result = %s, want none", res)
				}
				if upd.Op != frame.OpPut || !bytes.Equal(upd.Key, enc(key)) || !bytes.Equal(upd.Value, enc(tc.want)) {
					t.Fatalf("update = %s %x %s, want put of %s", upd.Op, upd.Key, dec(t, upd.Value), tc.want)
				}
				got, _ := mustExec(t, s, NewCommand(frame.OpGet, key, frame.None, 0), 2)
				if !frame.Equal(got, tc.want) {
					t.Fatalf("stored %s, want %s", got, tc.want)
				}
			})
		}
	}
}

func TestPutUniqueEraseClear(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s := newStore(t, bk.open(t), Options{})
			k := str("k")
			r, u := mustExec(t, s, NewCommand(frame.OpPutUnique, k, cnt(1), 10), 100)
			if !r.Bool() || u.Op != frame.OpPut || u.ExpireAt != 110 {
				t.Fatalf("first put_unique: %s %+v", r, u)
			}
			r, u = mustExec(t, s, NewCommand(frame.OpPutUnique, k, cnt(2), 0), 101)
			if r.Type() != frame.TypeBool || r.Bool() || u.Op != 0 {
				t.Fatalf("second put_unique: %s %+v", r, u)
			}
			if at, ok, _ := s.NextExpiry(); !ok || at != 110 {
				t.Fatalf("failed put_unique touched the expiry: %d %v", at, ok)
			}
			if v, _ := mustExec(t, s, NewCommand(frame.OpGet, k, frame.None, 0), 102); v.Count() != 1 {
				t.Fatalf("failed put_unique overwrote: %s", v)
			}
			if _, u = mustExec(t, s, NewCommand(frame.OpErase, str("missing"), frame.None, 0), 103); u.Op != 0 {
				t.Fatalf("erase of a missing key replicates %+v", u)
			}
			if _, u = mustExec(t, s, NewCommand(frame.OpErase, k, frame.None, 0), 104); u.Op != frame.OpErase || !bytes.Equal(u.Key, enc(k)) {
				t.Fatalf("erase: %+v", u)
			}
			if _, ok, _ := s.NextExpiry(); ok {
				t.Fatal("erase left an expiry behind")
			}
			for i := range 5 {
				mustExec(t, s, NewCommand(frame.OpPut, cnt(uint64(i)), cnt(0), int64(i)), 0)
			}
			if _, u = mustExec(t, s, NewCommand(frame.OpClear, frame.None, frame.None, 0), 0); u.Op != frame.OpClear {
				t.Fatalf("clear: %+v", u)
			}
			if n, _ := s.Len(); n != 0 {
				t.Fatalf("Len after clear = %d", n)
			}
			if _, ok, _ := s.NextExpiry(); ok {
				t.Fatal("clear left expiries behind")
			}
			if ups, _ := s.Expire(math.MaxInt64, 0); len(ups) != 0 {
				t.Fatalf("expired %d keys after clear", len(ups))
			}
		})
	}
}

func TestReads(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s := newStore(t, bk.open(t), Options{})
			tk, vk, sk, ck := str("t"), str("v"), str("s"), str("c")
			mustExec(t, s, NewCommand(frame.OpPut, tk, table(str("a"), cnt(1), str("b"), cnt(2)), 0), 0)
			mustExec(t, s, NewCommand(frame.OpPut, vk, vec(str("x"), str("y")), 0), 0)
			mustExec(t, s, NewCommand(frame.OpPut, sk, set(cnt(1), cnt(5)), 0), 0)
			mustExec(t, s, NewCommand(frame.OpPut, ck, cnt(7), 0), 0)
			type tc struct {
				op       frame.StoreOp
				key, arg frame.Value
				want     frame.Value
				err      error
			}
			for _, c := range []tc{
				{frame.OpGet, ck, frame.None, cnt(7), nil},
				{frame.OpGet, str("nope"), frame.None, frame.None, ErrNotFound},
				{frame.OpExists, ck, frame.None, frame.NewBool(true), nil},
				{frame.OpExists, str("nope"), frame.None, frame.NewBool(false), nil},
				{frame.OpKeys, frame.None, frame.None, set(tk, vk, sk, ck), nil},
				{frame.OpGetIndex, tk, str("b"), cnt(2), nil},
				{frame.OpGetIndex, tk, str("c"), frame.None, ErrNotFound},
				{frame.OpGetIndex, vk, cnt(1), str("y"), nil},
				{frame.OpGetIndex, vk, cnt(2), frame.None, ErrNotFound},
				{frame.OpGetIndex, vk, intv(1), frame.None, ErrTypeMismatch},
				{frame.OpGetIndex, sk, cnt(5), frame.NewBool(true), nil},
				{frame.OpGetIndex, sk, cnt(4), frame.NewBool(false), nil},
				{frame.OpGetIndex, sk, cnt(9), frame.NewBool(false), nil},
				{frame.OpGetIndex, ck, cnt(0), frame.None, ErrTypeMismatch},
				{frame.OpGetIndex, str("nope"), cnt(0), frame.None, ErrNotFound},
			} {
				r, u, err := s.Exec(NewCommand(c.op, c.key, c.arg, 0), 0)
				if !errors.Is(err, c.err) || (err == nil && !frame.Equal(r, c.want)) || u.Op != 0 {
					t.Errorf("%s %s %s = %s, %+v, %v; want %s, %v", c.op, c.key, c.arg, r, u, err, c.want, c.err)
				}
			}
		})
	}
}

func TestBadCommands(t *testing.T) {
	opts := Options{MaxKeySize: 32, MaxValueSize: 64}
	long := str(strings.Repeat("x", 100))
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s := newStore(t, bk.open(t), opts)
			mustExec(t, s, NewCommand(frame.OpPut, str("s"), str(strings.Repeat("y", 50)), 7), 0)
			before := contents(t, s)
			for _, c := range []struct {
				name string
				cmd  Command
				now  int64
				err  error
			}{
				{"op expire", NewCommand(frame.OpExpire, str("s"), frame.None, 0), 0, ErrUnknownOp},
				{"op attach", NewCommand(frame.OpAttach, frame.None, frame.None, 0), 0, ErrUnknownOp},
				{"op detach", NewCommand(frame.OpDetach, frame.None, frame.None, 0), 0, ErrUnknownOp},
				{"op 0", NewCommand(0, str("s"), frame.None, 0), 0, ErrUnknownOp},
				{"op 99", NewCommand(99, str("s"), cnt(1), 0), 0, ErrUnknownOp},
				{"negative expiry", NewCommand(frame.OpPut, str("s"), cnt(1), -1), 0, ErrInvalid},
				{"negative now", NewCommand(frame.OpPut, str("s"), cnt(1), 5), -10, ErrInvalid},
				{"oversized key put", NewCommand(frame.OpPut, long, cnt(1), 0), 0, ErrTooLarge},
				{"oversized key get", NewCommand(frame.OpGet, long, frame.None, 0), 0, ErrTooLarge},
				{"oversized key add", NewCommand(frame.OpAdd, long, cnt(1), 0), 0, ErrTooLarge},
				{"oversized value put", NewCommand(frame.OpPut, str("s"), long, 0), 0, ErrTooLarge},
				{"oversized value put_unique", NewCommand(frame.OpPutUnique, str("t"), long, 0), 0, ErrTooLarge},
				{"append past the limit", NewCommand(frame.OpAdd, str("s"), str(strings.Repeat("z", 20)), 0), 0, ErrTooLarge},
				{"add wrong type", NewCommand(frame.OpAdd, str("s"), cnt(1), 0), 0, ErrTypeMismatch},
				{"subtract wrong type", NewCommand(frame.OpSubtract, str("s"), str("y"), 0), 0, ErrTypeMismatch},
			} {
				r, u, err := s.Exec(c.cmd, c.now)
				if !errors.Is(err, c.err) || u.Op != 0 || r.Type() != frame.TypeNone {
					t.Errorf("%s: %s, %+v, %v; want error %v", c.name, r, u, err, c.err)
				}
				if Code(err) != frame.CodeBadRequest && Code(err) != frame.CodeLimit {
					t.Errorf("%s: Code(%v) = %s", c.name, err, Code(err))
				}
			}
			sameContents(t, "after bad commands", contents(t, s), before)
			if m := s.Metrics(); m.Errors != 15 || m.Commands != 16 || m.Updates != 1 {
				t.Errorf("metrics %+v", m)
			}
		})
	}
}

func TestExpirySemantics(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s := newStore(t, bk.open(t), Options{})
			k, k2 := str("k"), str("k2")
			next := func() int64 {
				t.Helper()
				at, ok, err := s.NextExpiry()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return 0
				}
				return at
			}
			expire := func(now int64) []string {
				t.Helper()
				ups, err := s.Expire(now, 0)
				if err != nil {
					t.Fatal(err)
				}
				var ks []string
				for _, u := range ups {
					if u.Op != frame.OpExpire {
						t.Fatalf("expire update %+v", u)
					}
					ks = append(ks, dec(t, u.Key).Str())
				}
				return ks
			}
			_, u := mustExec(t, s, NewCommand(frame.OpPut, k, cnt(1), 50), 100)
			if u.ExpireAt != 150 || next() != 150 {
				t.Fatalf("put with expiry: update at %d, next %d", u.ExpireAt, next())
			}
			// A mutation with an expiry resets it, relative to its own time.
			_, u = mustExec(t, s, NewCommand(frame.OpAdd, k, cnt(1), 50), 120)
			if u.ExpireAt != 170 || next() != 170 {
				t.Fatalf("add with expiry: update at %d, next %d", u.ExpireAt, next())
			}
			if ks := expire(169); len(ks) != 0 {
				t.Fatalf("expired early: %v", ks)
			}
			// One without an expiry clears it.
			_, u = mustExec(t, s, NewCommand(frame.OpSubtract, k, cnt(1), 0), 130)
			if u.ExpireAt != 0 || next() != 0 {
				t.Fatalf("subtract without expiry: update at %d, next %d", u.ExpireAt, next())
			}
			if ks := expire(1000); len(ks) != 0 {
				t.Fatalf("expired a key without expiry: %v", ks)
			}
			mustExec(t, s, NewCommand(frame.OpPut, k, cnt(1), 10), 1000)
			mustExec(t, s, NewCommand(frame.OpPut, k2, cnt(1), 5), 1000)
			if next() != 1005 {
				t.Fatalf("next = %d, want 1005", next())
			}
			// Due keys stay visible until Expire runs, as in Broker.
			if r, _ := mustExec(t, s, NewCommand(frame.OpExists, k2, frame.None, 0), 2000); !r.Bool() {
				t.Fatal("a due key vanished before Expire")
			}
			if ks := expire(1005); len(ks) != 1 || ks[0] != "k2" {
				t.Fatalf("expire(1005) = %v", ks)
			}
			if ks := expire(1010); len(ks) != 1 || ks[0] != "k" {
				t.Fatalf("expire(1010) = %v", ks)
			}
			if n, _ := s.Len(); n != 0 {
				t.Fatalf("Len = %d after everything expired", n)
			}
			// Expiry times saturate instead of overflowing.
			_, u = mustExec(t, s, NewCommand(frame.OpPut, k, cnt(1), math.MaxInt64), 10)
			if u.ExpireAt != math.MaxInt64 {
				t.Fatalf("saturated expiry = %d", u.ExpireAt)
			}
			if ks := expire(math.MaxInt64 - 1); len(ks) != 0 {
				t.Fatal("expired before the end of time")
			}
			if ks := expire(math.MaxInt64); len(ks) != 1 {
				t.Fatal("did not expire at the end of time")
			}
			// max bounds one call; the rest go in the next, earliest first.
			for i := range 10 {
				mustExec(t, s, NewCommand(frame.OpPut, cnt(uint64(i)), cnt(0), int64(100-i)), 0)
			}
			ups, err := s.Expire(1000, 4)
			if err != nil || len(ups) != 4 || !bytes.Equal(ups[0].Key, enc(cnt(9))) || !bytes.Equal(ups[3].Key, enc(cnt(6))) {
				t.Fatalf("Expire(max 4) = %d updates, %v", len(ups), err)
			}
			if ups, _ = s.Expire(1000, 0); len(ups) != 6 || next() != 0 {
				t.Fatalf("second Expire = %d updates", len(ups))
			}
		})
	}
}

func TestEvents(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			var got []string
			opts := Options{OnEvent: func(e Event) {
				s := e.Kind.String() + " " + dec(t, e.Key).String()
				if e.Value != nil {
					s += " = " + dec(t, e.Value).String()
				}
				if e.Old != nil {
					s += " (was " + dec(t, e.Old).String() + ")"
				}
				if e.ExpireAt != 0 {
					s += " @" + time.Duration(e.ExpireAt).String()
				}
				got = append(got, s)
			}}
			s := newStore(t, bk.open(t), opts)
			k := str("k")
			mustExec(t, s, NewCommand(frame.OpPut, k, cnt(1), 0), 0)
			mustExec(t, s, NewCommand(frame.OpAdd, k, cnt(2), 5), 0)
			mustExec(t, s, NewCommand(frame.OpPutUnique, k, cnt(9), 0), 0) // no event
			mustExec(t, s, NewCommand(frame.OpPutUnique, str("u"), cnt(9), 0), 0)
			mustExec(t, s, NewCommand(frame.OpErase, str("u"), frame.None, 0), 0)
			mustExec(t, s, NewCommand(frame.OpErase, str("u"), frame.None, 0), 0) // no event
			mustExec(t, s, NewCommand(frame.OpGet, k, frame.None, 0), 0)          // no event
			if _, err := s.Expire(10, 0); err != nil {
				t.Fatal(err)
			}
			mustExec(t, s, NewCommand(frame.OpPut, k, cnt(1), 0), 0)
			mustExec(t, s, NewCommand(frame.OpClear, frame.None, frame.None, 0), 0)
			want := []string{
				`insert "k" = 1`,
				`update "k" = 3 (was 1) @5ns`,
				`insert "u" = 9`,
				`erase "u"`,
				`expire "k"`,
				`insert "k" = 1`,
				`erase "k"`,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestApplyUpdate(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s := newStore(t, bk.open(t), Options{MaxDepth: 4})
			k := enc(str("k"))
			for _, c := range []struct {
				name string
				u    Update
				err  error
			}{
				{"no op", Update{Key: k}, ErrUnknownOp},
				{"get", Update{Op: frame.OpGet, Key: k}, ErrUnknownOp},
				{"truncated key", Update{Op: frame.OpPut, Key: k[:2], Value: enc(cnt(1))}, ErrInvalid},
				{"two keys", Update{Op: frame.OpErase, Key: append(enc(cnt(1)), enc(cnt(2))...)}, ErrInvalid},
				{"empty key", Update{Op: frame.OpErase}, ErrInvalid},
				{"bad value", Update{Op: frame.OpPut, Key: k, Value: []byte{99}}, ErrInvalid},
				{"too deep", Update{Op: frame.OpPut, Key: k, Value: enc(deepValue(5))}, ErrInvalid},
				{"negative expiry", Update{Op: frame.OpPut, Key: k, Value: enc(cnt(1)), ExpireAt: -1}, ErrInvalid},
				{"big key", Update{Op: frame.OpErase, Key: enc(str(strings.Repeat("x", 70000)))}, ErrTooLarge},
			} {
				if err := s.ApplyUpdate(c.u); !errors.Is(err, c.err) {
					t.Errorf("%s: %v, want %v", c.name, err, c.err)
				}
			}
			if n, _ := s.Len(); n != 0 {
				t.Fatalf("bad updates stored %d keys", n)
			}
			for _, u := range []Update{
				{Op: frame.OpPut, Key: k, Value: enc(cnt(1)), ExpireAt: 77},
				{Op: frame.OpPut, Key: enc(cnt(2)), Value: enc(cnt(2))},
				{Op: frame.OpExpire, Key: enc(cnt(2))},
				{Op: frame.OpErase, Key: enc(cnt(3))},
			} {
				if err := s.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
			sameContents(t, "clone", contents(t, s), map[string]entry{string(k): {enc(cnt(1)), 77}})
			if err := s.ApplyUpdate(Update{Op: frame.OpClear}); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.Len(); n != 0 {
				t.Fatalf("Len after clear update = %d", n)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	for _, bk := range backendKinds {
		t.Run(bk.name, func(t *testing.T) {
			s, err := New(bk.open(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Exec(NewCommand(frame.OpGet, cnt(1), frame.None, 0), 0); !errors.Is(err, ErrClosed) {
				t.Errorf("Exec after Close: %v", err)
			}
			if _, err := s.Expire(0, 0); !errors.Is(err, ErrClosed) {
				t.Errorf("Expire after Close: %v", err)
			}
			if err := s.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{MaxKeySize: -1}, {MaxValueSize: -1}, {MaxDepth: 1001}} {
		if _, err := New(NewMemory(), o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	var o Options
	o.EnsureDefaults()
	if o.MaxKeySize != DefaultMaxKeySize || o.MaxValueSize != DefaultMaxValueSize || o.MaxDepth != frame.DefaultMaxDepth {
		t.Errorf("defaults %+v", o)
	}
}

// TestAllocs pins the allocation-free paths: overwriting a key and adding
// to a counter in a memory store.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	s := newStore(t, NewMemory(), Options{})
	put := NewCommand(frame.OpPut, str("k"), str("value"), 10)
	add := NewCommand(frame.OpAdd, str("c"), cnt(1), 0)
	mustExec(t, s, put, 0)
	mustExec(t, s, add, 0)
	for _, c := range []Command{put, add} {
		if n := testing.AllocsPerRun(100, func() { s.Exec(c, 1) }); n != 0 {
			t.Errorf("%s: %v allocations per run", c.Op, n)
		}
	}
}
