package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
	"github.com/coder/websocket"
)

// fingerprint hashes every object, state and vis.0 file, so a test can
// tell that a refused request changed nothing.
func (e *apiEnv) fingerprint() string {
	e.t.Helper()
	h := sha256.New()
	e.obj.Range("", pattern.RangeEnd, func(id string, _ *objects.Meta, raw json.RawMessage) bool {
		h.Write([]byte(id))
		h.Write(raw)
		return true
	})
	var ids []string
	e.st.All(func(id string, _ *states.State) bool { ids = append(ids, id); return true })
	sort.Strings(ids)
	for i, st := range e.st.GetMany(ids) {
		b, _ := json.Marshal(st)
		h.Write([]byte(ids[i]))
		h.Write(b)
	}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := e.fs.ReadDir("vis.0", dir, nil)
		if err != nil {
			return
		}
		for _, en := range entries {
			p := strings.TrimPrefix(dir+"/"+en.File, "/")
			h.Write([]byte(p))
			if en.IsDir {
				walk(p)
				continue
			}
			data, _, _ := e.fs.Read("vis.0", p, nil)
			h.Write(data)
		}
	}
	walk("")
	return hex.EncodeToString(h.Sum(nil))
}

// dialStatus opens a plain WebSocket as user and returns the HTTP status
// (101 on success; the connection is closed again).
func (e *apiEnv) dialStatus(user, path string) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if user != "" {
		h.Set("Authorization", "Bearer "+e.tokens[user])
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.hs.URL, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			e.t.Fatalf("dial %s: %v", path, err)
		}
		return resp.StatusCode
	}
	c.CloseNow()
	return http.StatusSwitchingProtocols
}

// TestRESTPermissionMatrix runs every /api/v1/ route as a user who may and
// as users who may not (missing group permission, or the object/file ACL),
// checks the status codes and that a refused request changed nothing.
func TestRESTPermissionMatrix(t *testing.T) {
	e := newAPIEnv(t)
	e.setObject("flot.0.chart", objects.Object{"type": "chart", "common": map[string]any{"name": "c"}, "native": map[string]any{}})
	if err := e.fs.Write("vis.0", "main/a.txt", []byte("hello"), true, filesDefault(), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Write("vis.0", "main/b.txt", []byte("bye"), true, filesDefault(), nil); err != nil {
		t.Fatal(err)
	}
	type try struct {
		user, path, body string
		status           int
	}
	// Rows run in order: reads and writes before the deletes.
	matrix := []struct {
		pattern string
		allowed try
		denied  []try
	}{
		{"GET /api/v1/states", try{"reader", "/api/v1/states?pattern=test.*", "", 200},
			[]try{{"nobody", "/api/v1/states?pattern=test.*", "", 403}, {"reader", "/api/v1/states?ids=test.0.secret", "", 403}}},
		{"GET /api/v1/states/{id}", try{"reader", "/api/v1/states/test.0.open", "", 200},
			[]try{{"nobody", "/api/v1/states/test.0.open", "", 403}, {"reader", "/api/v1/states/test.0.secret", "", 403}}},
		{"PUT /api/v1/states/{id}", try{"writer", "/api/v1/states/test.0.open", `{"val": 7}`, 200},
			[]try{{"reader", "/api/v1/states/test.0.open", `{"val": 8}`, 403}, {"writer", "/api/v1/states/test.0.secret", `{"val": 8}`, 403}}},
		{"POST /api/v1/states/{id}", try{"writer", "/api/v1/states/test.0.open", `9`, 200},
			[]try{{"nobody", "/api/v1/states/test.0.open", `10`, 403}, {"writer", "/api/v1/states/test.0.secret", `10`, 403}}},
		{"DELETE /api/v1/states/{id}", try{"writer", "/api/v1/states/test.0.open", "", 204},
			[]try{{"reader", "/api/v1/states/test.0.open", "", 403}, {"writer", "/api/v1/states/test.0.secret", "", 403}}},
		{"GET /api/v1/objects", try{"reader", "/api/v1/objects?pattern=test.*", "", 200},
			[]try{{"nobody", "/api/v1/objects?pattern=test.*", "", 403}}},
		{"GET /api/v1/objects/{id}", try{"reader", "/api/v1/objects/test.0.open", "", 200},
			[]try{{"nobody", "/api/v1/objects/test.0.open", "", 403}, {"reader", "/api/v1/objects/test.0.secret", "", 403}}},
		{"PUT /api/v1/objects/{id}", try{"writer", "/api/v1/objects/test.0.mine", `{"type":"state","common":{"name":"m"},"native":{}}`, 200},
			[]try{{"reader", "/api/v1/objects/test.0.other", `{"type":"state","common":{"name":"m"},"native":{}}`, 403},
				{"writer", "/api/v1/objects/test.0.secret", `{"type":"state","common":{"name":"m"},"native":{}}`, 403}}},
		{"DELETE /api/v1/objects/{id}", try{"writer", "/api/v1/objects/flot.0.chart", "", 204},
			[]try{{"reader", "/api/v1/objects/flot.0.chart", "", 403}, {"writer", "/api/v1/objects/test.0.open", "", 403}}},
		{"GET /api/v1/files", try{"reader", "/api/v1/files", "", 200},
			[]try{{"nobody", "/api/v1/files", "", 403}}},
		{"GET /api/v1/files/{ns}/{path...}", try{"reader", "/api/v1/files/vis.0/main/a.txt", "", 200},
			[]try{{"nobody", "/api/v1/files/vis.0/main/a.txt", "", 403}, {"nobody", "/api/v1/files/vis.0/main/", "", 403}}},
		{"PUT /api/v1/files/{ns}/{path...}", try{"writer", "/api/v1/files/vis.0/main/a.txt", "new", 204},
			[]try{{"reader", "/api/v1/files/vis.0/main/a.txt", "evil", 403}, {"reader", "/api/v1/files/vis.0/main/c.txt", "evil", 403}}},
		{"DELETE /api/v1/files/{ns}/{path...}", try{"writer", "/api/v1/files/vis.0/main/b.txt", "", 204},
			[]try{{"reader", "/api/v1/files/vis.0/main/a.txt", "", 403}, {"nobody", "/api/v1/files/vis.0/main", "", 403}}},
		{"GET /api/v1/ws/states", try{"reader", "/api/v1/ws/states?pattern=test.*", "", 101},
			[]try{{"nobody", "/api/v1/ws/states?pattern=test.*", "", 403}}},
		{"GET /api/v1/ws/objects", try{"reader", "/api/v1/ws/objects", "", 101},
			[]try{{"nobody", "/api/v1/ws/objects", "", 403}}},
		{"GET /api/v1/ws/system/stats", try{"reader", "/api/v1/ws/system/stats", "", 101},
			[]try{{"nobody", "/api/v1/ws/system/stats", "", 403}}},
	}
	rows := map[string]bool{}
	for _, row := range matrix {
		rows[row.pattern] = true
	}
	for _, rt := range apiRoutes {
		if rt.pattern == "GET /api/v1/openapi.json" {
			continue
		}
		if !rows[rt.pattern] {
			t.Errorf("route %s has no row in the permission matrix", rt.pattern)
		}
	}
	run := func(method string, c try) int {
		if strings.Contains(c.path, "/ws/") {
			return e.dialStatus(c.user, c.path)
		}
		var body []byte
		if method == "PUT" || method == "POST" {
			body = []byte(c.body)
		}
		code, b, _ := e.do(c.user, method, c.path, body)
		if code >= 400 && errorOf(t, b) != "permissionError" && code == 403 {
			t.Errorf("%s %s: 403 without permissionError: %s", method, c.path, b)
		}
		return code
	}
	for _, row := range matrix {
		pat := row.pattern
		method, _, _ := strings.Cut(pat, " ")
		for _, d := range row.denied {
			before := e.fingerprint()
			if got := run(method, d); got != d.status {
				t.Errorf("%s as %s (%s): %d, want %d", pat, d.user, d.path, got, d.status)
			}
			if after := e.fingerprint(); after != before {
				t.Errorf("%s as %s (%s) was refused but changed the data", pat, d.user, d.path)
			}
		}
		before := e.fingerprint()
		if got := run(method, row.allowed); got != row.allowed.status {
			t.Errorf("%s as %s (%s): %d, want %d", pat, row.allowed.user, row.allowed.path, got, row.allowed.status)
		}
		if changed := e.fingerprint() != before; changed != (method != "GET") {
			t.Errorf("%s as %s: data changed = %v (the fingerprint must see writes)", pat, row.allowed.user, changed)
		}
	}
}
