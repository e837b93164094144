package transport

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	"github.com/gorilla/websocket"
)

// The hostile-input suite: every case sends one malformed or malicious
// request over Socket.IO or REST and asserts the exact refusal, that the
// connection still answers (or was closed cleanly), that another client is
// still served, and that the stores are unchanged unless the case may write
// (then nothing may land outside an existing file namespace).
//
// HOSTILE_RECORD=1 prints the answers instead of comparing them.

// hostileLimits are small so that the limit cases stay cheap.
var hostileLimits = Limits{MaxObjectSize: 4096, MaxJSONDepth: 16, MaxIDLength: 200, MaxFileSize: 8192, MaxSubscriptions: 50}

func newHostileEnv(t *testing.T) *apiEnv {
	return newAPIEnv(t, func(o *Options) { o.Limits = hostileLimits })
}

// storeSum hashes objects (raw JSON), states and every file with its meta.
func storeSum(t *testing.T, e *apiEnv) string {
	t.Helper()
	h := sha256.New()
	e.obj.Range("", strings.Repeat("\U0010FFFF", 8), func(id string, _ *objects.Meta, raw json.RawMessage) bool {
		fmt.Fprintf(h, "o %q %s\n", id, raw)
		return true
	})
	e.st.All(func(id string, s *states.State) bool {
		b, _ := json.Marshal(s)
		fmt.Fprintf(h, "s %q %s\n", id, b)
		return true
	})
	for _, f := range allFiles(t, e) {
		fmt.Fprintf(h, "f %s\n", f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// allFiles lists "ns/path size acl content-hash" of every file.
func allFiles(t *testing.T, e *apiEnv) []string {
	t.Helper()
	admin := adminSubject()
	nss, err := e.fs.ReadDir("", "", admin)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(ns, dir string)
	walk = func(ns, dir string) {
		entries, err := e.fs.ReadDir(ns, dir, admin)
		if err != nil {
			t.Fatalf("ReadDir(%q, %q): %v", ns, dir, err)
		}
		for _, en := range entries {
			p := en.File
			if dir != "" {
				p = dir + "/" + en.File
			}
			if en.IsDir {
				walk(ns, p)
				continue
			}
			data, meta, err := e.fs.Read(ns, p, admin)
			if err != nil {
				t.Fatalf("Read(%q, %q): %v", ns, p, err)
			}
			sum := sha256.Sum256(data)
			out = append(out, fmt.Sprintf("%s/%s %d %v %s %x", ns, p, len(data), meta.ACL, meta.MimeType, sum[:8]))
		}
	}
	for _, ns := range nss {
		walk(ns.File, "")
	}
	sort.Strings(out)
	return out
}

// confined checks that every file is in a namespace that is a meta object
// and that no stored name could be taken for an escape.
func confined(t *testing.T, e *apiEnv, name string) {
	t.Helper()
	admin := adminSubject()
	nss, _ := e.fs.ReadDir("", "", admin)
	for _, ns := range nss {
		if _, m, ok := e.obj.GetRaw(ns.File); !ok || m == nil || m.Type != "meta" {
			t.Errorf("%s: files in namespace %q which is not a meta object", name, ns.File)
		}
	}
	for _, f := range allFiles(t, e) {
		p := strings.Fields(f)[0]
		if strings.Contains(p, "..") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00") {
			t.Errorf("%s: suspicious stored name %q", name, p)
		}
	}
}

var recordHostile = os.Getenv("HOSTILE_RECORD") != ""

// sioCase is one Socket.IO command; args are sent as JSON unless raw is set
// (a full event packet without ack id: "["cmd",…]"), bins are attachments.
type sioCase struct {
	name  string
	args  []any // command first
	raw   string
	bins  [][]byte
	want  string // exact first ack argument; "" = null
	write bool   // the stores may change (inside a namespace)
}

func (c *wsClient) callRaw(payload string, bins [][]byte) []any {
	c.t.Helper()
	c.id++
	id := strconv.Itoa(c.id)
	if len(bins) > 0 {
		c.send("45" + strconv.Itoa(len(bins)) + "-" + id + payload)
		for _, b := range bins {
			if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
				c.t.Fatal(err)
			}
		}
	} else {
		c.send("42" + id + payload)
	}
	prefix := "43" + id + "["
	for {
		p := c.read()
		if strings.HasPrefix(p, prefix) {
			var out []any
			if err := json.Unmarshal([]byte(p[len(prefix)-1:]), &out); err != nil {
				c.t.Fatalf("ack %q: %v", p, err)
			}
			return out
		}
		if strings.HasPrefix(p, "46") && strings.Contains(p, "-"+id+"[") {
			// binary ack: read the attachments and report the header
			n, _ := strconv.Atoi(p[2:strings.IndexByte(p, '-')])
			for range n {
				_, _, _ = c.ws.ReadMessage()
			}
			var out []any
			_ = json.Unmarshal([]byte(p[strings.Index(p, "["):]), &out)
			return out
		}
		if !strings.HasPrefix(p, "42") {
			c.t.Fatalf("waiting for ack %s, got %q", id, p)
		}
	}
}

func ackText(ack []any) string {
	if len(ack) == 0 || ack[0] == nil {
		return ""
	}
	if s, ok := ack[0].(string); ok {
		return s
	}
	b, _ := json.Marshal(ack[0])
	return string(b)
}

func deep(n int) any {
	var v any = "x"
	for range n {
		v = []any{v}
	}
	return v
}

func deepObj(n int) map[string]any {
	m := map[string]any{"leaf": true}
	for range n - 1 {
		m = map[string]any{"a": m}
	}
	return m
}

func stateObject(extra map[string]any) map[string]any {
	o := map[string]any{"type": "state", "common": map[string]any{"name": "x", "type": "mixed", "role": "state", "read": true, "write": true}, "native": map[string]any{}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// pathEscapes are names that try to leave their folder or namespace.
var pathEscapes = []string{"../../etc/passwd", `..\..\etc\passwd`, "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd", "a\x00b.txt", "a%00b.txt", "%252e%252e%252fsecret"}

// fileCommandCases sends every escape to every file command.
func fileCommandCases() []sioCase {
	var out []sioCase
	for i, p := range pathEscapes {
		tag := strconv.Itoa(i)
		out = append(out,
			sioCase{name: "readFile " + tag, args: []any{"readFile", "vis.0", p}},
			sioCase{name: "readFile64 " + tag, args: []any{"readFile64", "vis.0", p}},
			sioCase{name: "fileExists " + tag, args: []any{"fileExists", "vis.0", p}},
			sioCase{name: "readDir " + tag, args: []any{"readDir", "vis.0", p}},
			sioCase{name: "writeFile " + tag, args: []any{"writeFile", "vis.0", p, "pwned"}, write: true},
			sioCase{name: "writeFile64 " + tag, args: []any{"writeFile64", "vis.0", p, "cHduZWQ="}, write: true},
			sioCase{name: "mkdir " + tag, args: []any{"mkdir", "vis.0", p}, write: true},
			sioCase{name: "unlink " + tag, args: []any{"unlink", "vis.0", p}, write: true},
			sioCase{name: "deleteFile " + tag, args: []any{"deleteFile", "vis.0", p}, write: true},
			sioCase{name: "deleteFolder " + tag, args: []any{"deleteFolder", "vis.0", p}, write: true},
			sioCase{name: "rename from " + tag, args: []any{"rename", "vis.0", p, "x.txt"}, write: true},
			sioCase{name: "rename to " + tag, args: []any{"rename", "vis.0", "keep.txt", p}, write: true},
			sioCase{name: "renameFile " + tag, args: []any{"renameFile", "vis.0", "keep.txt", p}, write: true},
			sioCase{name: "chmodFile " + tag, args: []any{"chmodFile", "vis.0", p, map[string]any{"mode": 0x777}}, write: true},
			sioCase{name: "chownFile " + tag, args: []any{"chownFile", "vis.0", p, map[string]any{"owner": "system.user.admin", "ownerGroup": "system.group.administrator"}}, write: true},
			sioCase{name: "subscribeFiles " + tag, args: []any{"subscribeFiles", "vis.0", p}},
			// the same escapes as namespace
			sioCase{name: "readFile ns " + tag, args: []any{"readFile", p, "a.txt"}},
			sioCase{name: "writeFile ns " + tag, args: []any{"writeFile", p, "a.txt", "pwned"}, write: true},
			sioCase{name: "readDir ns " + tag, args: []any{"readDir", p, ""}},
		)
	}
	return out
}

// wrongTypeCases generates, from the dispatch table, one call per Param and
// wrong JSON kind, with valid values before it.
func wrongTypeCases() []sioCase {
	valid := map[Kind]any{KAny: "x", KString: "x", KObject: map[string]any{}, KBool: true, KPatterns: "x", KStrings: []any{}, KData: "x", KStringOrObject: "x"}
	kinds := []any{42.0, true, map[string]any{"k": 1}, []any{1.0}, "text"}
	var out []sioCase
	for _, name := range Commands() {
		cmd := commands[name]
		for i, p := range cmd.Params {
			if p.Kind == KAny {
				continue
			}
			for _, v := range kinds {
				if _, ok := convert(p.Kind, v); ok {
					continue
				}
				args := []any{name}
				for _, q := range cmd.Params[:i] {
					args = append(args, valid[q.Kind])
				}
				args = append(args, v)
				want := fmt.Sprintf("Parameter %q needs to be %s but type %q has been passed", p.Name, p.Kind.expect(), jsType(v))
				out = append(out, sioCase{name: fmt.Sprintf("type %s.%s=%s", name, p.Name, jsType(v)), args: args, want: want})
			}
		}
	}
	return out
}

func limitCases() []sioCase {
	big := strings.Repeat("x", 5000)
	bigObj := stateObject(map[string]any{"native": map[string]any{"blob": big}})
	n, _ := json.Marshal(bigObj)
	longID := "test.0." + strings.Repeat("i", 194) // 201 bytes
	tooDeep := "argument nested too deeply (limit 16)"
	idLong := "id too long: 201 bytes (limit 200)"
	return []sioCase{
		{name: "huge object", args: []any{"setObject", "test.0.big", bigObj}, want: fmt.Sprintf("object too large: %d bytes (limit 4096)", len(n))},
		{name: "huge extendObject", args: []any{"extendObject", "test.0.open", map[string]any{"native": map[string]any{"blob": big}}}, want: fmt.Sprintf("object too large: %d bytes (limit 4096)", len(`{"native":{"blob":""}}`)+5000)},
		{name: "object just under limit", args: []any{"setObject", "test.0.fits", stateObject(map[string]any{"native": map[string]any{"blob": strings.Repeat("y", 3800)}})}, write: true},
		{name: "deep object", args: []any{"setObject", "test.0.deep", stateObject(map[string]any{"native": deepObj(16)})}, want: tooDeep},
		{name: "deep state", args: []any{"setState", "test.0.open", deep(17)}, want: tooDeep},
		{name: "deep state object", args: []any{"setState", "test.0.open", map[string]any{"val": deep(16)}}, want: tooDeep},
		{name: "deep options", args: []any{"writeFile", "vis.0", "a.txt", "x", deepObj(17)}, want: tooDeep},
		{name: "deep pattern list", args: []any{"getStates", []any{deep(16)}}, want: tooDeep},
		{name: "deep sendTo message", args: []any{"sendTo", "x.0", "cmd", deepObj(20)}, want: tooDeep},
		{name: "deep unknown-free log", args: []any{"log", deep(100), "info"}, want: tooDeep},
		{name: "very deep 5000", args: []any{"setState", "test.0.open", deep(5000)}, want: tooDeep},
		{name: "depth at limit ok", args: []any{"setState", "test.0.open", map[string]any{"val": deep(14)}}, write: true},
		{name: "long id setObject", args: []any{"setObject", longID, stateObject(nil)}, want: idLong},
		{name: "long id getObject", args: []any{"getObject", longID}, want: idLong},
		{name: "long id setState", args: []any{"setState", longID, 1}, want: idLong},
		{name: "long id getState", args: []any{"getState", longID}, want: idLong},
		{name: "long id delObject", args: []any{"delObject", longID, map[string]any{}}, want: idLong},
		{name: "long id getObjects", args: []any{"getObjects", []any{"a.0", longID}}, want: idLong},
		{name: "long namespace", args: []any{"readFile", longID, "a.txt"}, want: idLong},
		{name: "huge file", args: []any{"writeFile", "vis.0", "big.txt", strings.Repeat("z", 9000)}, want: "file too large: 9000 bytes exceeds the limit of 8192 bytes"},
		{name: "huge file64", args: []any{"writeFile64", "vis.0", "big.bin", base64.StdEncoding.EncodeToString(make([]byte, 8193))}, want: "file too large: 8193 bytes exceeds the limit of 8192 bytes"},
		{name: "huge binary file", raw: `["writeFile","vis.0","big.bin",{"_placeholder":true,"num":0}]`, bins: [][]byte{make([]byte, 8200)}, want: "file too large: 8200 bytes exceeds the limit of 8192 bytes"},
		{name: "file at limit", args: []any{"writeFile", "vis.0", "fits.txt", strings.Repeat("z", 8192)}, write: true},
		{name: "too many patterns", args: []any{"subscribe", manyPatterns(51)}, want: "too many subscriptions (limit 50)"},
		{name: "too many object patterns", args: []any{"subscribeObjects", manyPatterns(60)}, want: "too many subscriptions (limit 50)"},
		{name: "too many file patterns", args: []any{"subscribeFiles", "vis.0", manyPatterns(51)}, want: "too many subscriptions (limit 50)"},
	}
}

func manyPatterns(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "p." + strconv.Itoa(i) + ".*"
	}
	return out
}

func keyAndIDCases() []sioCase {
	var out []sioCase
	for _, k := range []string{"__proto__", "constructor", "prototype"} {
		out = append(out,
			sioCase{name: "object key " + k, args: []any{"setObject", "test.0.k" + k, stateObject(map[string]any{k: map[string]any{"admin": true}})}, write: true},
			sioCase{name: "common key " + k, args: []any{"extendObject", "test.0.open", map[string]any{"common": map[string]any{k: map[string]any{"polluted": true}}}}, write: true},
			sioCase{name: "state key " + k, args: []any{"setState", "test.0.open", map[string]any{"val": 1, k: map[string]any{"x": 1}}}},
			sioCase{name: "state id " + k, args: []any{"setState", k, 1}, write: true},
			sioCase{name: "object id " + k, args: []any{"setObject", k, stateObject(nil)}, write: true},
			sioCase{name: "get id " + k, args: []any{"getObject", k}},
		)
	}
	for i, id := range []string{"a*b.0", "a?b.0", "a[0]", "test.0.", "a b.0", `a"b.0`, "a'b.0", "a$%$b.0", "", "test..0", "a\nb", "."} {
		tag := strconv.Itoa(i)
		out = append(out,
			sioCase{name: "bad id setState " + tag, args: []any{"setState", id, 1}, write: true},
			sioCase{name: "bad id setObject " + tag, args: []any{"setObject", id, stateObject(nil)}, write: true},
		)
	}
	// invalid UTF-8: the JSON decoder replaces it with U+FFFD
	for i, raw := range []string{"[\"setState\",\"test.0.\xff\xfe\",1]", "[\"setObject\",\"test.0.\xc3\x28\",{\"type\":\"state\",\"common\":{},\"native\":{}}]", "[\"getState\",\"\xed\xa0\x80\"]", "[\"writeFile\",\"vis.0\",\"\xff.txt\",\"x\"]", "[\"setState\",\"test.0.open\",\"\xff\xfe\"]"} {
		out = append(out, sioCase{name: "invalid utf8 " + strconv.Itoa(i), raw: raw, write: true})
	}
	// binary where text is expected
	bin := [][]byte{{0xff, 0, 1}}
	ph := `{"_placeholder":true,"num":0}`
	for _, r := range []struct{ name, raw, want string }{
		{"getObject", `["getObject",` + ph + `]`, `Parameter "id" needs to be of type "string" but type "Buffer" has been passed`},
		{"readFile ns", `["readFile",` + ph + `,"a.txt"]`, `Parameter "adapter" needs to be of type "string" but type "Buffer" has been passed`},
		{"writeFile64", `["writeFile64","vis.0","a.bin",` + ph + `]`, `Parameter "data64" needs to be of type "string" but type "Buffer" has been passed`},
		{"subscribe", `["subscribe",` + ph + `]`, `Parameter "pattern" needs to be of type "string" or an array of strings but type "Buffer" has been passed`},
		{"setState id", `["setState",` + ph + `,1]`, ""},
		{"getState id", `["getState",` + ph + `]`, ""},
		{"setObject obj", `["setObject","test.0.bin",` + ph + `]`, ""},
	} {
		out = append(out, sioCase{name: "binary " + r.name, raw: r.raw, bins: bin, want: r.want, write: true})
	}
	return out
}

// TestHostileSocketIO runs every Socket.IO case on one admin connection.
func TestHostileSocketIO(t *testing.T) {
	e := newHostileEnv(t)
	if err := e.fs.Write("vis.0", "keep.txt", []byte("keep"), true, files.WriteOptions{}, adminSubject()); err != nil {
		t.Fatal(err)
	}
	c := dialWSToken(t, e.hs, e.tokens["admin"])
	other := dialWSToken(t, e.hs, e.tokens["writer"])
	var cases []sioCase
	cases = append(cases, fileCommandCases()...)
	cases = append(cases, wrongTypeCases()...)
	cases = append(cases, limitCases()...)
	cases = append(cases, keyAndIDCases()...)
	expect := hostileExpectations()
	var record []string
	for _, tc := range cases {
		before := storeSum(t, e)
		var ack []any
		if tc.raw != "" {
			ack = c.callRaw(tc.raw, tc.bins)
		} else {
			payload := mustJSON(t, tc.args)
			ack = c.callRaw(payload, nil)
		}
		got := ackText(ack)
		want, fixed := tc.want, tc.want != ""
		if w, ok := expect[tc.name]; ok && !fixed {
			want, fixed = w, true
		}
		if recordHostile {
			record = append(record, fmt.Sprintf("%q: %q,", tc.name, got))
		} else if fixed && got != want {
			t.Errorf("%s: ack %q, want %q", tc.name, got, want)
		} else if !fixed && got != "" {
			t.Errorf("%s: ack %q, want success", tc.name, got)
		}
		if v := mustJSON(t, c.call(nil, "getVersion")); v != `[null,"1.2.3","brokerd"]` {
			t.Fatalf("%s: connection unusable afterwards: %s", tc.name, v)
		}
		if v := mustJSON(t, other.call(nil, "getVersion")); v != `[null,"1.2.3","brokerd"]` {
			t.Fatalf("%s: other client unusable afterwards: %s", tc.name, v)
		}
		if after := storeSum(t, e); !tc.write && after != before {
			t.Errorf("%s: the stores changed", tc.name)
		}
		if tc.write {
			confined(t, e, tc.name)
		}
		// leave no subscriptions behind for the subscription cases
		c.call(nil, "unsubscribeFiles", "vis.0", append(manyPatterns(0), anyList(pathEscapes)...))
	}
	if recordHostile {
		t.Log("\n" + strings.Join(record, "\n"))
	}
	t.Logf("%d Socket.IO cases", len(cases))
	if len(cases) < 100 {
		t.Errorf("only %d cases", len(cases))
	}
}

// restCase is one REST request as admin unless user is set.
type restCase struct {
	name         string
	method, path string
	body         string
	hdr          []string
	user         string // "" = admin; "-" = no credentials
	status       int
	want         string // exact "error"; "" = no error body checked
	write        bool
}

func restCases(e *apiEnv) []restCase {
	big := strings.Repeat("x", 5000)
	bigObj, _ := json.Marshal(stateObject(map[string]any{"native": map[string]any{"blob": big}}))
	deepBody, _ := json.Marshal(stateObject(map[string]any{"native": deepObj(16)}))
	longID := "test.0." + strings.Repeat("i", 194)
	tooDeep := "argument nested too deeply (limit 16)"
	cases := []restCase{
		{name: "huge object", method: "PUT", path: "/api/v1/objects/test.0.big", body: string(bigObj), status: 413, want: fmt.Sprintf("object too large: %d bytes (limit 4096)", len(bigObj))},
		{name: "deep object", method: "PUT", path: "/api/v1/objects/test.0.deep", body: string(deepBody), status: 400, want: tooDeep},
		{name: "deep state", method: "PUT", path: "/api/v1/states/test.0.open", body: strings.Repeat("[", 17) + strings.Repeat("]", 17), status: 400, want: tooDeep},
		{name: "deep state strings", method: "PUT", path: "/api/v1/states/test.0.open", body: `{"val":"` + strings.Repeat("[", 40) + `"}`, status: 200, write: true},
		{name: "very deep state", method: "PUT", path: "/api/v1/states/test.0.open", body: strings.Repeat(`{"a":`, 3000) + "1" + strings.Repeat("}", 3000), status: 400, want: tooDeep},
		{name: "long id get", method: "GET", path: "/api/v1/objects/" + longID, status: 400, want: "id too long: 201 bytes (limit 200)"},
		{name: "long id state", method: "PUT", path: "/api/v1/states/" + longID, body: "1", status: 400, want: "id too long: 201 bytes (limit 200)"},
		{name: "huge file", method: "PUT", path: "/api/v1/files/vis.0/big.bin", body: strings.Repeat("z", 9000), status: 413, want: "file too large: 9000 bytes exceeds the limit of 8192 bytes"},
		{name: "not JSON object", method: "PUT", path: "/api/v1/objects/test.0.x", body: "{", status: 400},
		{name: "proto object", method: "PUT", path: "/api/v1/objects/test.0.proto", body: `{"type":"state","common":{"name":"p"},"native":{},"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`, status: 200, write: true},
		{name: "proto state", method: "PUT", path: "/api/v1/states/test.0.open", body: `{"val":1,"__proto__":{"ack":true}}`},
		{name: "invalid utf8 id", method: "GET", path: "/api/v1/states/test.0.%FF%FE"},
		{name: "invalid utf8 set", method: "PUT", path: "/api/v1/states/test.0.%FF", body: "1", write: true},
		{name: "NUL id", method: "PUT", path: "/api/v1/states/test.0.a%00b", body: "1", write: true},
		{name: "star id", method: "PUT", path: "/api/v1/objects/a*b.0", body: `{"type":"state","common":{},"native":{}}`, write: true},
		{name: "bad pattern", method: "GET", path: "/api/v1/states?pattern=%5B", status: 0},
		// auth
		{name: "no credentials", method: "GET", path: "/api/v1/objects/test.0.open", user: "-", status: 401},
		{name: "made-up token", method: "GET", path: "/api/v1/objects/test.0.open", user: "-", hdr: []string{"Authorization", "Bearer deadbeefdeadbeefdeadbeefdeadbeef"}, status: 401},
		{name: "made-up cookie", method: "GET", path: "/api/v1/objects/test.0.open", user: "-", hdr: []string{"Cookie", "access_token=forged"}, status: 401},
		{name: "cookie other origin", method: "GET", path: "/api/v1/objects/test.0.open", user: "-", hdr: []string{"Cookie", "access_token=" + e.tokens["admin"], "Origin", "http://evil.example"}, status: 401},
		{name: "cookie other origin write", method: "PUT", path: "/api/v1/states/test.0.open", body: "666", user: "-", hdr: []string{"Cookie", "access_token=" + e.tokens["admin"], "Origin", "http://evil.example"}, status: 401},
		{name: "basic wrong", method: "GET", path: "/api/v1/objects/test.0.open", user: "-", hdr: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:nope"))}, status: 401},
		{name: "reader writes", method: "PUT", path: "/api/v1/states/test.0.open", body: "5", user: "reader", status: 403, want: "permissionError"},
	}
	// path escapes over REST
	for i, p := range []string{"..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd", "..%5c..%5cetc%5cpasswd", "a%00b.txt", "%252e%252e%252fx", "/%2fetc/passwd", "sub/../../x"} {
		tag := strconv.Itoa(i)
		cases = append(cases,
			restCase{name: "GET file " + tag, method: "GET", path: "/api/v1/files/vis.0/" + p},
			restCase{name: "PUT file " + tag, method: "PUT", path: "/api/v1/files/vis.0/" + p, body: "pwned", write: true},
			restCase{name: "DELETE file " + tag, method: "DELETE", path: "/api/v1/files/vis.0/" + p, write: true},
			restCase{name: "web file " + tag, method: "GET", path: "/files/vis.0/" + p},
			restCase{name: "GET ns " + tag, method: "GET", path: "/api/v1/files/" + p + "/a.txt"},
		)
	}
	return cases
}

// TestHostileREST runs the REST cases; after each, a Socket.IO client and
// another REST request must still be served.
func TestHostileREST(t *testing.T) {
	e := newHostileEnv(t)
	if err := e.fs.Write("vis.0", "keep.txt", []byte("keep"), true, files.WriteOptions{}, adminSubject()); err != nil {
		t.Fatal(err)
	}
	other := dialWSToken(t, e.hs, e.tokens["writer"])
	expect := hostileRESTExpectations()
	var record []string
	cases := restCases(e)
	for _, tc := range cases {
		before := storeSum(t, e)
		user := tc.user
		if user == "" {
			user = "admin"
		}
		if user == "-" {
			user = ""
		}
		var body []byte
		if tc.method == "PUT" {
			body = []byte(tc.body)
		}
		status, b, _ := e.do(user, tc.method, tc.path, body, tc.hdr...)
		var errText string
		if status >= 400 {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				errText, _ = m["error"].(string)
			}
		}
		got := fmt.Sprintf("%d %s", status, errText)
		want := ""
		if tc.status != 0 {
			want = fmt.Sprintf("%d %s", tc.status, tc.want)
			if tc.want == "" && status >= 400 {
				want = fmt.Sprintf("%d %s", tc.status, errText)
			}
		}
		if w, ok := expect[tc.name]; ok {
			want = w
		}
		switch {
		case recordHostile:
			record = append(record, fmt.Sprintf("%q: %q,", tc.name, got))
		case want == "":
			t.Errorf("%s: no expectation; got %q", tc.name, got)
		case got != want:
			t.Errorf("%s: got %q, want %q", tc.name, got, want)
		}
		if status >= 500 {
			t.Errorf("%s: server error %d %s", tc.name, status, b)
		}
		if v := mustJSON(t, other.call(nil, "getVersion")); v != `[null,"1.2.3","brokerd"]` {
			t.Fatalf("%s: socket client unusable afterwards: %s", tc.name, v)
		}
		if st, _, _ := e.do("admin", "GET", "/api/v1/objects/test.0.open", nil); st != 200 {
			t.Fatalf("%s: REST unusable afterwards: %d", tc.name, st)
		}
		if after := storeSum(t, e); !tc.write && after != before {
			t.Errorf("%s: the stores changed", tc.name)
		}
		if tc.write {
			confined(t, e, tc.name)
		}
	}
	if recordHostile {
		t.Log("\n" + strings.Join(record, "\n"))
	}
	t.Logf("%d REST cases", len(cases))
}

// TestHostileSessions covers replayed, revoked, forged and cross-origin
// credentials on the Socket.IO handshake.
func TestHostileSessions(t *testing.T) {
	e := newHostileEnv(t)
	healthy := dialWSToken(t, e.hs, e.tokens["writer"])

	// a revoked token: the live socket is told to reauthenticate and closed,
	// replaying it is refused.
	tok := e.tokens["reader"]
	c := dialWSToken(t, e.hs, tok)
	if got := mustJSON(t, c.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
		t.Fatalf("reader: %s", got)
	}
	if err := e.svc.Sessions().Revoke(tok); err != nil {
		t.Fatal(err)
	}
	if !c.closed(5 * time.Second) {
		t.Error("socket of a revoked token not closed")
	}
	before := storeSum(t, e)
	for _, tc := range []struct {
		name  string
		query string
		hdr   http.Header
	}{
		{"revoked token replayed", "&token=" + url.QueryEscape(tok), nil},
		{"made-up token", "&token=0123456789abcdef0123456789abcdef", nil},
		{"empty token", "&token=", nil},
		{"made-up cookie", "", http.Header{"Cookie": {"access_token=forged"}}},
		{"revoked cookie", "", http.Header{"Cookie": {"access_token=" + tok}}},
		{"cookie from another origin", "", http.Header{"Cookie": {"access_token=" + e.tokens["admin"]}, "Origin": {"http://evil.example"}}},
		{"wrong password", "&user=admin&pass=nope", nil},
		{"token of another kind in user", "&user=" + url.QueryEscape(e.tokens["admin"]), nil},
	} {
		got := refusedHandshake(t, e, tc.query, tc.hdr)
		if got[0] != `42["reauthenticate"]` || !strings.HasPrefix(got[1], "44") {
			t.Errorf("%s: not refused: %q", tc.name, got)
		}
		if v := mustJSON(t, healthy.call(nil, "getVersion")); v != `[null,"1.2.3","brokerd"]` {
			t.Fatalf("%s: healthy client broken: %s", tc.name, v)
		}
	}
	if storeSum(t, e) != before {
		t.Error("refused handshakes changed the stores")
	}
}

// refusedHandshake connects with EIO3 and returns the two packets after the
// open packet.
func refusedHandshake(t *testing.T, e *apiEnv, query string, hdr http.Header) []string {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/socket.io/?EIO=3&transport=websocket" + query
	ws, _, err := testDialer.Dial(u, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var got []string
	for len(got) < 3 {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			got = append(got, "closed: "+err.Error())
			break
		}
		got = append(got, string(b))
	}
	for len(got) < 3 {
		got = append(got, "")
	}
	return got[1:]
}

// hostileExpectations are the exact answers of the cases without want.
func hostileExpectations() map[string]string {
	return map[string]string{
		"readFile 0":               "Not exists",
		"readFile64 0":             "Not exists",
		"deleteFile 0":             "Not exists",
		"renameFile 0":             "Not exists",
		"readFile ns 0":            "etcpasswd is not an object of type \"meta\"",
		"writeFile ns 0":           "etcpasswd is not an object of type \"meta\"",
		"readDir ns 0":             "etcpasswd is not an object of type \"meta\"",
		"deleteFile 1":             "Not exists",
		"renameFile 1":             "Not exists",
		"chmodFile 1":              "Not exists",
		"chownFile 1":              "Not exists",
		"readFile ns 1":            "etcpasswd is not an object of type \"meta\"",
		"writeFile ns 1":           "etcpasswd is not an object of type \"meta\"",
		"readDir ns 1":             "etcpasswd is not an object of type \"meta\"",
		"readFile 2":               "Not exists",
		"readFile64 2":             "Not exists",
		"fileExists 2":             "Not exists",
		"readDir 2":                "Not exists",
		"writeFile 2":              "Not exists",
		"writeFile64 2":            "Not exists",
		"mkdir 2":                  "Not exists",
		"unlink 2":                 "Not exists",
		"deleteFile 2":             "Not exists",
		"deleteFolder 2":           "Not exists",
		"rename from 2":            "Not exists",
		"rename to 2":              "Not exists",
		"renameFile 2":             "Not exists",
		"chmodFile 2":              "Not exists",
		"chownFile 2":              "Not exists",
		"readFile ns 2":            "%2e%2e%2e%2eetcpasswd is not an object of type \"meta\"",
		"writeFile ns 2":           "%2e%2e%2e%2eetcpasswd is not an object of type \"meta\"",
		"readDir ns 2":             "%2e%2e%2e%2eetcpasswd is not an object of type \"meta\"",
		"readFile 3":               "Not exists",
		"readFile64 3":             "Not exists",
		"deleteFile 3":             "Not exists",
		"renameFile 3":             "Not exists",
		"chmodFile 3":              "Not exists",
		"chownFile 3":              "Not exists",
		"readFile ns 3":            "etcpasswd is not an object of type \"meta\"",
		"writeFile ns 3":           "etcpasswd is not an object of type \"meta\"",
		"readDir ns 3":             "etcpasswd is not an object of type \"meta\"",
		"readFile 4":               "Not exists",
		"readFile64 4":             "Not exists",
		"fileExists 4":             "Not exists",
		"readDir 4":                "Not exists",
		"writeFile 4":              "Not exists",
		"writeFile64 4":            "Not exists",
		"mkdir 4":                  "Not exists",
		"unlink 4":                 "Not exists",
		"deleteFile 4":             "Not exists",
		"deleteFolder 4":           "Not exists",
		"rename from 4":            "Not exists",
		"rename to 4":              "Not exists",
		"renameFile 4":             "Not exists",
		"chmodFile 4":              "Not exists",
		"chownFile 4":              "Not exists",
		"readFile ns 4":            "ab.txt is not an object of type \"meta\"",
		"writeFile ns 4":           "ab.txt is not an object of type \"meta\"",
		"readDir ns 4":             "ab.txt is not an object of type \"meta\"",
		"readFile 5":               "Not exists",
		"readFile64 5":             "Not exists",
		"fileExists 5":             "Not exists",
		"readDir 5":                "Not exists",
		"writeFile 5":              "Not exists",
		"writeFile64 5":            "Not exists",
		"mkdir 5":                  "Not exists",
		"unlink 5":                 "Not exists",
		"deleteFile 5":             "Not exists",
		"deleteFolder 5":           "Not exists",
		"rename from 5":            "Not exists",
		"rename to 5":              "Not exists",
		"renameFile 5":             "Not exists",
		"chmodFile 5":              "Not exists",
		"chownFile 5":              "Not exists",
		"readFile ns 5":            "a%00b.txt is not an object of type \"meta\"",
		"writeFile ns 5":           "a%00b.txt is not an object of type \"meta\"",
		"readDir ns 5":             "a%00b.txt is not an object of type \"meta\"",
		"readFile 6":               "Not exists",
		"readFile64 6":             "Not exists",
		"fileExists 6":             "Not exists",
		"readDir 6":                "Not exists",
		"writeFile 6":              "Not exists",
		"writeFile64 6":            "Not exists",
		"mkdir 6":                  "Not exists",
		"unlink 6":                 "Not exists",
		"deleteFile 6":             "Not exists",
		"deleteFolder 6":           "Not exists",
		"rename from 6":            "Not exists",
		"rename to 6":              "Not exists",
		"renameFile 6":             "Not exists",
		"chmodFile 6":              "Not exists",
		"chownFile 6":              "Not exists",
		"readFile ns 6":            "%252e%252e%252fsecret is not an object of type \"meta\"",
		"writeFile ns 6":           "%252e%252e%252fsecret is not an object of type \"meta\"",
		"readDir ns 6":             "%252e%252e%252fsecret is not an object of type \"meta\"",
		"huge object":              "object too large: 5114 bytes (limit 4096)",
		"huge extendObject":        "object too large: 5022 bytes (limit 4096)",
		"deep object":              "argument nested too deeply (limit 16)",
		"deep state":               "argument nested too deeply (limit 16)",
		"deep state object":        "argument nested too deeply (limit 16)",
		"deep options":             "argument nested too deeply (limit 16)",
		"deep pattern list":        "argument nested too deeply (limit 16)",
		"deep sendTo message":      "argument nested too deeply (limit 16)",
		"deep unknown-free log":    "argument nested too deeply (limit 16)",
		"very deep 5000":           "argument nested too deeply (limit 16)",
		"long id setObject":        "id too long: 201 bytes (limit 200)",
		"long id getObject":        "id too long: 201 bytes (limit 200)",
		"long id setState":         "id too long: 201 bytes (limit 200)",
		"long id getState":         "id too long: 201 bytes (limit 200)",
		"long id delObject":        "id too long: 201 bytes (limit 200)",
		"long id getObjects":       "id too long: 201 bytes (limit 200)",
		"long namespace":           "id too long: 201 bytes (limit 200)",
		"huge file":                "file too large: 9000 bytes exceeds the limit of 8192 bytes",
		"huge file64":              "file too large: 8193 bytes exceeds the limit of 8192 bytes",
		"huge binary file":         "file too large: 8200 bytes exceeds the limit of 8192 bytes",
		"too many patterns":        "too many subscriptions (limit 50)",
		"too many object patterns": "too many subscriptions (limit 50)",
		"too many file patterns":   "too many subscriptions (limit 50)",
		"state key __proto__":      "The state contains the forbidden properties __proto__!",
		"state key constructor":    "The state contains the forbidden properties constructor!",
		"state key prototype":      "The state contains the forbidden properties prototype!",
		"bad id setState 0":        "The id \"a*b.0\" contains forbidden characters",
		"bad id setObject 0":       "Invalid ID: a*b.0",
		"bad id setState 1":        "The id \"a?b.0\" contains forbidden characters",
		"bad id setObject 1":       "Invalid ID: a?b.0",
		"bad id setState 2":        "The id \"a[0]\" contains forbidden characters",
		"bad id setObject 2":       "Invalid ID: a[0]",
		"bad id setState 3":        "The id \"test.0.\" is invalid. Ids are not allowed to end in \".\"",
		"bad id setObject 3":       "The id \"test.0.\" is invalid. Ids are not allowed to end in \".\"",
		"bad id setState 5":        "The id \"a\"b.0\" contains forbidden characters",
		"bad id setObject 5":       "Invalid ID: a\"b.0",
		"bad id setState 6":        "The id \"a'b.0\" contains forbidden characters",
		"bad id setObject 6":       "Invalid ID: a'b.0",
		"bad id setObject 7":       "Invalid ID: a$%$b.0",
		"bad id setState 8":        "The id is empty! Please provide a valid id.",
		"bad id setObject 8":       "The id is empty! Please provide a valid id.",
		"bad id setState 10":       "The id \"a\nb\" contains forbidden characters",
		"bad id setObject 10":      "Invalid ID: a\nb",
		"bad id setState 11":       "The id \".\" is invalid. Ids are not allowed to end in \".\"",
		"bad id setObject 11":      "The id \".\" is invalid. Ids are not allowed to end in \".\"",
		"invalid utf8 0":           "The id \"test.0.��\" contains forbidden characters",
		"invalid utf8 1":           "Invalid ID: test.0.�(",
		"invalid utf8 2":           "The id \"���\" contains forbidden characters",
		"binary getObject":         "Parameter \"id\" needs to be of type \"string\" but type \"Buffer\" has been passed",
		"binary readFile ns":       "Parameter \"adapter\" needs to be of type \"string\" but type \"Buffer\" has been passed",
		"binary writeFile64":       "Parameter \"data64\" needs to be of type \"string\" but type \"Buffer\" has been passed",
		"binary subscribe":         "Parameter \"pattern\" needs to be of type \"string\" or an array of strings but type \"Buffer\" has been passed",
		"binary setState id":       "The id \"\"/wAB\"\" has an invalid type! Expected \"string\", received \"object\".",
		"binary getState id":       "The id \"\"/wAB\"\" has an invalid type! Expected \"string\", received \"object\".",
		"binary setObject obj":     "no object",
	}
}

// hostileRESTExpectations are "status error" of the REST cases.
func hostileRESTExpectations() map[string]string {
	return map[string]string{
		"huge object":               "413 object too large: 5114 bytes (limit 4096)",
		"deep object":               "400 argument nested too deeply (limit 16)",
		"deep state":                "400 argument nested too deeply (limit 16)",
		"deep state strings":        "200 ",
		"very deep state":           "400 argument nested too deeply (limit 16)",
		"long id get":               "400 id too long: 201 bytes (limit 200)",
		"long id state":             "400 id too long: 201 bytes (limit 200)",
		"huge file":                 "413 file too large: 9000 bytes exceeds the limit of 8192 bytes",
		"not JSON object":           "400 the body is not valid JSON: unexpected end of JSON input",
		"proto object":              "200 ",
		"proto state":               "400 The state contains the forbidden properties __proto__!",
		"invalid utf8 id":           "400 The id \"test.0.��\" contains forbidden characters",
		"invalid utf8 set":          "400 The id \"test.0.�\" contains forbidden characters",
		"NUL id":                    "400 The id \"test.0.a\x00b\" contains forbidden characters",
		"star id":                   "400 Invalid ID: a*b.0",
		"bad pattern":               "400 The pattern \"[\" is not a valid ID pattern",
		"no credentials":            "401 authentication required\nCannot detect user",
		"made-up token":             "401 authentication required\nCannot detect user",
		"made-up cookie":            "401 authentication required\nCannot detect user",
		"cookie other origin":       "401 authentication required\nOrigin not allowed",
		"cookie other origin write": "401 authentication required\nOrigin not allowed",
		"basic wrong":               "401 Invalid password or user name",
		"reader writes":             "403 permissionError",
		"GET file 0":                "400 invalid path",
		"PUT file 0":                "400 invalid path",
		"DELETE file 0":             "400 invalid path",
		"web file 0":                "400 invalid path",
		"GET ns 0":                  "400 invalid path",
		"GET file 1":                "400 invalid path",
		"PUT file 1":                "400 invalid path",
		"DELETE file 1":             "400 invalid path",
		"web file 1":                "400 invalid path",
		"GET ns 1":                  "400 invalid path",
		"GET file 2":                "400 invalid path",
		"PUT file 2":                "400 invalid path",
		"DELETE file 2":             "400 invalid path",
		"web file 2":                "400 invalid path",
		"GET ns 2":                  "400 invalid path",
		"GET file 3":                "400 invalid path",
		"PUT file 3":                "400 invalid path",
		"DELETE file 3":             "400 invalid path",
		"web file 3":                "400 invalid path",
		"GET ns 3":                  "400 invalid path",
		"GET file 4":                "400 invalid path",
		"PUT file 4":                "400 invalid path",
		"DELETE file 4":             "400 invalid path",
		"web file 4":                "400 invalid path",
		"GET ns 4":                  "404 %2e%2e%2fx is not an object of type \"meta\"",
		"GET file 5":                "400 invalid path",
		"PUT file 5":                "400 invalid path",
		"DELETE file 5":             "400 invalid path",
		"web file 5":                "400 invalid path",
		"GET ns 5":                  "404 %2fetc is not an object of type \"meta\"",
		"GET file 6":                "404 x is not an object of type \"meta\"",
		"PUT file 6":                "404 x is not an object of type \"meta\"",
		"DELETE file 6":             "400 refusing to delete a whole namespace",
		"web file 6":                "404 x is not an object of type \"meta\"",
		"GET ns 6":                  "404 ",
	}
}
