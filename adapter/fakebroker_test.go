package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/pattern"
	"github.com/coder/websocket"
)

// fakeBroker is a minimal in-process EIO4 Socket.IO server speaking the
// subset of the brokerd protocol the SDK uses, so the SDK's own behaviour
// (routing, reconnects, acks) is testable without the real server.
type fakeBroker struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	states  map[string]map[string]any
	objects map[string]map[string]any
	conns   map[*fakeConn]bool
	auths   []map[string]any
	refuse  string            // refuse connects with this message
	fail    map[string]string // setState id → error text
	cmds    []string
	connCh  chan *fakeConn
}

type fakeConn struct {
	b        *fakeBroker
	ws       *websocket.Conn
	instance string
	writeMu  sync.Mutex
	mu       sync.Mutex
	subs     map[string]*pattern.Matcher
	nextAck  int
	acks     map[int]chan json.RawMessage
	done     chan struct{}
}

func newFakeBroker(t *testing.T) *fakeBroker {
	b := &fakeBroker{t: t, states: map[string]map[string]any{}, objects: map[string]map[string]any{},
		conns: map[*fakeConn]bool{}, fail: map[string]string{}, connCh: make(chan *fakeConn, 64)}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.kick()
		b.srv.Close()
	})
	return b
}

func (b *fakeBroker) URL() string { return b.srv.URL }

func (b *fakeBroker) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	if ws.Write(ctx, websocket.MessageText, []byte(`0{"sid":"x","pingInterval":25000,"pingTimeout":20000,"upgrades":[]}`)) != nil {
		return
	}
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.HasPrefix(string(data), "40") {
		return
	}
	var auth map[string]any
	json.Unmarshal(data[2:], &auth)
	b.mu.Lock()
	b.auths = append(b.auths, auth)
	refuse := b.refuse
	b.mu.Unlock()
	if refuse != "" {
		msg, _ := json.Marshal(map[string]string{"message": refuse})
		ws.Write(ctx, websocket.MessageText, append([]byte("44"), msg...))
		return
	}
	inst, _ := auth["instance"].(string)
	c := &fakeConn{b: b, ws: ws, instance: inst, subs: map[string]*pattern.Matcher{}, acks: map[int]chan json.RawMessage{}, done: make(chan struct{})}
	defer close(c.done)
	b.mu.Lock()
	b.conns[c] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
	}()
	if c.write(`40{"sid":"n"}`) != nil {
		return
	}
	b.connCh <- c
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		s := string(data)
		switch {
		case s == "41":
			return
		case strings.HasPrefix(s, "43"):
			id, args := splitID(s[2:])
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil {
				var arr []json.RawMessage
				json.Unmarshal([]byte(args), &arr)
				if len(arr) > 0 {
					ch <- arr[0]
				} else {
					ch <- nil
				}
			}
		case strings.HasPrefix(s, "42"):
			id, args := splitID(s[2:])
			var arr []json.RawMessage
			if json.Unmarshal([]byte(args), &arr) != nil || len(arr) == 0 {
				continue
			}
			var cmd string
			json.Unmarshal(arr[0], &cmd)
			reply := b.handle(c, cmd, arr[1:])
			if id >= 0 {
				body, _ := json.Marshal(reply)
				c.write("43" + strconv.Itoa(id) + string(body))
			}
		}
	}
}

func splitID(s string) (int, string) {
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == 0 {
		return -1, s
	}
	n, _ := strconv.Atoi(s[:j])
	return n, s[j:]
}

func (c *fakeConn) write(s string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, []byte(s))
}

func (c *fakeConn) emit(event string, args ...any) {
	body, _ := json.Marshal(append([]any{event}, args...))
	c.write("42" + string(body))
}

// sendMessage delivers a sendTo message with an ack and waits for the reply.
func (c *fakeConn) sendMessage(t *testing.T, command string, message any) json.RawMessage {
	t.Helper()
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	body, _ := json.Marshal([]any{"message", map[string]any{"command": command, "message": message,
		"from": "system.adapter.test.0", "callback": map[string]any{"id": id, "ack": false, "time": 1}}})
	c.write("42" + strconv.Itoa(id) + string(body))
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("no reply to message %q", command)
		return nil
	}
}

func strs(r json.RawMessage) []string {
	var one string
	if json.Unmarshal(r, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(r, &many)
	return many
}

func (b *fakeBroker) handle(c *fakeConn, cmd string, args []json.RawMessage) []any {
	arg := func(i int) json.RawMessage {
		if i < len(args) {
			return args[i]
		}
		return json.RawMessage("null")
	}
	var id string
	json.Unmarshal(arg(0), &id)
	b.mu.Lock()
	b.cmds = append(b.cmds, cmd+" "+id)
	b.mu.Unlock()
	switch cmd {
	case "subscribe", "unsubscribe":
		c.mu.Lock()
		for _, p := range strs(arg(0)) {
			if cmd == "subscribe" {
				c.subs[p] = pattern.MustCompile(p)
			} else {
				delete(c.subs, p)
			}
		}
		c.mu.Unlock()
		return []any{nil}
	case "setState":
		b.mu.Lock()
		if text := b.fail[id]; text != "" {
			b.mu.Unlock()
			return []any{text}
		}
		st := map[string]any{}
		if json.Unmarshal(arg(1), &st) != nil {
			st = map[string]any{"val": arg(1)}
		}
		if _, ok := st["ack"]; !ok {
			st["ack"] = false
		}
		if _, ok := st["from"]; !ok {
			st["from"] = "system.adapter." + c.instance
		}
		st["ts"] = float64(time.Now().UnixMilli())
		b.states[id] = st
		b.mu.Unlock()
		b.publish(id, st)
		return []any{nil, id}
	case "getState":
		b.mu.Lock()
		defer b.mu.Unlock()
		if st, ok := b.states[id]; ok {
			return []any{nil, st}
		}
		return []any{nil, nil}
	case "setObject":
		var o map[string]any
		json.Unmarshal(arg(1), &o)
		o["_id"] = id
		b.mu.Lock()
		b.objects[id] = o
		b.mu.Unlock()
		return []any{nil, map[string]any{"id": id}}
	case "getObject":
		b.mu.Lock()
		defer b.mu.Unlock()
		if o, ok := b.objects[id]; ok {
			return []any{nil, o}
		}
		return []any{nil, nil}
	case "extendObject":
		var patch map[string]any
		json.Unmarshal(arg(1), &patch)
		b.mu.Lock()
		defer b.mu.Unlock()
		o := b.objects[id]
		if o == nil {
			o = map[string]any{"_id": id}
		}
		for k, v := range patch {
			if pm, ok := v.(map[string]any); ok {
				om, _ := o[k].(map[string]any)
				if om == nil {
					om = map[string]any{}
				}
				for kk, vv := range pm {
					om[kk] = vv
				}
				v = om
			}
			o[k] = v
		}
		b.objects[id] = o
		return []any{nil, map[string]any{"id": id, "value": o}}
	case "sendTo":
		return []any{map[string]any{"error": "instance " + id + " is not connected"}}
	}
	return []any{fmt.Sprintf("unknown command %s", cmd)}
}

func (b *fakeBroker) publish(id string, st any) {
	b.mu.Lock()
	var targets []*fakeConn
	for c := range b.conns {
		c.mu.Lock()
		for _, m := range c.subs {
			if m.Match(id) {
				targets = append(targets, c)
				break
			}
		}
		c.mu.Unlock()
	}
	b.mu.Unlock()
	for _, c := range targets {
		c.emit("stateChange", id, st)
	}
}

// write stores a state as another client would and publishes it.
func (b *fakeBroker) write(id string, val any, ack bool) {
	st := map[string]any{"val": val, "ack": ack, "ts": float64(time.Now().UnixMilli()), "from": "system.adapter.web.0"}
	b.mu.Lock()
	b.states[id] = st
	b.mu.Unlock()
	b.publish(id, st)
}

// kick drops every connection abruptly (a broker restart).
func (b *fakeBroker) kick() {
	b.mu.Lock()
	var cs []*fakeConn
	for c := range b.conns {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	for _, c := range cs {
		c.ws.CloseNow()
		<-c.done
	}
}

func (b *fakeBroker) waitConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-b.connCh:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection to the fake broker")
		return nil
	}
}

// waitSubs waits until c holds every pattern.
func (c *fakeConn) waitSubs(t *testing.T, patterns ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		missing := ""
		for _, p := range patterns {
			if c.subs[p] == nil {
				missing = p
			}
		}
		c.mu.Unlock()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection never subscribed %q", missing)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *fakeBroker) state(id string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states[id]
}
