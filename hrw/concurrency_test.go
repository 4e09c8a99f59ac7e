package hrw

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentPicksAndChanges runs picks on several goroutines while one
// goroutine adds, removes, kills and revives members. Under -race it checks
// the snapshot publication; it also checks that every pick is consistent
// (a known member, distinct members, never "none alive" while the anchors
// are alive).
func TestConcurrentPicksAndChanges(t *testing.T) {
	anchors := []Member{
		{Name: "anchor-0", Weight: 1, Alive: true},
		{Name: "anchor-1", Weight: 1, Alive: true},
		{Name: "anchor-2", Weight: 1, Alive: true},
	}
	p := mustNew(t, anchors...)
	keys := testKeys(512)

	var stop atomic.Bool
	var picks atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	known := func(name string) bool {
		return strings.HasPrefix(name, "anchor-") || strings.HasPrefix(name, "flap-") || strings.HasPrefix(name, "temp-")
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]Member, 0, 5)
			for i := r; !stop.Load(); i++ {
				k := keys[i%len(keys)]
				m, ok := p.Pick(k)
				if !ok || !known(m.Name) || !m.Alive {
					errs <- "Pick returned " + m.Name + " " + strconv.FormatBool(ok)
					return
				}
				dst = p.PickN(dst[:0], k, 5)
				if len(dst) < len(anchors) {
					errs <- "PickN returned fewer members than the anchors"
					return
				}
				for a := range dst {
					for b := range a {
						if dst[a].Name == dst[b].Name {
							errs <- "PickN returned " + dst[a].Name + " twice"
							return
						}
					}
				}
				if r == 0 && i%64 == 0 {
					_ = p.Members()
				}
				picks.Add(1)
			}
		}()
	}

	// Keep changing until the readers have done plenty of picks, so that
	// picks and changes really overlap.
	for i := 0; len(errs) == 0 && (i < 300 || picks.Load() < 20_000); i++ {
		flap := "flap-" + strconv.Itoa(i%4)
		temp := "temp-" + strconv.Itoa(i%5)
		if i < 4 {
			if err := p.Add(Member{Name: flap, Weight: float64(1 + i%3), Alive: true}); err != nil {
				t.Fatal(err)
			}
		} else if err := p.SetAlive(flap, i%2 == 0); err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			if err := p.Add(Member{Name: temp, Weight: 2, Alive: true}); err != nil {
				t.Fatal(err)
			}
		} else if i%3 == 0 {
			if err := p.Remove(temp); err != nil {
				t.Fatal(err)
			}
			if err := p.Add(Member{Name: temp, Weight: 0.5, Alive: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if picks.Load() == 0 {
		t.Fatal("no pick ran during the changes")
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	key := []byte("some-key-1234")
	for name, p := range map[string]*Pool{
		"equal":    mustNew(t, live(16, 1)...),
		"weighted": mustNew(t, live(16, 1, 2, 3, 4)...),
	} {
		dst := make([]Member, 0, 3)
		for fn, f := range map[string]func(){
			"Pick":        func() { _, _ = p.Pick(key) },
			"PickString":  func() { _, _ = p.PickString("some-key-1234") },
			"PickN(3)":    func() { dst = p.PickN(dst[:0], key, 3) },
			"PickNString": func() { dst = p.PickNString(dst[:0], "some-key-1234", 3) },
		} {
			if a := testing.AllocsPerRun(100, f); a != 0 {
				t.Errorf("%s %s: %v allocs per run, want 0", name, fn, a)
			}
		}
	}
}
