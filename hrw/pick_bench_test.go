package hrw

import (
	"strconv"
	"testing"
)

var (
	sinkMember  Member
	sinkMembers []Member
)

// benchKeys are short keys like the IP addresses and host names that pools
// partition; the benchmarks cycle through them so the branch predictor does
// not learn one key.
var benchKeys = testKeys(1024)

func benchPick(b *testing.B, members []Member) {
	p := mustNew(b, members...)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkMember, _ = p.Pick(benchKeys[i&1023])
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 16, 64, 256} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) { benchPick(b, live(n, 1)) })
	}
}

func BenchmarkPickWeighted(b *testing.B) {
	b.Run("members=16", func(b *testing.B) { benchPick(b, live(16, 1, 2, 3, 4)) })
}

func BenchmarkPickString(b *testing.B) {
	p := mustNew(b, live(16, 1)...)
	keys := make([]string, len(benchKeys))
	for i, k := range benchKeys {
		keys[i] = string(k)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkMember, _ = p.PickString(keys[i&1023])
	}
}

func BenchmarkPickN(b *testing.B) {
	for name, members := range map[string][]Member{
		"members=16/n=3":          live(16, 1),
		"members=16/n=3/weighted": live(16, 1, 2, 3, 4),
	} {
		b.Run(name, func(b *testing.B) {
			p := mustNew(b, members...)
			dst := make([]Member, 0, 3)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dst = p.PickN(dst[:0], benchKeys[i&1023], 3)
			}
			sinkMembers = dst
		})
	}
}

// BenchmarkSetAlive measures a membership change (copy-on-write of the
// snapshot); it is not a hot path, but its cost bounds how fast a pool can
// follow a flapping node.
func BenchmarkSetAlive(b *testing.B) {
	p := mustNew(b, live(16, 1)...)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.SetAlive("m03", i%2 == 0); err != nil {
			b.Fatal(err)
		}
	}
}
