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
	Errors   []string                  `json:"errors,omitempty"`
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
		for _, e := range r.Errors {
			fmt.Fprintf(w, "%s#%d error: %s\n", r.Label, r.Round, e)
		}
	}
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
