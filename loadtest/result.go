package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Metric is one reported figure of a run.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Result is what one scenario run against one endpoint measured.
type Result struct {
	Scenario string                    `json:"scenario"`
	Label    string                    `json:"label"` // "A" or "B" in a comparison
	URL      string                    `json:"url"`
	EIO      int                       `json:"eio"`
	Round    int                       `json:"round"`
	Started  time.Time                 `json:"started"`
	Seconds  float64                   `json:"seconds"` // measured interval
	Params   map[string]any            `json:"params,omitempty"`
	Metrics  []Metric                  `json:"metrics"`
	Latency  map[string]LatencySummary `json:"latency,omitempty"`
	Nodes    []NodeStat                `json:"nodes,omitempty"` // per node, when the target has several
	Errors   []string                  `json:"errors,omitempty"`
}

// NodeStat is what landed on, and came back from, one node of a target.
type NodeStat struct {
	Node        int     `json:"node"` // 1-based, in --url order
	URL         string  `json:"url"`
	Conns       int     `json:"conns"`
	Writers     int     `json:"writers"`     // fanout/vis
	Subscribers int     `json:"subscribers"` // fanout/vis
	Expected    uint64  `json:"expected"`    // stateChange events due to this node's subscribers
	Received    uint64  `json:"received"`    // … and received by them
	DeliveredPS float64 `json:"delivered_per_s"`
	Ops         int64   `json:"ops"`   // bulk: requests answered
	Alive       int     `json:"alive"` // idle: connections alive at the end
}

// nodeStats returns one zeroed NodeStat per node of t.
func nodeStats(t Target) []NodeStat {
	out := make([]NodeStat, len(t.NodeURLs()))
	for i, u := range t.NodeURLs() {
		out[i] = NodeStat{Node: i + 1, URL: u}
	}
	return out
}

// Add appends a metric.
func (r *Result) Add(name string, v float64, unit string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit})
}

// AddLatency stores a histogram's summary and adds its p50/p99/p99.9 as metrics.
func (r *Result) AddLatency(name string, h *Histogram) {
	if r.Latency == nil {
		r.Latency = map[string]LatencySummary{}
	}
	s := h.Summary()
	r.Latency[name] = s
	r.Add(name+" p50", s.P50Ms, "ms")
	r.Add(name+" p99", s.P99Ms, "ms")
	r.Add(name+" p99.9", s.P999Ms, "ms")
}

// Errorf records a non-fatal problem of the run.
func (r *Result) Errorf(format string, args ...any) {
	if len(r.Errors) < 20 {
		r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
	}
}

// Metric returns the value of the named metric.
func (r *Result) Metric(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// Ratio compares one metric between endpoint A and B over all rounds.
type Ratio struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit,omitempty"`
	A     float64 `json:"a_median"`
	B     float64 `json:"b_median"`
	Ratio float64 `json:"b_over_a"` // NaN-free: 0 when A is 0
}

// Compare returns B/A for every metric, taking the median over the rounds.
func Compare(a, b []*Result) []Ratio {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	var out []Ratio
	for _, m := range a[0].Metrics {
		av, bv := median(a, m.Name), median(b, m.Name)
		r := Ratio{Name: m.Name, Unit: m.Unit, A: av, B: bv}
		if av != 0 {
			r.Ratio = bv / av
		}
		out = append(out, r)
	}
	return out
}

func median(rs []*Result, name string) float64 {
	var vs []float64
	for _, r := range rs {
		if v, ok := r.Metric(name); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// Report is the JSON document written by --json.
type Report struct {
	Tool     string    `json:"tool"`
	Command  []string  `json:"command"`
	Scenario string    `json:"scenario"`
	URLA     string    `json:"url_a"`
	URLB     string    `json:"url_b,omitempty"`
	Runs     []*Result `json:"runs"`
	Ratios   []Ratio   `json:"ratios,omitempty"`
}

// WriteJSON writes the report to path (indented).
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// PrintRuns prints one column per run, one row per metric.
func PrintRuns(w io.Writer, runs []*Result) {
	if len(runs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"metric", "unit"}
	for _, r := range runs {
		h := r.Label
		if h == "" {
			h = "run"
		}
		hdr = append(hdr, fmt.Sprintf("%s#%d", h, r.Round))
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, m := range runs[0].Metrics {
		row := []string{m.Name, m.Unit}
		for _, r := range runs {
			v, _ := r.Metric(m.Name)
			row = append(row, formatValue(v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for _, r := range runs {
		printNodes(w, r)
	}
	for _, r := range runs {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "%s#%d error: %s\n", r.Label, r.Round, e)
		}
	}
}

// printNodes prints the per-node table of a run over several nodes.
func printNodes(w io.Writer, r *Result) {
	if len(r.Nodes) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s#%d per node\n", r.Label, r.Round)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	switch r.Scenario {
	case "bulk":
		fmt.Fprintln(tw, "node\turl\tconns\tops\t")
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t\n", n.Node, n.URL, n.Conns, n.Ops)
		}
	case "idle":
		fmt.Fprintln(tw, "node\turl\tconns\talive\t")
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t\n", n.Node, n.URL, n.Conns, n.Alive)
		}
	default:
		fmt.Fprintln(tw, "node\turl\tconns\twriters\tsubscribers\texpected\treceived\tdelivered/s\t")
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", n.Node, n.URL, n.Conns, n.Writers, n.Subscribers,
				n.Expected, n.Received, formatValue(n.DeliveredPS))
		}
	}
	tw.Flush()
}

// PrintRatios prints the B/A comparison table.
func PrintRatios(w io.Writer, rs []Ratio) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tunit\tA (median)\tB (median)\tB/A\t")
	for _, r := range rs {
		ratio := "-"
		if r.A != 0 {
			ratio = fmt.Sprintf("%.3f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Unit, formatValue(r.A), formatValue(r.B), ratio)
	}
	tw.Flush()
}

func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e12:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}
