package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The control protocol between the parent and its role processes: one
// line per message, "VERB [ARG]".
//
//	| direction      | line             | meaning                                        |
//	|----------------|------------------|------------------------------------------------|
//	| child → parent | READY addr       | the node is up: listening on addr ("-": none), |
//	|                |                  | and every --connect peer is established        |
//	| child → parent | LINKED sub       | pub: subscriber sub acknowledged a probe: the  |
//	|                |                  | path works both ways                           |
//	| child → parent | PROGRESS n       | sub: n distinct messages received so far        |
//	| child → parent | RESULT {json}    | the role's outcome (SubResult, PubResult,      |
//	|                |                  | RelayResult)                                   |
//	| child → parent | ERROR text       | the role failed; it exits                      |
//	| parent → child | GO               | pub: stop probing, publish the messages        |
//	| parent → child | STOP             | sub: report now; relay: report                 |
//	| parent → child | (end of input)   | exit                                           |
const (
	lineReady    = "READY"
	lineLinked   = "LINKED"
	lineProgress = "PROGRESS"
	lineResult   = "RESULT"
	lineError    = "ERROR"
	cmdGo        = "GO"
	cmdStop      = "STOP"
)

// maxLine bounds a control line (a RESULT carries an encoded histogram).
const maxLine = 16 << 20

// lineWriter writes control lines; safe for concurrent use.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (lw *lineWriter) send(verb, arg string) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.err != nil {
		return lw.err
	}
	line := verb
	if arg != "" {
		line += " " + arg
	}
	_, lw.err = io.WriteString(lw.w, line+"\n")
	return lw.err
}

func (lw *lineWriter) sendJSON(verb string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode %s: %w", verb, err)
	}
	return lw.send(verb, string(b))
}

// splitLine splits a control line into its verb and argument.
func splitLine(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	return verb, arg
}

// readCommands forwards the parent's command lines to cmds. At end of
// input it closes cmds and cancels the role: a child must not outlive its
// parent.
func readCommands(ctx context.Context, in io.Reader, cmds chan<- string, cancel context.CancelFunc) {
	defer cancel()
	defer close(cmds)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		verb, _ := splitLine(sc.Text())
		if verb == "" {
			continue
		}
		select {
		case cmds <- verb:
		case <-ctx.Done():
			return
		}
	}
}

// readLines forwards a child's output lines to lines and closes it at the
// end of the output.
func readLines(r io.Reader, lines chan<- string) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		lines <- sc.Text()
	}
	if err := sc.Err(); err != nil {
		lines <- lineError + " cannot read child output: " + err.Error()
	}
}
