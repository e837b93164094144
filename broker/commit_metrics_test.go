package broker

import (
	"bufio"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/states"
)

// scrapeMetrics reads the unlabelled samples of /metrics as name → value.
func scrapeMetrics(t *testing.T, b *Broker) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// TestCommitMetricsObserved: state writes through the real bbolt store show
// up in the group commit histograms of /metrics: every op in exactly one
// batch (the size sum grows by the writes), at most one batch per op.
func TestCommitMetricsObserved(t *testing.T) {
	// No host statistics: their writes would race with the counting below.
	b := newIdleBroker(t, func(c *config.Config) { c.HostStats.Interval = 0 })
	before := scrapeMetrics(t, b)
	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Set returns once the value is committed, so the batch is observed.
				if _, err := b.stores.States.Set("test.0.w"+strconv.Itoa(w), states.Write{Val: float64(i), HasVal: true}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := scrapeMetrics(t, b)
	delta := func(name string) float64 { return after[name] - before[name] }
	const n = writers * perWriter
	batches, ops := delta("brokerd_commit_batch_size_count"), delta("brokerd_commit_batch_size_sum")
	if batches < 1 || batches > n || ops != n {
		t.Fatalf("commit batch size: %v batches holding %v ops, want 1..%d batches holding %d ops", batches, ops, n, n)
	}
	if got := delta("brokerd_commit_duration_seconds_count"); got != batches {
		t.Errorf("commit duration observed %v times, batch size %v times", got, batches)
	}
	if delta("brokerd_commit_duration_seconds_sum") <= 0 {
		t.Error("commit duration sum did not grow")
	}
	if st := b.stores.DB.Committer.Stats(); float64(st.Ops) < ops {
		t.Errorf("committer counted %d ops, metrics %v", st.Ops, ops)
	}
	if e := delta("brokerd_commit_errors_total"); e != 0 {
		t.Errorf("%v commit errors", e)
	}
}
