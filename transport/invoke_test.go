package transport

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/brokerd/brokerd/acl"
)

func TestInvoke(t *testing.T) {
	srv, _ := testServer(t, Options{Authorizer: SubjectAuthorizer{}})
	ctx := context.Background()
	admin := StaticSession{adminSubject()}
	guest := StaticSession{&acl.Subject{User: "system.user.guest", Perms: acl.Permissions{State: acl.Ops{Read: true}}}}

	ack, err := srv.Invoke(ctx, admin, "setState", []any{"a.0.b", map[string]any{"val": 3.0}})
	if err != nil || len(ack) != 2 || ack[0] != nil || ack[1] != "a.0.b" {
		t.Fatalf("setState: %v %v", ack, err)
	}
	ack, err = srv.Invoke(ctx, guest, "getState", []any{"a.0.b"})
	if raw, ok := ackArg(ack, 1).(json.RawMessage); err != nil || !ok || !strings.Contains(string(raw), `"val":3`) {
		t.Fatalf("getState: %v %v", ack, err)
	}
	// The gate: permission, arguments, unknown commands, socket-only commands.
	_, err = srv.Invoke(ctx, guest, "setState", []any{"a.0.b", 4.0})
	var denied *DeniedError
	if !errors.As(err, &denied) || denied.Perm != (Perm{"state", "write"}) || !errors.Is(err, ErrPermission) {
		t.Fatalf("denied: %v", err)
	}
	if _, err = srv.Invoke(ctx, admin, "getObject", []any{42.0}); httpStatus(err) != 400 {
		t.Fatalf("bad argument: %v", err)
	}
	if _, err = srv.Invoke(ctx, admin, "noSuchCommand", nil); httpStatus(err) != 400 {
		t.Fatalf("unknown: %v", err)
	}
	if _, err = srv.Invoke(ctx, admin, "subscribe", []any{"*"}); err == nil || !strings.Contains(err.Error(), "Socket.IO") {
		t.Fatalf("socket-only: %v", err)
	}
	if _, err = srv.Invoke(ctx, nil, "getVersion", nil); !errors.Is(err, ErrInvalidLogin) {
		t.Fatalf("nil session: %v", err)
	}
	// Handler errors keep their type.
	_, err = srv.Invoke(ctx, admin, "readFile", []any{"nometa.0", "x.txt"})
	if httpStatus(err) != 404 {
		t.Fatalf("readFile: %v (%d)", err, httpStatus(err))
	}
	before := srv.Stats().Commands
	_, _ = srv.Invoke(ctx, admin, "getVersion", nil)
	if srv.Stats().Commands != before+1 {
		t.Fatal("commands not counted")
	}
}

// TestACLSameAsSocketIO runs the same calls as the same users over
// Socket.IO and over REST: refused on one path ⇔ refused on the other.
func TestACLSameAsSocketIO(t *testing.T) {
	e := newAPIEnv(t)
	type call struct {
		user, cmd string
		args      []any
		method    string
		path      string
		body      string
	}
	refused, total := 0, 0
	for _, c := range []call{
		{"reader", "getState", []any{"test.0.open"}, "GET", "/api/v1/states/test.0.open", ""},
		{"reader", "getState", []any{"test.0.secret"}, "GET", "/api/v1/states/test.0.secret", ""},
		{"nobody", "getState", []any{"test.0.open"}, "GET", "/api/v1/states/test.0.open", ""},
		{"reader", "setState", []any{"test.0.open", 1.0}, "PUT", "/api/v1/states/test.0.open", "1"},
		{"writer", "setState", []any{"test.0.secret", 1.0}, "PUT", "/api/v1/states/test.0.secret", "1"},
		{"writer", "setState", []any{"test.0.open", 2.0}, "PUT", "/api/v1/states/test.0.open", "2"},
		{"reader", "getObject", []any{"test.0.secret"}, "GET", "/api/v1/objects/test.0.secret", ""},
		{"reader", "getObject", []any{"test.0.open"}, "GET", "/api/v1/objects/test.0.open", ""},
		{"reader", "getStates", []any{[]any{"test.0.open", "test.0.secret"}}, "GET", "/api/v1/states?ids=test.0.open,test.0.secret", ""},
		{"nobody", "readDir", []any{"", ""}, "GET", "/api/v1/files", ""},
	} {
		total++
		sock := dialWSToken(t, e.hs, e.tokens[c.user])
		defer func() { _ = sock.ws.Close() }()
		ack := sock.call(nil, c.cmd, c.args...)
		sockDenied := len(ack) > 0 && ack[0] == "permissionError"
		var body []byte
		if c.method == "PUT" {
			body = []byte(c.body)
		}
		code, b, _ := e.do(c.user, c.method, c.path, body)
		if sockDenied {
			refused++
		}
		if sockDenied != (code == 403) {
			t.Errorf("%s %s%v: Socket.IO ack %v, REST %d %s", c.user, c.cmd, c.args, ack, code, b)
		}
	}
	if refused == 0 || refused == total {
		t.Fatalf("%d of %d calls refused: the table must have both", refused, total)
	}
}
