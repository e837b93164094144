package transport

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/metrics"
)

// TestHostedFileLastModified: hosted files carry Last-Modified from the
// file's stored modification time and answer If-Modified-Since with 304;
// If-None-Match, when sent, decides instead (RFC 9110 13.2.2).
func TestHostedFileLastModified(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.WebMounts = map[string]string{"/vis/": "vis.0"} })
	if err := e.fs.Write("vis.0", "app/main.js", []byte("console.log(1)"), true, files.WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Write("vis.0", "private.txt", []byte("secret"), true, files.WriteOptions{Mode: 0x600}, nil); err != nil {
		t.Fatal(err)
	}
	_, meta, err := e.fs.Read("vis.0", "app/main.js", nil)
	if err != nil {
		t.Fatal(err)
	}
	// HTTP dates have whole seconds.
	want := time.UnixMilli(meta.ModifiedAt).UTC().Truncate(time.Second)
	date := func(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

	for _, path := range []string{"/files/vis.0/app/main.js", "/vis/app/main.js", "/api/v1/files/vis.0/app/main.js"} {
		code, body, h := e.do("reader", "GET", path, nil)
		lm, err := http.ParseTime(h.Get("Last-Modified"))
		if code != 200 || string(body) != "console.log(1)" || err != nil || !lm.Equal(want) {
			t.Errorf("GET %s: %d %q Last-Modified %q, want %s", path, code, body, h.Get("Last-Modified"), date(want))
			continue
		}
		etag := h.Get("ETag")
		for _, c := range []struct {
			name   string
			hdr    []string
			status int
		}{
			{"not modified since", []string{"If-Modified-Since", date(want)}, http.StatusNotModified},
			{"not modified since, later date", []string{"If-Modified-Since", date(want.Add(time.Hour))}, http.StatusNotModified},
			{"modified since", []string{"If-Modified-Since", date(want.Add(-time.Second))}, http.StatusOK},
			{"unparsable date is ignored", []string{"If-Modified-Since", "yesterday"}, http.StatusOK},
			{"etag matches, date older", []string{"If-None-Match", etag, "If-Modified-Since", date(want.Add(-time.Hour))}, http.StatusNotModified},
			{"etag differs, date current", []string{"If-None-Match", `"other"`, "If-Modified-Since", date(want)}, http.StatusOK},
		} {
			code, body, h := e.do("reader", "GET", path, nil, c.hdr...)
			if code != c.status {
				t.Errorf("GET %s, %s: %d, want %d", path, c.name, code, c.status)
				continue
			}
			if code == http.StatusNotModified && (len(body) != 0 || h.Get("ETag") != etag) {
				t.Errorf("GET %s, %s: 304 with body %q, ETag %q", path, c.name, body, h.Get("ETag"))
			}
			if code == http.StatusOK && string(body) != "console.log(1)" {
				t.Errorf("GET %s, %s: body %q", path, c.name, body)
			}
		}
	}
	// The permission check comes first: no 304 for a file the caller may not read.
	if code, _, _ := e.do("reader", "GET", "/vis/private.txt", nil, "If-Modified-Since", date(time.Now().Add(time.Hour))); code != http.StatusForbidden {
		t.Errorf("unreadable file with If-Modified-Since: %d, want 403", code)
	}
	if code, _, _ := e.do("nobody", "GET", "/vis/app/main.js", nil, "If-Modified-Since", date(want)); code != http.StatusForbidden {
		t.Errorf("no file.read with If-Modified-Since: %d, want 403", code)
	}
}

// TestHostedFileReadMetrics: a hosted file read is still a readFile command
// in /metrics (ok and denied), as when it went through Invoke.
func TestHostedFileReadMetrics(t *testing.T) {
	m := metrics.New()
	e := newAPIEnv(t, func(o *Options) { o.Metrics = m })
	if err := e.fs.Write("vis.0", "a.txt", []byte("a"), true, files.WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Write("vis.0", "private.txt", []byte("secret"), true, files.WriteOptions{Mode: 0x600}, nil); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/files/vis.0/a.txt": 200, "/files/vis.0/private.txt": 403} {
		if code, _, _ := e.do("reader", "GET", path, nil); code != want {
			t.Fatalf("GET %s: %d, want %d", path, code, want)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`brokerd_command_duration_seconds_count{command="readFile",outcome="ok"} 1`,
		`brokerd_command_duration_seconds_count{command="readFile",outcome="denied"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("missing %s", want)
		}
	}
}
