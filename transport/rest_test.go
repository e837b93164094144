package transport

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/brokerd/brokerd/files"
)

func TestRESTStates(t *testing.T) {
	e := newAPIEnv(t)
	code, b, _ := e.do("admin", "GET", "/api/v1/states/test.0.open", nil)
	if code != 200 || !strings.Contains(string(b), `"val":1`) {
		t.Fatalf("get: %d %s", code, b)
	}
	// Object form; ack defaults to false.
	code, b, _ = e.do("admin", "PUT", "/api/v1/states/test.0.open", []byte(`{"val": 42, "q": 1}`))
	if code != 200 || !strings.Contains(string(b), `"id":"test.0.open"`) {
		t.Fatalf("put: %d %s", code, b)
	}
	st, _ := e.st.Get("test.0.open")
	if st.Val != 42.0 || st.Ack || st.Q != 1 || st.User != "system.user.admin" {
		t.Fatalf("stored %+v", st)
	}
	// Plain value with POST, then ack and expire.
	if code, b, _ = e.do("admin", "POST", "/api/v1/states/test.0.open", []byte(`"text"`)); code != 200 {
		t.Fatalf("post: %d %s", code, b)
	}
	if st, _ := e.st.Get("test.0.open"); st.Val != "text" {
		t.Fatalf("plain value: %+v", st)
	}
	if code, b, _ = e.do("admin", "PUT", "/api/v1/states/test.0.new", []byte(`{"val": true, "ack": true, "expire": 100}`)); code != 200 {
		t.Fatalf("put new: %d %s", code, b)
	}
	if st, _ := e.st.Get("test.0.new"); st.Val != true || !st.Ack || !st.Expire {
		t.Fatalf("ack/expire: %+v", st)
	}
	// Lists.
	code, b, _ = e.do("admin", "GET", "/api/v1/states?pattern=test.0.*", nil)
	var m map[string]json.RawMessage
	if code != 200 || json.Unmarshal(b, &m) != nil || len(m) != 2 || m["test.0.open"] == nil {
		t.Fatalf("pattern (state objects only): %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/states?ids=test.0.open,test.0.missing", nil)
	m = nil
	if code != 200 || json.Unmarshal(b, &m) != nil || len(m) != 2 || string(m["test.0.missing"]) != "null" {
		t.Fatalf("ids: %d %s", code, b)
	}
	// Delete.
	if code, b, _ = e.do("admin", "DELETE", "/api/v1/states/test.0.new", nil); code != 204 {
		t.Fatalf("delete: %d %s", code, b)
	}
	if _, ok := e.st.Get("test.0.new"); ok {
		t.Fatal("state not deleted")
	}
	// Errors.
	for _, c := range []struct {
		user, method, path, body string
		status                   int
		msg                      string
	}{
		{"admin", "GET", "/api/v1/states/test.0.missing", "", 404, "Not exists"},
		{"admin", "GET", "/api/v1/states/bad*id", "", 400, ""},
		{"admin", "PUT", "/api/v1/states/test.0.open", "", 400, "body"},
		{"admin", "PUT", "/api/v1/states/test.0.open", "{val:", 400, "JSON"},
		{"admin", "PUT", "/api/v1/states/test.0.open", `{"bogus": 1}`, 400, ""},
		{"admin", "GET", "/api/v1/states?pattern=a&ids=b", "", 400, "either"},
		{"", "GET", "/api/v1/states/test.0.open", "", 401, ""},
		{"nobody", "GET", "/api/v1/states/test.0.open", "", 403, "permissionError"},
		{"reader", "GET", "/api/v1/states/test.0.secret", "", 403, "permissionError"},
		{"reader", "GET", "/api/v1/states?ids=test.0.open,test.0.secret", "", 403, "permissionError"},
	} {
		var body []byte
		if c.body != "" || c.method == "PUT" {
			body = []byte(c.body)
		}
		code, b, _ := e.do(c.user, c.method, c.path, body)
		if code != c.status || !strings.Contains(errorOf(t, b), c.msg) {
			t.Errorf("%s %s as %q: %d %s, want %d %q", c.method, c.path, c.user, code, b, c.status, c.msg)
		}
	}
	// A pattern silently leaves out what the user may not read.
	code, b, _ = e.do("reader", "GET", "/api/v1/states?pattern=test.0.*", nil)
	if code != 200 || strings.Contains(string(b), "secret") || !strings.Contains(string(b), "test.0.open") {
		t.Fatalf("reader pattern: %d %s", code, b)
	}
}

func TestRESTTooLarge(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.MaxMessageSize = 4096 })
	big := []byte(`{"val":"` + strings.Repeat("x", 5000) + `"}`)
	for _, path := range []string{"/api/v1/states/test.0.open", "/api/v1/objects/test.0.big", "/api/v1/files/vis.0/big.txt"} {
		code, b, _ := e.do("admin", "PUT", path, big)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("PUT %s: %d %s", path, code, b)
		}
	}
}

func TestRESTAuthentication(t *testing.T) {
	e := newAPIEnv(t)
	get := func(mod func(*http.Request)) int {
		req, _ := http.NewRequest("GET", e.hs.URL+"/api/v1/states/test.0.open", nil)
		mod(req)
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Error("401 without WWW-Authenticate")
		}
		return resp.StatusCode
	}
	cases := []struct {
		name string
		mod  func(*http.Request)
		want int
	}{
		{"nothing", func(*http.Request) {}, 401},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.tokens["reader"]) }, 200},
		{"bad bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"query token", func(r *http.Request) { r.URL.RawQuery = "token=" + e.tokens["reader"] }, 200},
		{"basic", func(r *http.Request) { r.SetBasicAuth("reader", "pw-reader") }, 200},
		{"basic wrong", func(r *http.Request) { r.SetBasicAuth("reader", "wrong") }, 401},
		{"cookie same origin", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: auth_cookie, Value: e.tokens["reader"]})
			r.Header.Set("Origin", e.hs.URL)
		}, 200},
		{"cookie cross origin", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: auth_cookie, Value: e.tokens["reader"]})
			r.Header.Set("Origin", "http://evil.example")
		}, 401},
		{"nobody", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.tokens["nobody"]) }, 403},
	}
	for _, c := range cases {
		if got := get(c.mod); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// A revoked token stops working at once.
	if err := e.svc.Sessions().Revoke(e.tokens["reader"]); err != nil {
		t.Fatal(err)
	}
	if got := get(cases[1].mod); got != 401 {
		t.Errorf("revoked token: %d", got)
	}
}

// auth_cookie is auth.CookieName without importing it into every test.
const auth_cookie = "access_token"

func TestRESTAuthDisabledIsDefaultUser(t *testing.T) {
	_, hs := testServer(t, Options{})
	resp, err := testHTTP.Get(hs.URL + "/api/v1/states?pattern=*")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("no authenticator: %d", resp.StatusCode)
	}
}

func TestRESTObjects(t *testing.T) {
	e := newAPIEnv(t)
	code, b, _ := e.do("admin", "PUT", "/api/v1/objects/test.0.ch", []byte(`{"type":"channel","common":{"name":"ch"},"native":{}}`))
	if code != 200 {
		t.Fatalf("put: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/objects/test.0.ch", nil)
	if code != 200 || !strings.Contains(string(b), `"type":"channel"`) {
		t.Fatalf("get: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/objects?pattern=test.0.*&type=channel", nil)
	if code != 200 || !strings.Contains(string(b), "test.0.ch") || strings.Contains(string(b), "test.0.open") {
		t.Fatalf("list channel: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/objects?pattern=test.0.*", nil)
	if code != 200 || strings.Contains(string(b), "test.0.ch") || !strings.Contains(string(b), "test.0.open") {
		t.Fatalf("list default type state: %d %s", code, b)
	}
	code, b, _ = e.do("reader", "GET", "/api/v1/objects?pattern=test.0.*", nil)
	if code != 200 || strings.Contains(string(b), "test.0.secret") {
		t.Fatalf("reader list must leave out protected objects: %d %s", code, b)
	}
	if code, b, _ = e.do("admin", "DELETE", "/api/v1/objects/test.0.ch", nil); code != 204 {
		t.Fatalf("delete: %d %s", code, b)
	}
	// Deleting a state object deletes its value too (DeleteObjects).
	if code, b, _ = e.do("admin", "DELETE", "/api/v1/objects/test.0.open", nil); code != 204 {
		t.Fatalf("delete state object: %d %s", code, b)
	}
	if _, ok := e.st.Get("test.0.open"); ok {
		t.Fatal("state value kept")
	}
	for _, c := range []struct {
		user, method, path, body string
		status                   int
	}{
		{"admin", "GET", "/api/v1/objects/test.0.ch", "", 404},
		{"admin", "PUT", "/api/v1/objects/test.0.x", `[1]`, 400},
		{"admin", "PUT", "/api/v1/objects/test.0.x", `null`, 400},
		{"admin", "PUT", "/api/v1/objects/test.0.x", `{"common":{}}`, 400},
		{"admin", "PUT", "/api/v1/objects/test.0.x", `{`, 400},
		{"admin", "PUT", "/api/v1/objects/bad*id", `{"type":"state"}`, 400},
		{"admin", "GET", "/api/v1/objects?pattern=a[", "", 400},
		{"", "GET", "/api/v1/objects/test.0.secret", "", 401},
		{"reader", "GET", "/api/v1/objects/test.0.secret", "", 403},
		{"reader", "PUT", "/api/v1/objects/test.0.x", `{"type":"state"}`, 403},
		{"writer", "DELETE", "/api/v1/objects/test.0.secret", "", 403}, // non-admins: flot.* / fullcalendar.* only
	} {
		var body []byte
		if c.method == "PUT" {
			body = []byte(c.body)
		}
		code, b, _ := e.do(c.user, c.method, c.path, body)
		if code != c.status {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.user, code, b, c.status)
		} else {
			errorOf(t, b)
		}
	}
}

func TestRESTFiles(t *testing.T) {
	e := newAPIEnv(t)
	code, b, _ := e.do("admin", "PUT", "/api/v1/files/vis.0/main/vis-views.json", []byte(`{"a":1}`), "Content-Type", "application/json")
	if code != 204 {
		t.Fatalf("put: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "PUT", "/api/v1/files/vis.0/img/p.png", []byte{0x89, 'P', 'N', 'G', 0})
	if code != 204 {
		t.Fatalf("put binary: %d %s", code, b)
	}
	code, b, h := e.do("admin", "GET", "/api/v1/files/vis.0/main/vis-views.json", nil)
	if code != 200 || string(b) != `{"a":1}` || h.Get("Content-Type") != "application/json" || h.Get("ETag") == "" {
		t.Fatalf("get: %d %q %v", code, b, h)
	}
	code, b, h = e.do("admin", "GET", "/api/v1/files/vis.0/img/p.png", nil)
	if code != 200 || len(b) != 5 || h.Get("Content-Type") != "image/png" {
		t.Fatalf("get binary: %d %q %v", code, b, h)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/files/vis.0/main", nil)
	if code != 200 || !strings.Contains(string(b), `"file":"vis-views.json"`) {
		t.Fatalf("folder: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/files/vis.0/", nil)
	if code != 200 || !strings.Contains(string(b), `"file":"main"`) || !strings.Contains(string(b), `"isDir":true`) {
		t.Fatalf("root: %d %s", code, b)
	}
	code, b, _ = e.do("admin", "GET", "/api/v1/files", nil)
	if code != 200 || !strings.Contains(string(b), `"vis.0"`) {
		t.Fatalf("namespaces: %d %s", code, b)
	}
	if code, b, _ = e.do("admin", "DELETE", "/api/v1/files/vis.0/img", nil); code != 204 {
		t.Fatalf("delete folder: %d %s", code, b)
	}
	if ok, _ := e.fs.Exists("vis.0", "img/p.png", nil); ok {
		t.Fatal("file kept")
	}
	for _, c := range []struct {
		user, method, path string
		status             int
	}{
		{"admin", "GET", "/api/v1/files/vis.0/nothing.txt", 404},
		{"admin", "GET", "/api/v1/files/vis.0/no/folder/", 404},
		{"admin", "GET", "/api/v1/files/novis.0/a.txt", 404},
		{"admin", "PUT", "/api/v1/files/novis.0/a.txt", 404},
		{"admin", "GET", "/api/v1/files/vis.0/%2e%2e/x", 400},
		{"admin", "GET", "/api/v1/files/vis.0/a/%2e%2e/%2e%2e/x", 400},
		{"admin", "GET", "/api/v1/files/vis.0/a%252e%252e%252fx", 400},
		{"admin", "PUT", "/api/v1/files/vis.0/a%5c..%5cb", 400},
		{"", "GET", "/api/v1/files/vis.0/main/vis-views.json", 401},
		{"nobody", "GET", "/api/v1/files/vis.0/main/vis-views.json", 403},
		{"reader", "PUT", "/api/v1/files/vis.0/main/vis-views.json", 403},
		{"reader", "DELETE", "/api/v1/files/vis.0/main/vis-views.json", 403},
	} {
		var body []byte
		if c.method == "PUT" {
			body = []byte("x")
		}
		code, b, _ := e.do(c.user, c.method, c.path, body)
		if code != c.status {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.user, code, b, c.status)
		} else {
			errorOf(t, b)
		}
	}
	if data, _, err := e.fs.Read("vis.0", "main/vis-views.json", nil); err != nil || string(data) != `{"a":1}` {
		t.Fatalf("denied requests changed the file: %q %v", data, err)
	}
}

func TestHTTPStatusOfStoreErrors(t *testing.T) {
	for err, want := range map[error]int{
		files.ErrNotExists: 404, files.ErrPermission: 403, files.ErrTooLarge: 413, files.ErrEmptyID: 400,
		ErrPermission: 403, ErrInvalidLogin: 401, errTooLarge: 413, errNotFound: 404,
		&DeniedError{Command: "x"}: 403, errUnknownCommand("x"): 400,
	} {
		if got := httpStatus(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
