package hrw_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/weirio/weir/hrw"
)

func Example() {
	pool, err := hrw.New(
		hrw.Member{Name: "proxy-1", Weight: 1, Alive: true},
		hrw.Member{Name: "proxy-2", Weight: 1, Alive: true},
		hrw.Member{Name: "proxy-3", Weight: 1, Alive: true},
	)
	if err != nil {
		panic(err)
	}
	// Every node with the same members picks the same owner for a key.
	m, ok := pool.PickString("10.0.0.1")
	fmt.Println(m.Name, ok)
	// Output: proxy-1 true
}

func ExamplePool_SetAlive() {
	pool, _ := hrw.New(
		hrw.Member{Name: "proxy-1", Weight: 1, Alive: true},
		hrw.Member{Name: "proxy-2", Weight: 1, Alive: true},
		hrw.Member{Name: "proxy-3", Weight: 1, Alive: true},
	)
	hosts := []string{"host-1", "host-2", "host-3", "host-4", "host-5", "host-6"}
	show := func() {
		owners := make([]string, len(hosts))
		for i, h := range hosts {
			m, _ := pool.PickString(h)
			owners[i] = m.Name
		}
		fmt.Println(strings.Join(owners, " "))
	}
	show()
	// proxy-2 goes down: only its hosts move, to their next choice.
	_ = pool.SetAlive("proxy-2", false)
	show()
	// It comes back: exactly those hosts return.
	_ = pool.SetAlive("proxy-2", true)
	show()
	// Output:
	// proxy-1 proxy-3 proxy-3 proxy-3 proxy-1 proxy-2
	// proxy-1 proxy-3 proxy-3 proxy-3 proxy-1 proxy-3
	// proxy-1 proxy-3 proxy-3 proxy-3 proxy-1 proxy-2
}

func ExamplePool_PickN() {
	pool, _ := hrw.New(
		hrw.Member{Name: "logger-1", Weight: 1, Alive: true},
		hrw.Member{Name: "logger-2", Weight: 2, Alive: true}, // twice the share
		hrw.Member{Name: "logger-3", Weight: 1, Alive: true},
	)
	// Owner first, then the fallbacks in order; dst is reused, so steady
	// state picks do not allocate.
	dst := make([]hrw.Member, 0, 2)
	for _, stream := range []string{"conn", "dns", "http"} {
		dst = pool.PickNString(dst[:0], stream, 2)
		fmt.Println(stream, dst[0].Name, dst[1].Name)
	}
	// Output:
	// conn logger-2 logger-1
	// dns logger-2 logger-1
	// http logger-2 logger-3
}

func ExampleNew_errors() {
	_, err := hrw.New(hrw.Member{Name: "worker-1", Weight: 0, Alive: true})
	fmt.Println(errors.Is(err, hrw.ErrBadWeight))
	fmt.Println(err)

	pool, _ := hrw.New()
	_, ok := pool.PickString("key") // an empty pool has no owner
	fmt.Println(ok)
	// Output:
	// true
	// cannot add member "worker-1": weight 0: hrw: weight not in [MinWeight, MaxWeight]
	// false
}
