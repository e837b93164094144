package loadtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func result(label string, round int, rate, p99 float64) *Result {
	r := &Result{Scenario: "fanout", Label: label, Round: round}
	r.Add("delivered", rate, "/s")
	r.Add("latency p99", p99, "ms")
	return r
}

func TestCompareMedians(t *testing.T) {
	a := []*Result{result("A", 1, 100, 2), result("A", 2, 300, 4), result("A", 3, 200, 3)}
	b := []*Result{result("B", 1, 50, 10), result("B", 2, 70, 30)}
	got := Compare(a, b)
	want := []Ratio{
		{Name: "delivered", Unit: "/s", A: 200, B: 60, Ratio: 0.3},
		{Name: "latency p99", Unit: "ms", A: 3, B: 20, Ratio: 20.0 / 3},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].A != want[i].A || got[i].B != want[i].B || abs(got[i].Ratio-want[i].Ratio) > 1e-9 {
			t.Errorf("ratio %d: got %+v want %+v", i, got[i], want[i])
		}
	}
	if Compare(nil, b) != nil {
		t.Error("Compare with no A runs must be empty")
	}
	zero := Compare([]*Result{result("A", 1, 0, 0)}, b)
	if zero[0].Ratio != 0 {
		t.Errorf("ratio with A=0: %v", zero[0].Ratio)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestReportJSONRoundTrip(t *testing.T) {
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * 1000)
	}
	r := result("A", 1, 123.5, 1)
	r.AddLatency("setState→stateChange", h)
	r.Errorf("lost %d", 3)
	rep := &Report{Tool: "brokerload", Scenario: "fanout", URLA: "http://127.0.0.1:8084", Runs: []*Result{r}, Ratios: Compare([]*Result{r}, []*Result{r})}
	path := filepath.Join(t.TempDir(), "out.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got := back.Runs[0]
	if v, _ := got.Metric("delivered"); v != 123.5 {
		t.Errorf("delivered = %v", v)
	}
	if l := got.Latency["setState→stateChange"]; l.Count != 1000 || l.P50Ms < 0.49 || l.P50Ms > 0.51 {
		t.Errorf("latency %+v", l)
	}
	if v, ok := got.Metric("setState→stateChange p99.9"); !ok || v < 0.99 || v > 1.01 {
		t.Errorf("p99.9 metric = %v %v", v, ok)
	}
	if len(back.Ratios) != len(got.Metrics) || back.Ratios[0].Ratio != 1 {
		t.Errorf("ratios %+v", back.Ratios)
	}
	if len(got.Errors) != 1 || got.Errors[0] != "lost 3" {
		t.Errorf("errors %v", got.Errors)
	}
}

func TestPrintTables(t *testing.T) {
	var buf bytes.Buffer
	PrintRuns(&buf, []*Result{result("A", 1, 1500, 0.25), result("B", 1, 750, 0.5)})
	PrintRatios(&buf, Compare([]*Result{result("A", 1, 1500, 0.25)}, []*Result{result("B", 1, 750, 0.5)}))
	out := buf.String()
	for _, want := range []string{"A#1", "B#1", "1500", "0.2500", "B/A", "0.500", "2.000"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
