package transport

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docPath turns a mux pattern path into the OpenAPI form ({path...} → {path}).
func docPath(muxPath string) string { return strings.ReplaceAll(muxPath, "...}", "}") }

var docParam = regexp.MustCompile(`\{[^}]+\}`)

// TestOpenAPIMatchesRoutes checks the document against the routes both
// ways: every route registered under /api/v1/ is described with its method,
// and every described path and method reaches exactly that route on a real
// mux (not a 404/405 or another route).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	srv, hs := testServer(t, Options{})
	_ = hs
	mux := http.NewServeMux()
	srv.RegisterAPI(mux)

	registered := map[string]bool{} // "METHOD /doc/path"
	for _, rt := range apiRoutes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.HasPrefix(path, APIPrefix) {
			t.Errorf("route %s is outside %s", rt.pattern, APIPrefix)
		}
		key := method + " " + docPath(path)
		registered[key] = true
		ops, ok := doc.Paths[docPath(path)]
		if !ok {
			t.Errorf("route %s: path %s not in openapi.json", rt.pattern, docPath(path))
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("route %s: method %s not in openapi.json", rt.pattern, method)
		}
	}
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(described)
	for _, d := range described {
		method, path, _ := strings.Cut(d, " ")
		if !registered[d] {
			t.Errorf("openapi.json describes %s, which is not a route", d)
		}
		// Instantiate the template and ask the mux which pattern serves it.
		concrete := docParam.ReplaceAllStringFunc(path, func(p string) string {
			if p == "{path}" {
				return "dir/file.txt"
			}
			return "x.0"
		})
		req := httptest.NewRequest(method, concrete, nil)
		_, pattern := mux.Handler(req)
		method2, muxPath, _ := strings.Cut(pattern, " ")
		if pattern == "" || method2 != method || docPath(muxPath) != path {
			t.Errorf("%s (%s) is served by %q", d, concrete, pattern)
		}
	}
	// The document is what the route serves.
	code, b, _ := (&apiEnv{t: t, hs: hs}).do("", "GET", "/api/v1/openapi.json", nil)
	if code != 200 || string(b) != string(OpenAPI()) {
		t.Fatalf("GET openapi.json: %d", code)
	}
}
