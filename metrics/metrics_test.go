package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	m := New()
	m.Command("getStates", "ok", 2*time.Millisecond)
	m.Command("setState", "denied", time.Millisecond)
	m.StateWrite()
	m.Connection("websocket", 3, 1)
	m.Connection("polling", 4, 1)
	m.Connection("polling", 4, -1)
	m.QueueBatch(12)
	m.Dropped("coalesced", 3)
	m.Commit(40, 3*time.Millisecond, nil)
	m.Commit(1, time.Millisecond, errors.New("disk full"))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`brokerd_command_duration_seconds_count{command="getStates",outcome="ok"} 1`,
		`brokerd_command_duration_seconds_count{command="setState",outcome="denied"} 1`,
		`brokerd_state_writes_total 1`,
		`brokerd_connections{eio="3",transport="websocket"} 1`,
		`brokerd_connections{eio="4",transport="polling"} 0`,
		`brokerd_fanout_dropped_total{reason="coalesced"} 3`,
		`brokerd_commit_batch_size_count 2`,
		`brokerd_commit_errors_total 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Command("x", "ok", 0)
	m.StateWrite()
	m.Connection("websocket", 4, 1)
	m.QueueBatch(1)
	m.Dropped("coalesced", 1)
	m.Commit(1, 0, nil)
}
