package kv

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// model is the reference the Store is checked against: a map of in-memory
// Values, with add and subtract written over frame.Value (sorting and
// rebuilding whole containers) rather than over encodings.
type model struct {
	m    map[string]modelEntry
	opts Options
}

type modelEntry struct {
	v  frame.Value
	at int64
}

func newModel(opts Options) *model {
	opts.EnsureDefaults()
	return &model{m: make(map[string]modelEntry), opts: opts}
}

func valueDepth(v frame.Value) int {
	switch v.Type() {
	case frame.TypeSet, frame.TypeVector:
		d := 0
		for _, e := range v.Elems() {
			d = max(d, valueDepth(e))
		}
		return d + 1
	case frame.TypeTable:
		d := 0
		for i := 0; i < v.Len(); i++ {
			e := v.Entry(i)
			d = max(d, valueDepth(e.Key), valueDepth(e.Value))
		}
		return d + 1
	}
	return 0
}

func entries(t frame.Value) []frame.Entry {
	es := make([]frame.Entry, t.Len())
	for i := range es {
		es[i] = t.Entry(i)
	}
	return es
}

// modelAdd is add by the book (see doc.go).
func modelAdd(cur frame.Value, exists bool, op frame.Value) (frame.Value, error) {
	if !exists {
		switch op.Type() {
		case frame.TypeCount, frame.TypeInteger, frame.TypeReal, frame.TypeTimespan,
			frame.TypeString, frame.TypeSet, frame.TypeTable, frame.TypeVector:
			return op, nil
		}
		return frame.None, ErrTypeMismatch
	}
	ct, ot := cur.Type(), op.Type()
	switch {
	case ct == frame.TypeCount && ot == ct:
		return frame.NewCount(cur.Count() + op.Count()), nil
	case ct == frame.TypeInteger && ot == ct:
		return frame.NewInt(cur.Int() + op.Int()), nil
	case ct == frame.TypeReal && ot == ct:
		return frame.NewReal(cur.Real() + op.Real()), nil
	case ct == frame.TypeTimespan && ot == ct:
		return frame.NewTimespan(cur.Duration() + op.Duration()), nil
	case ct == frame.TypeTimestamp && ot == frame.TypeTimespan:
		return frame.NewTimestamp(time.Unix(0, cur.Time().UnixNano()+int64(op.Duration()))), nil
	case ct == frame.TypeString && ot == ct:
		return frame.NewString(cur.Str() + op.Str()), nil
	case ct == frame.TypeSet && ot == ct:
		return frame.NewSet(append(slices.Clone(cur.Elems()), op.Elems()...)...), nil
	case ct == frame.TypeSet:
		return frame.NewSet(append(slices.Clone(cur.Elems()), op)...), nil
	case ct == frame.TypeTable && ot == ct:
		return frame.NewTable(append(entries(cur), entries(op)...)...), nil
	case ct == frame.TypeTable && ot == frame.TypeVector && op.Len() == 2:
		return frame.NewTable(append(entries(cur), frame.Entry{Key: op.Elems()[0], Value: op.Elems()[1]})...), nil
	case ct == frame.TypeVector && ot == ct:
		return frame.NewVector(append(slices.Clone(cur.Elems()), op.Elems()...)...), nil
	case ct == frame.TypeVector:
		return frame.NewVector(append(slices.Clone(cur.Elems()), op)...), nil
	}
	return frame.None, ErrTypeMismatch
}

// modelSubtract is subtract by the book.
func modelSubtract(cur frame.Value, exists bool, op frame.Value) (frame.Value, error) {
	if !exists {
		return frame.None, ErrNotFound
	}
	ct, ot := cur.Type(), op.Type()
	switch {
	case ct == frame.TypeCount && ot == ct:
		return frame.NewCount(cur.Count() - op.Count()), nil
	case ct == frame.TypeInteger && ot == ct:
		return frame.NewInt(cur.Int() - op.Int()), nil
	case ct == frame.TypeReal && ot == ct:
		return frame.NewReal(cur.Real() - op.Real()), nil
	case ct == frame.TypeTimespan && ot == ct:
		return frame.NewTimespan(cur.Duration() - op.Duration()), nil
	case ct == frame.TypeTimestamp && ot == frame.TypeTimespan:
		return frame.NewTimestamp(time.Unix(0, cur.Time().UnixNano()-int64(op.Duration()))), nil
	case ct == frame.TypeSet:
		var keep []frame.Value
		for _, e := range cur.Elems() {
			if (ot == frame.TypeSet && !op.Contains(e)) || (ot != frame.TypeSet && !frame.Equal(e, op)) {
				keep = append(keep, e)
			}
		}
		return frame.NewSet(keep...), nil
	case ct == frame.TypeTable:
		var keep []frame.Entry
		for _, e := range entries(cur) {
			if !frame.Equal(e.Key, op) {
				keep = append(keep, e)
			}
		}
		return frame.NewTable(keep...), nil
	case ct == frame.TypeVector:
		es := cur.Elems()
		if len(es) > 0 {
			es = es[:len(es)-1]
		}
		return frame.NewVector(slices.Clone(es)...), nil
	}
	return frame.None, ErrTypeMismatch
}

// exec is Exec by the book: the expected result, update and error class.
func (m *model) exec(c frame.StoreOp, key, val frame.Value, expiry, now int64) (frame.Value, Update, error) {
	kb := enc(key)
	if c != frame.OpClear && c != frame.OpKeys && len(kb) > m.opts.MaxKeySize {
		return frame.None, Update{}, ErrTooLarge
	}
	at := expireAt(now, expiry)
	cur, ok := m.m[string(kb)]
	put := func(v frame.Value) (frame.Value, Update, error) {
		vb := enc(v)
		if valueDepth(v) > m.opts.MaxDepth {
			return frame.None, Update{}, ErrTooDeep
		}
		if len(vb) > m.opts.MaxValueSize {
			return frame.None, Update{}, ErrTooLarge
		}
		m.m[string(kb)] = modelEntry{v, at}
		return frame.None, Update{Op: frame.OpPut, Key: kb, Value: vb, ExpireAt: at}, nil
	}
	switch c {
	case frame.OpPut:
		return put(val)
	case frame.OpPutUnique:
		if len(enc(val)) > m.opts.MaxValueSize {
			return frame.None, Update{}, ErrTooLarge
		}
		if ok {
			return frame.NewBool(false), Update{}, nil
		}
		_, u, err := put(val)
		return frame.NewBool(true), u, err
	case frame.OpErase:
		if !ok {
			return frame.None, Update{}, nil
		}
		delete(m.m, string(kb))
		return frame.None, Update{Op: frame.OpErase, Key: kb}, nil
	case frame.OpAdd, frame.OpSubtract:
		f := modelAdd
		if c == frame.OpSubtract {
			f = modelSubtract
		}
		v, err := f(cur.v, ok, val)
		if err != nil {
			return frame.None, Update{}, err
		}
		return put(v)
	case frame.OpClear:
		clear(m.m)
		return frame.None, Update{Op: frame.OpClear}, nil
	case frame.OpGet:
		if !ok {
			return frame.None, Update{}, ErrNotFound
		}
		return cur.v, Update{}, nil
	case frame.OpExists:
		return frame.NewBool(ok), Update{}, nil
	case frame.OpKeys:
		var ks []frame.Value
		for k := range m.m {
			v, _, err := frame.DecodeValue([]byte(k), nil)
			if err != nil {
				panic(err)
			}
			ks = append(ks, v.Value())
		}
		return frame.NewSet(ks...), Update{}, nil
	case frame.OpGetIndex:
		if !ok {
			return frame.None, Update{}, ErrNotFound
		}
		switch v := cur.v; v.Type() {
		case frame.TypeTable:
			if x, found := v.Lookup(val); found {
				return x, Update{}, nil
			}
			return frame.None, Update{}, ErrNotFound
		case frame.TypeVector:
			if val.Type() != frame.TypeCount {
				return frame.None, Update{}, ErrTypeMismatch
			}
			if val.Count() >= uint64(v.Len()) {
				return frame.None, Update{}, ErrNotFound
			}
			return v.Elems()[val.Count()], Update{}, nil
		case frame.TypeSet:
			return frame.NewBool(v.Contains(val)), Update{}, nil
		}
		return frame.None, Update{}, ErrTypeMismatch
	}
	return frame.None, Update{}, ErrUnknownOp
}

// expire removes due keys, earliest first and by key bytes on ties.
func (m *model) expire(now int64, limit int) []Update {
	type due struct {
		k  string
		at int64
	}
	var ds []due
	for k, e := range m.m {
		if e.at != 0 && e.at <= now {
			ds = append(ds, due{k, e.at})
		}
	}
	slices.SortFunc(ds, func(a, b due) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.k, b.k)) })
	if limit > 0 && len(ds) > limit {
		ds = ds[:limit]
	}
	ups := make([]Update, len(ds))
	for i, d := range ds {
		delete(m.m, d.k)
		ups[i] = Update{Op: frame.OpExpire, Key: []byte(d.k)}
	}
	return ups
}

func (m *model) contents() map[string]entry {
	c := make(map[string]entry, len(m.m))
	for k, e := range m.m {
		c[k] = entry{enc(e.v), e.at}
	}
	return c
}

// gen draws random keys, values and operands from small domains so that
// keys collide and types match often enough to exercise every rule.
type gen struct{ r *rand.Rand }

func (g gen) scalar() frame.Value {
	switch g.r.IntN(10) {
	case 0, 1, 2:
		return cnt(g.r.Uint64N(4))
	case 3:
		return intv(g.r.Int64N(7) - 3)
	case 4:
		return flt(float64(g.r.IntN(5)) / 2)
	case 5, 6:
		return str(string(rune('a' + g.r.IntN(4))))
	case 7:
		return frame.NewTimespan(time.Duration(g.r.IntN(5)))
	case 8:
		return frame.NewTimestamp(time.Unix(0, int64(g.r.IntN(5))))
	default:
		switch g.r.IntN(3) {
		case 0:
			return frame.NewBool(g.r.IntN(2) == 0)
		case 1:
			return frame.NewAddr(netip.AddrFrom4([4]byte{10, 0, 0, byte(g.r.IntN(3))}))
		}
		return frame.None
	}
}

func (g gen) value(depth int) frame.Value {
	if depth == 0 || g.r.IntN(3) != 0 {
		return g.scalar()
	}
	n := g.r.IntN(4)
	var es []frame.Value
	for range n {
		es = append(es, g.value(depth-1))
	}
	switch g.r.IntN(4) {
	case 0, 1:
		return set(es...)
	case 2:
		// Table keys from a tiny domain, so merges overwrite entries.
		var kv []frame.Value
		for _, e := range es {
			kv = append(kv, str(string(rune('a'+g.r.IntN(3)))), e)
		}
		return table(kv...)
	}
	return vec(es...)
}

func (g gen) key() frame.Value {
	switch g.r.IntN(12) {
	case 0:
		return set(cnt(g.r.Uint64N(2)))
	case 1:
		return frame.None
	}
	return g.scalar()
}

func (g gen) op() frame.StoreOp {
	ops := []frame.StoreOp{
		frame.OpPut, frame.OpPut, frame.OpPutUnique, frame.OpErase,
		frame.OpAdd, frame.OpAdd, frame.OpAdd, frame.OpSubtract, frame.OpSubtract,
		frame.OpGet, frame.OpExists, frame.OpGetIndex, frame.OpGetIndex,
	}
	switch g.r.IntN(150) {
	case 0:
		return frame.OpClear
	case 1:
		return frame.OpKeys
	case 2:
		return []frame.StoreOp{0, frame.OpExpire, frame.OpAttach, frame.OpDetach, 42}[g.r.IntN(5)]
	}
	return ops[g.r.IntN(len(ops))]
}

// runModel drives a Store (and a clone fed its updates) and the model with
// the same random commands, comparing every answer, update and error, and
// the whole contents every few steps. reopen, if set, is called now and
// then to replace the master's backend with a reopened one.
func runModel(t *testing.T, seed uint64, steps int, s *Store, reopen func(*Store) *Store) {
	g := gen{rand.New(rand.NewPCG(seed, 1))}
	opts := Options{MaxKeySize: 48, MaxValueSize: 160, MaxDepth: 2}
	m := newModel(opts)
	clone := newStore(t, NewMemory(), opts)
	now := int64(1000)
	// Group commits come and go on a stream of their own (so the command
	// sequence of a seed stays the same): a group's writes must be visible
	// to the reads inside it.
	gr, grouped := rand.New(rand.NewPCG(seed, 2)), false
	check := func(step int) {
		t.Helper()
		want := m.contents()
		sameContents(t, fmt.Sprintf("step %d master", step), contents(t, s), want)
		sameContents(t, fmt.Sprintf("step %d clone", step), contents(t, clone), want)
		if n, err := s.Len(); err != nil || n != len(want) {
			t.Fatalf("step %d: Len = %d, %v; want %d", step, n, err, len(want))
		}
		var next int64
		for _, e := range m.m {
			if e.at != 0 && (next == 0 || e.at < next) {
				next = e.at
			}
		}
		if at, ok, err := s.NextExpiry(); err != nil || at != next || ok != (next != 0) {
			t.Fatalf("step %d: NextExpiry = %d %v %v, want %d", step, at, ok, err, next)
		}
	}
	for step := range steps {
		if gr.IntN(20) == 0 {
			if grouped {
				if err := s.EndGroup(); err != nil {
					t.Fatalf("step %d: EndGroup: %v", step, err)
				}
			} else {
				s.BeginGroup()
			}
			grouped = !grouped
		}
		now += g.r.Int64N(4)
		if g.r.IntN(8) == 0 {
			limit := g.r.IntN(4)
			got, err := s.Expire(now, limit)
			if err != nil {
				t.Fatal(err)
			}
			want := m.expire(now, limit)
			// Pebble counts the stale index entries it examines against the
			// limit, so it may need more calls to remove as many keys; each
			// call moves past at least one entry, and none may remove a key
			// that is not next in line.
			_, isPebble := s.b.(*Pebble)
			for tries := 0; isPebble && len(got) < len(want) && limit > 0 && tries < 100; tries++ {
				more, err := s.Expire(now, limit-len(got))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, more...)
			}
			if len(got) != len(want) {
				t.Fatalf("step %d: Expire(%d, %d) = %d updates, want %d", step, now, limit, len(got), len(want))
			}
			for i := range got {
				if got[i].Op != frame.OpExpire || !bytes.Equal(got[i].Key, want[i].Key) {
					t.Fatalf("step %d: expire update %d = %s %s, want %s", step, i, got[i].Op, dec(t, got[i].Key), dec(t, want[i].Key))
				}
				if err := clone.ApplyUpdate(got[i]); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		op, key := g.op(), g.key()
		val := g.value(2)
		if op == frame.OpPut && g.r.IntN(20) == 0 {
			val = str(string(bytes.Repeat([]byte("v"), 150+g.r.IntN(20)))) // near MaxValueSize
		}
		if g.r.IntN(40) == 0 {
			key = str(string(bytes.Repeat([]byte("k"), 50))) // over MaxKeySize
		}
		var expiry int64
		if g.r.IntN(2) == 0 {
			expiry = 1 + g.r.Int64N(30)
		}
		cmd := NewCommand(op, key, val, expiry)
		res, upd, err := s.Exec(cmd, now)
		wres, wupd, werr := m.exec(op, key, val, expiry, now)
		what := fmt.Sprintf("step %d: %s %s %s exp %d", step, op, key, val, expiry)
		if (err == nil) != (werr == nil) || (werr != nil && !errors.Is(err, werr)) {
			t.Fatalf("%s: err = %v, want %v", what, err, werr)
		}
		if !frame.Equal(res, wres) {
			t.Fatalf("%s: result = %s, want %s", what, res, wres)
		}
		if upd.Op != wupd.Op || !bytes.Equal(upd.Key, wupd.Key) || !bytes.Equal(upd.Value, wupd.Value) || upd.ExpireAt != wupd.ExpireAt {
			t.Fatalf("%s: update = %+v, want %+v", what, upd, wupd)
		}
		if upd.Op != 0 {
			if err := clone.ApplyUpdate(upd); err != nil {
				t.Fatalf("%s: clone: %v", what, err)
			}
		}
		if step%50 == 0 {
			check(step)
		}
		if reopen != nil && g.r.IntN(150) == 0 {
			if grouped {
				if err := s.EndGroup(); err != nil {
					t.Fatal(err)
				}
				grouped = false
			}
			s = reopen(s)
			check(step)
		}
	}
	if grouped {
		if err := s.EndGroup(); err != nil {
			t.Fatal(err)
		}
	}
	check(steps)
}

func TestModel(t *testing.T) {
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	for _, bk := range backendKinds {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed%d", bk.name, seed), func(t *testing.T) {
				s := newStore(t, bk.open(t), Options{MaxKeySize: 48, MaxValueSize: 160, MaxDepth: 2})
				runModel(t, seed, steps, s, nil)
			})
		}
	}
}
