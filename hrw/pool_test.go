package hrw

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestBadInput(t *testing.T) {
	ok := Member{Name: "a", Weight: 1, Alive: true}
	for _, tc := range []struct {
		name    string
		members []Member
		want    error
	}{
		{"empty name", []Member{{Name: "", Weight: 1}}, ErrEmptyName},
		{"duplicate in call", []Member{ok, ok}, ErrDuplicateName},
		{"zero weight", []Member{{Name: "b", Weight: 0}}, ErrBadWeight},
		{"negative weight", []Member{{Name: "b", Weight: -1}}, ErrBadWeight},
		{"NaN weight", []Member{{Name: "b", Weight: math.NaN()}}, ErrBadWeight},
		{"+Inf weight", []Member{{Name: "b", Weight: math.Inf(1)}}, ErrBadWeight},
		{"-Inf weight", []Member{{Name: "b", Weight: math.Inf(-1)}}, ErrBadWeight},
		{"weight too small", []Member{{Name: "b", Weight: MinWeight / 2}}, ErrBadWeight},
		{"weight too large", []Member{{Name: "b", Weight: MaxWeight * 2}}, ErrBadWeight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.members...)
			if !errors.Is(err, tc.want) || p != nil {
				t.Fatalf("New: got %v, %v; want nil, %v", p, err, tc.want)
			}
			// Add is all-or-nothing: the valid member before the bad one is
			// not added either.
			q := mustNew(t, Member{Name: "x", Weight: 1, Alive: true})
			err = q.Add(append([]Member{{Name: "y", Weight: 1, Alive: true}}, tc.members...)...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add: got %v, want %v", err, tc.want)
			}
			if got := len(q.Members()); got != 1 {
				t.Fatalf("after failed Add: %d members, want 1", got)
			}
		})
	}

	p := mustNew(t, ok)
	if err := p.Add(ok); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("Add existing: got %v, want ErrDuplicateName", err)
	}
	if err := p.Remove("a", "nope"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("Remove unknown: got %v, want ErrUnknownMember", err)
	}
	if len(p.Members()) != 1 {
		t.Errorf("failed Remove removed a member")
	}
	if err := p.SetAlive("nope", true); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("SetAlive unknown: got %v, want ErrUnknownMember", err)
	}
	// The boundary weights themselves are valid.
	if err := p.Add(Member{Name: "min", Weight: MinWeight}, Member{Name: "max", Weight: MaxWeight}); err != nil {
		t.Errorf("boundary weights: %v", err)
	}
}

func TestEmptyAndDeadPools(t *testing.T) {
	var zero Pool // the zero value is an empty pool
	key := []byte("k")
	dst := make([]Member, 1, 4)
	check := func(name string, p *Pool) {
		t.Helper()
		if m, ok := p.Pick(key); ok {
			t.Errorf("%s: Pick = %v, true; want false", name, m)
		}
		if _, ok := p.PickString("k"); ok {
			t.Errorf("%s: PickString ok", name)
		}
		if got := p.PickN(dst, key, 3); len(got) != 1 {
			t.Errorf("%s: PickN appended %d members", name, len(got)-1)
		}
	}
	check("zero Pool", &zero)
	check("New()", mustNew(t))

	p := mustNew(t, Member{Name: "a", Weight: 1}, Member{Name: "b", Weight: 2})
	check("all dead", p)
	if err := p.SetAlive("b", true); err != nil {
		t.Fatal(err)
	}
	if m, ok := p.Pick(key); !ok || m.Name != "b" {
		t.Fatalf("Pick = %v, %v; want b", m, ok)
	}
	if err := p.Remove("b"); err != nil {
		t.Fatal(err)
	}
	check("remaining member dead", p)

	if err := zero.Add(Member{Name: "z", Weight: 1, Alive: true}); err != nil {
		t.Fatal(err)
	}
	if m, ok := zero.Pick(key); !ok || m.Name != "z" {
		t.Fatalf("zero Pool after Add: Pick = %v, %v", m, ok)
	}
}

func TestMembers(t *testing.T) {
	p := mustNew(t,
		Member{Name: "c", Weight: 3, Alive: true},
		Member{Name: "a", Weight: 1, Alive: true},
		Member{Name: "b", Weight: 2},
	)
	if err := p.SetAlive("a", false); err != nil {
		t.Fatal(err)
	}
	if err := p.SetAlive("a", false); err != nil { // no change, no error
		t.Fatal(err)
	}
	want := []Member{{"a", 1, false}, {"b", 2, false}, {"c", 3, true}}
	got := p.Members()
	if !slices.Equal(got, want) {
		t.Fatalf("Members = %v, want %v", got, want)
	}
	got[0].Name = "mutated" // a copy
	if p.Members()[0].Name != "a" {
		t.Fatal("Members returned the pool's own slice")
	}
	if m, _ := p.Pick([]byte("x")); m != want[2] {
		t.Fatalf("Pick = %v, want %v", m, want[2])
	}
}

func TestPickStringEqualsPick(t *testing.T) {
	for _, p := range []*Pool{mustNew(t, live(7, 1)...), mustNew(t, live(7, 1, 2.5, 4)...)} {
		var a, b []Member
		for _, k := range testKeys(2000) {
			m1, _ := p.Pick(k)
			m2, _ := p.PickString(string(k))
			if m1 != m2 {
				t.Fatalf("key %s: Pick %v, PickString %v", k, m1, m2)
			}
			a = p.PickN(a[:0], k, 4)
			b = p.PickNString(b[:0], string(k), 4)
			if !slices.Equal(a, b) {
				t.Fatalf("key %s: PickN %v, PickNString %v", k, a, b)
			}
		}
	}
}
