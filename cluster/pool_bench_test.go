package cluster

import (
	"testing"

	"github.com/weirio/weir/frame"
)

var sinkName string

func benchPool(b *testing.B) *Pool {
	l := mustParse(b, bigLayout)
	ps := NewPools(l)
	allAlive(b, ps, l, false)
	return ps.Pool(frame.RoleProxy)
}

func BenchmarkPickHRW(b *testing.B) {
	p := benchPool(b)
	key := []byte("10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		sinkName, _ = p.PickHRW(key)
	}
}

func BenchmarkPickRR(b *testing.B) {
	p := benchPool(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkName, _ = p.PickRR("conn.log")
	}
}
