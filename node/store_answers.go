package node

import (
	"github.com/weirio/weir/frame"
)

// A master answers the requests of a turn per requester: the successful
// answers to one node's consecutive requests go out as one answers frame
// (frame.StoreAnswers, docs/PROTOCOL.md §5.6.1) instead of one store-ack
// each, which saves the requester a frame's dispatch per answer and both
// sides most of the bytes. A failed request's store-nack, a gap in the
// ids or the frame's byte bound ends a run; a run of one goes out as a
// store-ack. Each node's answers keep their order.

// answerRun is the open run of one requester within a turn.
type answerRun struct {
	reply       string
	first, next uint64      // the run's ids: first..next-1
	n           int         // answers in the run
	one         frame.Value // the first answer (a run of one is a store-ack)
	ents        []byte      // the run's entries (frame.AppendAnswerEntry)
}

// keptAnswerRuns bounds the runs, and so the entry buffers, a master keeps
// from one turn to the next.
const keptAnswerRuns = 16

// runFor returns reply's open run, creating it if create is set (else nil
// when there is none).
func (sm *storeMaster) runFor(reply string, create bool) *answerRun {
	if sm.lastRun < len(sm.runs) && sm.runs[sm.lastRun].reply == reply {
		return &sm.runs[sm.lastRun]
	}
	i, ok := sm.runIndex[reply]
	if !ok {
		if !create {
			return nil
		}
		i = len(sm.runs)
		if i < cap(sm.runs) {
			sm.runs = sm.runs[:i+1]
		} else {
			sm.runs = append(sm.runs, answerRun{})
		}
		r := &sm.runs[i]
		r.reply, r.n = reply, 0
		sm.runIndex[reply] = i
	}
	sm.lastRun = i
	return &sm.runs[i]
}

// batchAnswer adds the successful answer v to request id of reply's node.
//
// Hot path: no allocation once the run's buffer has grown.
func (sm *storeMaster) batchAnswer(reply string, id uint64, v frame.Value) {
	r := sm.runFor(reply, true)
	if r.n > 0 && id != r.next {
		sm.flushRun(r)
	}
	start := len(r.ents)
	r.ents = frame.AppendAnswerEntry(r.ents, v)
	if r.n > 0 && len(r.ents) > sm.answerBytes {
		// Send the run without this answer, which starts the next one.
		ents := r.ents
		r.ents = ents[:start]
		sm.flushRun(r)
		r.ents = ents[:copy(ents, ents[start:])]
	}
	if r.n == 0 {
		r.first, r.one = id, v
	}
	r.n++
	r.next = id + 1
}

// flushRunOf sends reply's open run, if any: before a store-nack to that
// node, which must follow the answers to its earlier requests.
func (sm *storeMaster) flushRunOf(reply string) {
	if r := sm.runFor(reply, false); r != nil {
		sm.flushRun(r)
	}
}

// flushRun sends r's answers and empties it.
func (sm *storeMaster) flushRun(r *answerRun) {
	switch {
	case r.n == 1:
		sm.answer(r.reply, r.first, r.one)
	case r.n > 1:
		_ = sm.s.n.publish(r.reply, nil, func(dst []byte, h frame.Header) []byte {
			return frame.AppendStoreAnswers(dst, unsafeBytes(r.reply), sm.s.name, r.first, r.n, r.ents)
		})
	}
	r.n, r.one, r.ents = 0, frame.None, r.ents[:0]
}

// flushRuns sends every open run at the end of a turn's answers.
func (sm *storeMaster) flushRuns() {
	for i := range sm.runs {
		sm.flushRun(&sm.runs[i])
	}
	clear(sm.runIndex)
	if len(sm.runs) > keptAnswerRuns {
		sm.runs = append([]answerRun(nil), sm.runs[:keptAnswerRuns]...)
	}
	for i := range sm.runs {
		sm.runs[i].reply = ""
	}
	sm.runs, sm.lastRun = sm.runs[:0], 0
}
