package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	"github.com/gorilla/websocket"
)

// testServer starts a Server on the real stores over a temporary database.
func testServer(t testing.TB, o Options) (*Server, *httptest.Server) {
	t.Helper()
	db, err := database.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := objects.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := states.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	isMeta := files.NamespaceFunc(func(ns string) bool {
		_, m, ok := obj.GetRaw(ns)
		return ok && m != nil && m.Type == "meta"
	})
	fs, err := files.Open(db, isMeta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Version == "" {
		o.Version = "1.2.3"
	}
	srv, err := New(Stores{Objects: obj, States: st, Files: fs}, o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	srv.RegisterAPI(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		st.Close()
		_ = db.Close()
	})
	return srv, hs
}

// wsClient speaks raw Engine.IO over a websocket.
type wsClient struct {
	t   *testing.T
	eio int
	ws  *websocket.Conn
	id  int
}

func dialWS(t *testing.T, hs *httptest.Server, eio int) *wsClient {
	t.Helper()
	return dialWSQuery(t, hs, eio, "")
}

// dialWSToken connects with an access token in the query.
func dialWSToken(t *testing.T, hs *httptest.Server, token string) *wsClient {
	t.Helper()
	return dialWSQuery(t, hs, 4, "&token="+url.QueryEscape(token))
}

func dialWSQuery(t *testing.T, hs *httptest.Server, eio int, query string) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=" + strconv.Itoa(eio) + "&transport=websocket" + query
	ws, _, err := testDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, eio: eio, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	open := c.read()
	if !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet: %q", open)
	}
	if eio == 4 {
		c.send("40")
		if p := c.read(); !strings.HasPrefix(p, `40{"sid":`) {
			t.Fatalf("EIO4 connect answer: %q", p)
		}
	} else if p := c.read(); p != "40" {
		t.Fatalf("EIO3: want 40 from the server without asking, got %q", p)
	}
	return c
}

func (c *wsClient) send(p string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(p)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next text packet, answering server pings (EIO4).
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if mt != websocket.TextMessage {
			c.t.Fatalf("unexpected binary frame % x", b)
		}
		if string(b) == "2" && c.eio == 4 {
			c.send("3")
			continue
		}
		return string(b)
	}
}

// closed reports whether the server closed the connection within d.
func (c *wsClient) closed(d time.Duration) bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			return !strings.Contains(err.Error(), "timeout")
		}
	}
}

// call sends a command with an ack and returns the ack arguments; events
// arriving meanwhile go to onEvent (may be nil).
func (c *wsClient) call(onEvent func(string), name string, args ...any) []any {
	c.t.Helper()
	c.id++
	id := c.id
	c.send("42" + strconv.Itoa(id) + mustJSON(c.t, append([]any{name}, args...)))
	prefix := "43" + strconv.Itoa(id) + "["
	for {
		p := c.read()
		if strings.HasPrefix(p, prefix) {
			var out []any
			if err := json.Unmarshal([]byte(p[len(prefix)-1:]), &out); err != nil {
				c.t.Fatalf("ack %q: %v", p, err)
			}
			return out
		}
		if onEvent != nil && strings.HasPrefix(p, "42") {
			onEvent(p[2:])
			continue
		}
		if !strings.HasPrefix(p, "42") {
			c.t.Fatalf("waiting for ack %d, got %q", id, p)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHelperRoutes(t *testing.T) {
	_, hs := testServer(t, Options{Namespace: "brokerd.0"})
	for path, want := range map[string]string{"/auth": `{"auth":false}`, "/name": "brokerd.0"} {
		resp, err := testHTTP.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q, want %q", path, b, want)
		}
	}
}

// pollEIO3 performs an EIO3 polling handshake and returns sid and the
// packets received until the CONNECT for "/".
func pollEIO3(t *testing.T, hs *httptest.Server) (string, []string) {
	t.Helper()
	resp, err := testHTTP.Get(hs.URL + "/socket.io/?EIO=3&transport=polling&t=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pkts := decodeEIO3(t, string(b))
	var open struct {
		Sid          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
	}
	if len(pkts) == 0 || json.Unmarshal([]byte(pkts[0][1:]), &open) != nil || open.Sid == "" {
		t.Fatalf("handshake body %q", b)
	}
	for i := 0; i < 3 && !contains(pkts, "40"); i++ {
		pkts = append(pkts, getPoll(t, hs, 3, open.Sid)...)
	}
	return open.Sid, pkts
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func getPoll(t *testing.T, hs *httptest.Server, eio int, sid string) []string {
	t.Helper()
	resp, err := testHTTP.Get(fmt.Sprintf("%s/socket.io/?EIO=%d&transport=polling&sid=%s", hs.URL, eio, sid))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("poll: %d %s", resp.StatusCode, b)
	}
	if eio == 4 {
		return strings.Split(string(b), "\x1e")
	}
	return decodeEIO3(t, string(b))
}

func postPoll(hs *httptest.Server, eio int, sid, body string) (int, error) {
	resp, err := testHTTP.Post(fmt.Sprintf("%s/socket.io/?EIO=%d&transport=polling&sid=%s", hs.URL, eio, sid), "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// decodeEIO3 splits "<len>:<packet>…" (ASCII test data: len = bytes).
func decodeEIO3(t *testing.T, s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, ':')
		n, err := strconv.Atoi(s[:max(i, 0)])
		if i < 0 || err != nil || i+1+n > len(s) {
			t.Fatalf("bad EIO3 payload %q", s)
		}
		out = append(out, s[i+1:i+1+n])
		s = s[i+1+n:]
	}
	return out
}

func TestEIO3PollingHandshakeSendsConnect(t *testing.T) {
	_, hs := testServer(t, Options{})
	sid, pkts := pollEIO3(t, hs)
	if !contains(pkts, "40") {
		t.Fatalf("no 40 for EIO3 without asking: %q", pkts)
	}
	// ack round trip over polling
	if code, err := postPoll(hs, 3, sid, encodeEIO3(`421["getVersion"]`)); err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	got := getPoll(t, hs, 3, sid)
	if !contains(got, `431[null,"1.2.3","brokerd"]`) {
		t.Fatalf("getVersion over polling: %q", got)
	}
}

func encodeEIO3(pkts ...string) string {
	var b strings.Builder
	for _, p := range pkts {
		b.WriteString(strconv.Itoa(len(p)) + ":" + p)
	}
	return b.String()
}

func TestEIO4PollingHandshake(t *testing.T) {
	_, hs := testServer(t, Options{})
	resp, err := testHTTP.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		Sid        string `json:"sid"`
		MaxPayload int64  `json:"maxPayload"`
	}
	if !bytes.HasPrefix(b, []byte("0{")) || json.Unmarshal(b[1:], &open) != nil || open.MaxPayload != DefaultMaxMessageSize {
		t.Fatalf("open %q", b)
	}
	// Real clients wait for the CONNECT answer before emitting: the library
	// connects a namespace asynchronously and closes a session whose event
	// arrives in the same payload as its "40".
	if code, err := postPoll(hs, 4, open.Sid, "40"); err != nil || code != 200 {
		t.Fatalf("post %d %v", code, err)
	}
	if got := getPoll(t, hs, 4, open.Sid); !strings.HasPrefix(got[0], `40{"sid":"`) {
		t.Fatalf("connect answer %q", got)
	}
	if code, err := postPoll(hs, 4, open.Sid, "420[\"authenticate\"]\x1e421[\"getVersion\"]"); err != nil || code != 200 {
		t.Fatalf("post %d %v", code, err)
	}
	var got []string
	for i := 0; i < 3 && !contains(got, `431[null,"1.2.3","brokerd"]`); i++ {
		got = append(got, getPoll(t, hs, 4, open.Sid)...)
	}
	if !contains(got, "430[true,null]") || !contains(got, `431[null,"1.2.3","brokerd"]`) {
		t.Fatalf("got %q", got)
	}
}

func TestAckRoundTrip(t *testing.T) {
	_, hs := testServer(t, Options{})
	for _, eio := range []int{3, 4} {
		c := dialWS(t, hs, eio)
		if got := mustJSON(t, c.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
			t.Errorf("EIO%d getVersion = %s", eio, got)
		}
		if got := mustJSON(t, c.call(nil, "authEnabled")); got != `[false,"admin"]` {
			t.Errorf("authEnabled = %s", got)
		}
		if got := mustJSON(t, c.call(nil, "name", "probe")); got != `[]` {
			t.Errorf("name = %s", got)
		}
		if got := mustJSON(t, c.call(nil, "noSuchCommand", 1)); got != `["Unknown command \"noSuchCommand\""]` {
			t.Errorf("unknown = %s", got)
		}
		if got := mustJSON(t, c.call(nil, "getObject")); !strings.Contains(got, `Parameter \"id\" is missing`) {
			t.Errorf("missing arg = %s", got)
		}
		if got := mustJSON(t, c.call(nil, "getObject", 5)); !strings.Contains(got, `needs to be of type \"string\" but type \"number\"`) {
			t.Errorf("wrong type = %s", got)
		}
		if got := mustJSON(t, c.call(nil, "getBinaryState", "x")); got != `["This function is deprecated"]` {
			t.Errorf("getBinaryState = %s", got)
		}
	}
}

func TestStatesObjectsFiles(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 3)
	if got := mustJSON(t, c.call(nil, "setObject", "test.0.num", map[string]any{"type": "state", "common": map[string]any{"name": "n", "type": "number"}, "native": map[string]any{}})); got != `[null,{"id":"test.0.num"}]` {
		t.Fatalf("setObject = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "getStates", "test.*")); got != `[null,{"test.0.num":null}]` {
		t.Errorf("getStates(pattern) = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "setState", "test.0.num", 7)); got != `[null,"test.0.num"]` {
		t.Errorf("setState = %s", got)
	}
	st := c.call(nil, "getState", "test.0.num")
	m, _ := st[1].(map[string]any)
	if m["val"] != 7.0 || m["ack"] != false || m["from"] != "system.adapter.brokerd.0" || m["user"] != "system.user.admin" {
		t.Errorf("getState = %v", st)
	}
	if got := mustJSON(t, c.call(nil, "getStates", []string{"test.0.num", "missing.0.x"})); !strings.Contains(got, `"missing.0.x":null`) || !strings.Contains(got, `"val":7`) {
		t.Errorf("getStates(list) = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "getObject", "nope.0")); got != `[null,null]` {
		t.Errorf("getObject(missing) = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "delObject", "vis.0", map[string]any{})); got != `[null]` {
		t.Errorf("delObject(admin) = %s", got)
	}
	c.call(nil, "setObject", "vis.0", map[string]any{"type": "meta", "common": map[string]any{"name": "vis", "type": "meta.user"}, "native": map[string]any{}})
	if got := mustJSON(t, c.call(nil, "writeFile", "vis.0", "p/a.txt", "hello")); got != `[null]` {
		t.Fatalf("writeFile = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "readFile", "vis.0", "p/a.txt")); got != `[null,"hello","text/plain"]` {
		t.Errorf("readFile = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "readFile", "vis.0", "p/none.txt")); got != `["Not exists"]` {
		t.Errorf("readFile(missing) = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "readFile64", "vis.0", "p/a.txt")); got != `[null,"aGVsbG8=","text/plain"]` {
		t.Errorf("readFile64 = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "fileExists", "vis.0", "p/a.txt")); got != `[null,true]` {
		t.Errorf("fileExists = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "readDir", "vis.0", "")); got != `[null,[{"file":"p","isDir":true,"stats":{}}]]` {
		t.Errorf("readDir = %s", got)
	}
}

func TestSubscriptionEventsOncePerSocket(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 4)
	c.call(nil, "subscribe", []string{"a.0.*", "a.0.x", "*"})
	c.call(nil, "subscribeObjects", "a.*")
	var events []string
	c.call(func(e string) { events = append(events, e) }, "setState", "a.0.x", map[string]any{"val": 1, "ack": true})
	c.call(func(e string) { events = append(events, e) }, "delState", "a.0.x")
	c.call(func(e string) { events = append(events, e) }, "setObject", "a.0", map[string]any{"type": "device", "common": map[string]any{"name": "d"}, "native": map[string]any{}})
	// a round trip after the writes lets trailing events arrive
	c.call(func(e string) { events = append(events, e) }, "getVersion")
	var sc, del, oc int
	for _, e := range events {
		switch {
		case strings.HasPrefix(e, `["stateChange","a.0.x",{`):
			sc++
		case e == `["stateChange","a.0.x",null]`:
			del++
		case strings.HasPrefix(e, `["objectChange","a.0",{`):
			oc++
		}
	}
	if sc != 1 || del != 1 || oc != 1 {
		t.Fatalf("want one stateChange, one deletion, one objectChange; got %q", events)
	}
	c.call(nil, "unsubscribe", []string{"a.0.*", "a.0.x", "*"})
	events = nil
	c.call(func(e string) { events = append(events, e) }, "setState", "a.0.x", 2)
	c.call(func(e string) { events = append(events, e) }, "getVersion")
	for _, e := range events {
		if strings.HasPrefix(e, `["stateChange"`) {
			t.Fatalf("event after unsubscribe: %s", e)
		}
	}
}

// TestOrderOfManySetStates sends 5,000 setStates without waiting and checks
// that acks come back in order and the last write wins.
func TestOrderOfManySetStates(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 4)
	c.call(nil, "subscribe", "order.0.x")
	const n = 5000
	go func() {
		for i := 1; i <= n; i++ {
			p := "42" + strconv.Itoa(i) + `["setState","order.0.x",` + strconv.Itoa(i) + "]"
			if err := c.ws.WriteMessage(websocket.TextMessage, []byte(p)); err != nil {
				return
			}
		}
	}()
	next, lastVal := 1, 0
	for next <= n {
		p := c.read()
		switch {
		case strings.HasPrefix(p, "43"):
			want := "43" + strconv.Itoa(next) + `[null,"order.0.x"]`
			if p != want {
				t.Fatalf("ack out of order: got %q, want %q", p, want)
			}
			next++
		case strings.HasPrefix(p, `42["stateChange","order.0.x",`):
			var ev []any
			_ = json.Unmarshal([]byte(p[2:]), &ev)
			v := int(ev[2].(map[string]any)["val"].(float64))
			if v <= lastVal {
				t.Fatalf("stateChange went back: %d after %d", v, lastVal)
			}
			lastVal = v
		}
	}
	c.id = n
	st := c.call(nil, "getState", "order.0.x")
	if v := st[1].(map[string]any)["val"]; v != float64(n) {
		t.Fatalf("final value %v, want %d", v, n)
	}
}

// TestMalformedPacketsCloseOnlyThatConnection feeds broken packets to one
// connection each and checks that it is closed while another keeps working.
func TestMalformedPacketsCloseOnlyThatConnection(t *testing.T) {
	_, hs := testServer(t, Options{MaxMessageSize: 64 << 10})
	healthy := dialWS(t, hs, 3)
	for _, bad := range []string{"42", "42[", `41000000-["writeFile",{"_placeholder":true,"num":0}]`, `451000000-["writeFile",{"_placeholder":true,"num":0}]`} {
		for _, eio := range []int{3, 4} {
			c := dialWS(t, hs, eio)
			c.send(bad)
			if !c.closed(5 * time.Second) {
				t.Errorf("EIO%d %q: connection not closed", eio, bad)
			}
			if got := mustJSON(t, healthy.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
				t.Fatalf("healthy connection broken after %q: %s", bad, got)
			}
		}
	}

	// an oversized polling body, sent chunked (no Content-Length)
	sid, _ := pollEIO3(t, hs)
	big := encodeEIO3(`42["log","` + strings.Repeat("x", 100<<10) + `"]`)
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/socket.io/?EIO=3&transport=polling&sid="+sid, io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", resp.StatusCode)
	}
	r2, err := testHTTP.Get(hs.URL + "/socket.io/?EIO=3&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode == 200 && !strings.Contains(string(b), "1:1") {
		t.Errorf("session still open after oversized body: %d %q", r2.StatusCode, b)
	}
	if got := mustJSON(t, healthy.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
		t.Fatalf("healthy connection broken: %s", got)
	}

	// an oversized websocket frame
	c := dialWS(t, hs, 4)
	// the server may reset the connection while the frame is still being written
	err = c.ws.WriteMessage(websocket.TextMessage, []byte(`42["log","`+strings.Repeat("y", 100<<10)+`"]`))
	if err == nil && !c.closed(5*time.Second) {
		t.Error("oversized websocket frame: connection not closed")
	}
}

type fixedAuth struct {
	sub *acl.Subject
	err error
}

func (a fixedAuth) Authenticate(*Handshake) (Session, error) {
	if a.err != nil {
		return nil, a.err
	}
	return StaticSession{a.sub}, nil
}

func TestRefusedSocketGetsReauthenticateThenError(t *testing.T) {
	_, hs := testServer(t, Options{AuthEnabled: true, Authenticator: fixedAuth{err: ErrInvalidLogin}})
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=3&transport=websocket&user=admin&pass=wrong"
	ws, _, err := testDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var got []string
	for len(got) < 3 {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(b))
	}
	if got[1] != `42["reauthenticate"]` || got[2] != `44"Invalid password or user name"` {
		t.Fatalf("got %q", got)
	}
}

func TestPermissionDenied(t *testing.T) {
	sub := &acl.Subject{User: "system.user.guest", Groups: []string{"system.group.user"}}
	sub.Perms.State.Read = true
	_, hs := testServer(t, Options{Authenticator: fixedAuth{sub: sub}, Authorizer: SubjectAuthorizer{}})
	c := dialWS(t, hs, 3)
	if got := mustJSON(t, c.call(nil, "setState", "a.0.x", 1)); got != `["permissionError"]` {
		t.Errorf("setState = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "sendToHost", "h", "cmdExec", nil)); got != `[{"error":"permissionError"}]` {
		t.Errorf("sendToHost = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "authEnabled")); got != `[false,"guest"]` {
		t.Errorf("authEnabled = %s", got)
	}
	c.send(`42["setObject","a.0.x",{}]`)
	if p := c.read(); p != `42["permissionError",{"args":["a.0.x"],"command":"setObject","operation":"write","type":"object"}]` {
		t.Errorf("event = %s", p)
	}
	if got := mustJSON(t, c.call(nil, "getState", "a.0.x")); got != `[null,null]` {
		t.Errorf("allowed getState = %s", got)
	}
}

func TestSendToWithoutRouterAnswers(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 4)
	if got := mustJSON(t, c.call(nil, "sendTo", "hue.0", "browse", nil)); got != `[{"error":"instance hue.0 is not connected"}]` {
		t.Errorf("sendTo = %s", got)
	}
	if got := mustJSON(t, c.call(nil, "sendTo", "hue.0", "browse")); !strings.Contains(got, `Parameter \"message\" is missing`) {
		t.Errorf("short sendTo = %s", got)
	}
}

func TestBinaryReadFileIsAttachment(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 3)
	c.call(nil, "setObject", "vis.0", map[string]any{"type": "meta", "common": map[string]any{"name": "vis", "type": "meta.user"}, "native": map[string]any{}})
	if got := mustJSON(t, c.call(nil, "writeFile64", "vis.0", "b.dat", "AAEC/f7/")); got != `[null]` {
		t.Fatalf("writeFile64 = %s", got)
	}
	c.send(`4277["readFile","vis.0","b.dat"]`)
	if p := c.read(); p != `461-77[null,{"_placeholder":true,"num":0},"application/octet-stream"]` {
		t.Fatalf("binary ack header %q", p)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, b, err := c.ws.ReadMessage()
	if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(b, []byte{4, 0, 1, 2, 0xfd, 0xfe, 0xff}) {
		t.Fatalf("attachment %d % x %v", mt, b, err)
	}
}
