package frame

import (
	"net/netip"
	"testing"
	"time"
)

var (
	testTime   = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	benchTopic = []byte("zeek/cluster/worker/conn")
	payload64  = make([]byte, 64)
	sinkInt    int
	sinkBytes  []byte
)

func eventArgs() []Value {
	return []Value{
		NewCount(42), NewString("CHhAvVGS1DHFjwGM9"), NewAddr(netip.MustParseAddr("192.168.1.10")),
		NewPort(Port{443, ProtoTCP}), NewTimespan(1500 * time.Millisecond),
	}
}

// scanStream holds 64 back-to-back 64-byte data frames.
func scanStream() []byte {
	var b []byte
	for i := 0; i < 64; i++ {
		b = AppendDataString(b, Header{}, benchTopic, payload64)
	}
	return b
}

// scanAll scans every frame of b, reading header and topic as a relay does.
func scanAll(b []byte) int {
	n := 0
	for len(b) > 0 {
		f, _, err := Scan(b, nil)
		if err != nil || f.Len() == 0 {
			panic("bad stream")
		}
		n += len(f.Topic())
		b = b[f.Len():]
	}
	return n
}

// BenchmarkScan: one op is one frame's header + topic scanned from a
// stream.
func BenchmarkScan(b *testing.B) {
	stream := scanStream()
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		sinkInt += scanAll(stream)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/frame")
}

// BenchmarkEncodeData64: a data frame carrying a 64-byte payload.
func BenchmarkEncodeData64(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDataString(buf[:0], Header{}, benchTopic, payload64)
	}
	b.SetBytes(int64(len(buf)))
	sinkBytes = buf
}

// BenchmarkEncodeData64Value: the same through the Value API.
func BenchmarkEncodeData64Value(b *testing.B) {
	buf := make([]byte, 0, 256)
	v := NewString(string(payload64))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendData(buf[:0], Header{}, benchTopic, v)
	}
	sinkBytes = buf
}

// BenchmarkDecodeEvent5: validate an event with five mixed arguments and
// read every argument.
func BenchmarkDecodeEvent5(b *testing.B) {
	fr := AppendEvent(nil, Header{}, benchTopic, "Conn::new_connection", eventArgs(), None)
	f, _, _ := Scan(fr, nil)
	body := f.Body()
	b.ReportAllocs()
	b.SetBytes(int64(len(fr)))
	for b.Loop() {
		sinkInt += decodeEventArgs(body)
	}
}

func decodeEventArgs(body []byte) int {
	ev, err := DecodeEvent(body, nil)
	if err != nil {
		panic(err)
	}
	n := len(ev.Name)
	it := ev.Args.Iter()
	for a, ok := it.Next(); ok; a, ok = it.Next() {
		switch a.Type() {
		case TypeCount:
			n += int(a.Count())
		case TypeString:
			n += len(a.Bytes())
		case TypeAddress:
			n += a.Addr().BitLen()
		case TypePort:
			n += int(a.Port().Number)
		case TypeTimespan:
			n += int(a.Duration())
		}
	}
	return n
}

func BenchmarkEncodeEvent5(b *testing.B) {
	args := eventArgs()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], Header{}, benchTopic, "Conn::new_connection", args, None)
	}
	sinkBytes = buf
}

// TestHotPathsAllocFree asserts the zero-allocation claims of the hot paths.
func TestHotPathsAllocFree(t *testing.T) {
	stream := scanStream()
	buf := make([]byte, 0, 256)
	args := eventArgs()
	fr := AppendEvent(nil, Header{}, benchTopic, "Conn::new_connection", args, None)
	f, _, _ := Scan(fr, nil)
	body := f.Body()
	for name, fn := range map[string]func(){
		"scan":         func() { sinkInt += scanAll(stream) },
		"encode-data":  func() { buf = AppendDataString(buf[:0], Header{}, benchTopic, payload64) },
		"encode-event": func() { buf = AppendEvent(buf[:0], Header{}, benchTopic, "e", args, None) },
		"decode-event": func() { sinkInt += decodeEventArgs(body) },
	} {
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, a)
		}
	}
}

// BenchmarkStoreAnswers: a master's answers message for 256 puts (result
// none) built and a requester's decode of it, per answer. Both sides are
// on a store's request path: no allocation.
func BenchmarkStoreAnswers(b *testing.B) {
	const n = 256
	topic := []byte("weir/store/bench/r/0123456789abcdef")
	var ents, buf []byte
	for range n {
		ents = AppendAnswerEntry(ents, None)
	}
	buf = AppendStoreAnswers(nil, topic, "bench", 1, n, ents)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		ents = ents[:0]
		for range n {
			ents = AppendAnswerEntry(ents, None)
		}
		buf = AppendStoreAnswers(buf[:0], topic, "bench", 1, n, ents)
		f, _, err := Scan(buf, nil)
		if err != nil {
			b.Fatal(err)
		}
		m, err := DecodeStoreAnswers(f.Body(), nil)
		if err != nil {
			b.Fatal(err)
		}
		for j, v := range m.Results {
			sinkInt += j + int(v.Type())
		}
	}
	sinkBytes = buf
}
