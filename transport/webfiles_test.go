package transport

import (
	"net/http"
	"strings"
	"testing"

	"github.com/brokerd/brokerd/files"
)

func TestWebFiles(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.WebMounts = map[string]string{"/vis/": "vis.0"} })
	write := func(name, data string, mode int) {
		t.Helper()
		if err := e.fs.Write("vis.0", name, []byte(data), true, files.WriteOptions{Mode: mode}, nil); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>root</h1>", 0)
	write("app/index.html", "<h1>app</h1>", 0)
	write("app/main.js", "console.log(1)", 0)
	write("app/data.bin", "0123456789", 0)
	write("private.txt", "secret", 0x600)

	for _, c := range []struct {
		user, path string
		status     int
		body, mime string
	}{
		{"reader", "/files/vis.0/app/main.js", 200, "console.log(1)", "javascript"},
		{"reader", "/vis/app/main.js", 200, "console.log(1)", "javascript"},
		{"reader", "/files/vis.0/", 200, "<h1>root</h1>", "text/html"},
		{"reader", "/vis/", 200, "<h1>root</h1>", "text/html"},
		{"reader", "/vis/app/", 200, "<h1>app</h1>", "text/html"},
		{"reader", "/vis/missing.js", 404, "", ""},
		{"reader", "/files/nons.0/x.js", 404, "", ""},
		{"reader", "/vis/private.txt", 403, "", ""}, // file ACL: owner only
		{"admin", "/vis/private.txt", 200, "secret", "text/plain"},
		{"nobody", "/vis/app/main.js", 403, "", ""}, // no file.read
		{"", "/vis/app/main.js", 401, "", ""},
		{"reader", "/vis/%2e%2e/x", 400, "", ""},
		{"reader", "/files/vis.0/app/%2e%2e%2f%2e%2e%2fetc", 400, "", ""},
		{"reader", "/vis/a%252e%252e/b", 400, "", ""},
	} {
		code, b, h := e.do(c.user, "GET", c.path, nil)
		if code != c.status {
			t.Errorf("GET %s as %q: %d %s, want %d", c.path, c.user, code, b, c.status)
			continue
		}
		if c.status == 200 && (string(b) != c.body || !strings.Contains(h.Get("Content-Type"), c.mime)) {
			t.Errorf("GET %s: %q %q", c.path, b, h.Get("Content-Type"))
		}
	}
	// A folder without the slash redirects, so relative links resolve.
	req, _ := http.NewRequest("GET", e.hs.URL+"/vis/app", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["reader"])
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/vis/app/" {
		t.Errorf("folder redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// ETag / If-None-Match and Range.
	code, _, h := e.do("reader", "GET", "/vis/app/data.bin", nil)
	etag := h.Get("ETag")
	if code != 200 || etag == "" {
		t.Fatalf("etag: %d %q", code, etag)
	}
	if code, _, _ := e.do("reader", "GET", "/vis/app/data.bin", nil, "If-None-Match", etag); code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", code)
	}
	code, b, h := e.do("reader", "GET", "/vis/app/data.bin", nil, "Range", "bytes=2-4")
	if code != http.StatusPartialContent || string(b) != "234" || h.Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("range: %d %q %v", code, b, h)
	}
	// A changed file gets a new ETag.
	write("app/data.bin", "changed", 0)
	if code, _, _ := e.do("reader", "GET", "/vis/app/data.bin", nil, "If-None-Match", etag); code != 200 {
		t.Errorf("stale ETag matched: %d", code)
	}
}
