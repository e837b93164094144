package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// fakeBroker is a minimal in-process EIO3 ioBroker (setObject, setState,
// subscribe, getStates, getObjectView) so the scenarios' bookkeeping can be
// tested without a real server.
type fakeBroker struct {
	mu      sync.Mutex
	objects map[string]json.RawMessage
	states  map[string]json.RawMessage
	conns   map[*fakeConn]struct{}
}

type fakeConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	subs []string // guarded by fakeBroker.mu
}

func (c *fakeConn) write(ctx context.Context, s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.Write(ctx, websocket.MessageText, []byte(s))
}

func newFakeBroker(t testing.TB) string {
	b := &fakeBroker{objects: map[string]json.RawMessage{}, states: map[string]json.RawMessage{}, conns: map[*fakeConn]struct{}{}}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	return srv.URL
}

func fakeMatch(pattern, id string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(id, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == id
}

func (b *fakeBroker) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20)
	ctx := r.Context()
	c := &fakeConn{ws: ws}
	c.write(ctx, `0{"sid":"x","upgrades":[],"pingInterval":120000,"pingTimeout":30000}`)
	c.write(ctx, "40")
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		s := string(data)
		if s == "2" {
			c.write(ctx, "3")
			continue
		}
		if !strings.HasPrefix(s, "42") {
			continue
		}
		s = s[2:]
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		ack := s[:j]
		var args []json.RawMessage
		if json.Unmarshal([]byte(s[j:]), &args) != nil || len(args) == 0 {
			continue
		}
		var cmd string
		json.Unmarshal(args[0], &cmd)
		reply := b.handle(ctx, c, cmd, args[1:])
		if ack != "" && reply != "" {
			c.write(ctx, "43"+ack+reply)
		}
	}
}

func (b *fakeBroker) handle(ctx context.Context, c *fakeConn, cmd string, args []json.RawMessage) string {
	str := func(i int) string {
		var s string
		if i < len(args) {
			json.Unmarshal(args[i], &s)
		}
		return s
	}
	switch cmd {
	case "setObject":
		b.mu.Lock()
		b.objects[str(0)] = args[1]
		b.mu.Unlock()
		return `[null,{"id":` + string(args[0]) + `}]`
	case "setState":
		id := str(0)
		frame := `42["stateChange",` + string(args[0]) + `,` + string(args[1]) + `]`
		b.mu.Lock()
		b.states[id] = args[1]
		var to []*fakeConn
		for o := range b.conns {
			for _, p := range o.subs {
				if fakeMatch(p, id) {
					to = append(to, o)
					break
				}
			}
		}
		b.mu.Unlock()
		for _, o := range to {
			o.write(ctx, frame)
		}
		return `[null,` + string(args[0]) + `]`
	case "subscribe":
		var list []string
		if json.Unmarshal(args[0], &list) != nil {
			list = []string{str(0)}
		}
		b.mu.Lock()
		c.subs = append(c.subs, list...)
		b.mu.Unlock()
		return `[null]`
	case "getStates":
		p := str(0)
		m := map[string]json.RawMessage{}
		b.mu.Lock()
		for id := range b.objects {
			if fakeMatch(p, id) {
				v := b.states[id]
				if v == nil {
					v = json.RawMessage("null")
				}
				m[id] = v
			}
		}
		b.mu.Unlock()
		out, _ := json.Marshal(m)
		return `[null,` + string(out) + `]`
	case "getObjectView":
		var params struct{ Startkey, Endkey string }
		json.Unmarshal(args[2], &params)
		type row struct {
			ID    string          `json:"id"`
			Value json.RawMessage `json:"value"`
		}
		rows := []row{}
		b.mu.Lock()
		for id, o := range b.objects {
			if id >= params.Startkey && id <= params.Endkey {
				rows = append(rows, row{id, o})
			}
		}
		b.mu.Unlock()
		sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
		out, _ := json.Marshal(map[string]any{"rows": rows})
		return `[null,` + string(out) + `]`
	}
	return "" // unknown command: no answer, like ioBroker
}
