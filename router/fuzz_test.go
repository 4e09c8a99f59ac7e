package router

import "testing"

// script decodes fuzz input into router operations, so the fuzzer explores
// operation sequences rather than bytes. Every byte string is a valid
// script; a missing byte reads as 0.
type script struct{ b []byte }

func (s *script) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

// str reads a length (0..maxLen) and that many bytes over a four-letter
// alphabet: small enough that prefixes collide, nest and split edges.
func (s *script) str(maxLen int) string {
	const alphabet = "ab/\xff"
	b := make([]byte, int(s.next())%(maxLen+1))
	for i := range b {
		b[i] = alphabet[s.next()%byte(len(alphabet))]
	}
	return string(b)
}

func (s *script) sub() int { return int(s.next() % 8) }

// FuzzRouter runs an operation script against several routers and the naive
// reference. Opcodes (first byte % 6): 0 subscribe, 1 unsubscribe, 2 batch
// of up to 15 changes, 3 remove subscriber, 4-5 match.
func FuzzRouter(f *testing.F) {
	f.Add([]byte("\x00\x00\x01\x04\x01\x04\x00\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxScript {
			return // long scripts only slow the fuzzer down
		}
		runScript(t, data)
	})
}

// maxScript bounds fuzz inputs: a few hundred operations find what longer
// scripts find, and keep the fuzzer's minimization fast.
const maxScript = 512

func runScript(t testing.TB, data []byte) {
	h := newHarness(t)
	s := &script{b: data}
	var topics []string
	for n := 0; len(s.b) > 0; n++ {
		switch s.next() % 6 {
		case 0:
			h.subscribe(s.str(10), s.sub())
		case 1:
			h.unsubscribe(s.str(10), s.sub())
		case 2:
			cs := make([]Change[int], s.next()%16)
			for i := range cs {
				op := OpSubscribe + Op(s.next()%2)
				cs[i] = Change[int]{Op: op, Prefix: s.str(10), Sub: s.sub()}
			}
			h.apply(cs)
		case 3:
			h.removeSubscriber(s.sub())
		default:
			topic := s.str(12)
			topics = append(topics, topic)
			h.match(topic)
		}
		if n%16 == 0 {
			h.save()
		}
	}
	h.check(topics)
}
