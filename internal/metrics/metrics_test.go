package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

type fake struct{ r node.Report }

func (f fake) Report() node.Report { return f.r }

func TestEndpoints(t *testing.T) {
	r := node.Report{Name: "n", Policy: "drop_oldest",
		Peers: []node.PeerReport{{Name: "w1", Stats: netio.PeerStats{FramesIn: 5, Dropped: 2, QueuedBytes: 100}}},
		Net: netio.Stats{Failures: map[frame.ErrCode]uint64{frame.CodeVersion: 3}, Refused: map[frame.ErrCode]uint64{frame.CodeAuth: 4},
			Limits: netio.LimitStats{Handshakes: 7}}, Stats: node.Stats{StoreLost: 3}}
	c := New(fake{r})
	c.Extra = func() map[string]any { return map[string]any{"pools": "x"} }
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	get := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := get("/metrics")
	for _, want := range []string{
		`weir_peer_frames_in_total{peer="w1"} 5`,
		`weir_peer_dropped_total{peer="w1",policy="drop_oldest"} 2`,
		`weir_peer_queue_bytes{peer="w1"} 100`,
		`weir_connection_failures_total{code="version"} 3`,
		`weir_handshakes_refused_total{code="auth"} 4`,
		`weir_limit_hits_total{limit="handshakes"} 7`,
		`weir_limit_hits_total{limit="queue"} 0`,
		`weir_peers 1`,
		`weir_store_requests_lost_total 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if got := get("/healthz"); got != "ok\n" {
		t.Errorf("healthz %q", got)
	}
	if s := get("/status"); !strings.Contains(s, `"w1"`) || !strings.Contains(s, `"pools": "x"`) {
		t.Errorf("status %s", s)
	}
}
