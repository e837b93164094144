package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
)

// setOp returns p with one flag of category typ set to v.
func setOp(p acl.Permissions, typ, op string, v bool) acl.Permissions {
	p.Set(typ, op, v)
	return p
}

// sampleArgs builds type-valid arguments for a command from its parameters,
// so the gate reaches the permission check.
func sampleArgs(params []Param) []any {
	args := make([]any, 0, len(params))
	for i, p := range params {
		switch p.Kind {
		case KString:
			if i == 0 {
				args = append(args, "vis.0")
			} else {
				args = append(args, "matrix/x.txt")
			}
		case KObject:
			args = append(args, map[string]any{"type": "state", "common": map[string]any{"name": "m"}, "mode": float64(0x644), "owner": "system.user.admin"})
		case KBool:
			args = append(args, true)
		case KPatterns:
			args = append(args, "matrix.*")
		case KStrings:
			args = append(args, []any{"matrix.0.a"})
		case KData:
			args = append(args, "data")
		case KStringOrObject:
			args = append(args, "matrix.0")
		default:
			args = append(args, float64(1))
		}
	}
	return args
}

// storeDigest hashes all objects and states (files of vis.0 too).
func storeDigest(t *testing.T, srv *Server) string {
	t.Helper()
	h := sha256.New()
	srv.st.Objects.Range("", pattern.RangeEnd, func(id string, _ *objects.Meta, raw json.RawMessage) bool {
		h.Write([]byte(id))
		h.Write(raw)
		return true
	})
	var ids []string
	srv.st.States.All(func(id string, _ *states.State) bool { ids = append(ids, id); return true })
	sort.Strings(ids)
	for i, st := range srv.st.States.GetMany(ids) {
		b, _ := json.Marshal(st)
		h.Write([]byte(ids[i]))
		h.Write(b)
	}
	if entries, err := srv.st.Files.ReadDir("vis.0", "", nil); err == nil {
		for _, e := range entries {
			h.Write([]byte(e.File))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestPermissionMatrix runs every command of the dispatch table that needs a
// permission as one user who has exactly that permission and one who has
// every permission but that one: the first passes the gate, the second gets
// permissionError and the stores stay unchanged. Socket-only commands go
// through the same gate on a socket (covered by TestPermissionDenied).
func TestPermissionMatrix(t *testing.T) {
	srv, _ := testServer(t, Options{Authorizer: SubjectAuthorizer{}})
	admin := StaticSession{adminSubject()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.Invoke(ctx, admin, "setObject", []any{"vis.0", map[string]any{"type": "meta", "common": map[string]any{"name": "vis", "type": "meta.user"}, "native": map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range Commands() {
		cmd, _ := Lookup(name)
		args := sampleArgs(cmd.Params)
		perm := cmd.Perm
		if cmd.PermFor != nil {
			a, err := parseArgs(name, cmd.Params, args)
			if err == nil {
				perm = cmd.PermFor(a)
			}
		}
		if perm.Type == "" || cmd.Socket {
			continue
		}
		t.Run(name, func(t *testing.T) {
			only := &acl.Subject{User: "system.user.only", Groups: []string{"system.group.matrix"}, Perms: setOp(acl.Permissions{}, perm.Type, perm.Op, true)}
			allBut := &acl.Subject{User: "system.user.allbut", Groups: []string{"system.group.matrix"}, Perms: setOp(acl.All(), perm.Type, perm.Op, false)}

			before := storeDigest(t, srv)
			_, err := srv.Invoke(ctx, StaticSession{allBut}, name, args)
			var denied *DeniedError
			if !errors.As(err, &denied) || err.Error() != "permissionError" {
				t.Fatalf("without %s.%s: got %v, want permissionError", perm.Type, perm.Op, err)
			}
			if after := storeDigest(t, srv); after != before {
				t.Fatalf("a denied %s changed the stores", name)
			}

			ictx, icancel := context.WithTimeout(ctx, 3*time.Second)
			defer icancel()
			_, err = srv.Invoke(ictx, StaticSession{only}, name, args)
			if errors.As(err, &denied) {
				t.Fatalf("with exactly %s.%s the gate refused %s", perm.Type, perm.Op, name)
			}
		})
		checked++
	}
	if checked < 35 {
		t.Fatalf("only %d commands checked", checked)
	}
	t.Logf("%d commands checked both ways", checked)
}

// whoAuth picks the subject from the handshake query ?who=.
type whoAuth map[string]*acl.Subject

func (w whoAuth) Authenticate(h *Handshake) (Session, error) {
	return StaticSession{w[h.Query.Get("who")]}, nil
}

// TestPermissionMatrixSocketCommands does the same for commands that only
// exist on a socket (subscriptions, instance messages), over a real socket.
func TestPermissionMatrixSocketCommands(t *testing.T) {
	subjects := whoAuth{}
	_, hs := testServer(t, Options{Authorizer: SubjectAuthorizer{}, Authenticator: subjects})
	checked := 0
	for _, name := range Commands() {
		cmd, _ := Lookup(name)
		if !cmd.Socket || cmd.Perm.Type == "" {
			continue
		}
		perm := cmd.Perm
		subjects["only-"+name] = &acl.Subject{User: "system.user.only", Perms: setOp(acl.Permissions{}, perm.Type, perm.Op, true)}
		subjects["allbut-"+name] = &acl.Subject{User: "system.user.allbut", Perms: setOp(acl.All(), perm.Type, perm.Op, false)}
		args := sampleArgs(cmd.Params)
		denied := dialWho(t, hs.URL, "allbut-"+name)
		if got := mustJSON(t, denied.call(nil, name, args...)); got != `["permissionError"]` && got != `[{"error":"permissionError"}]` {
			t.Errorf("%s without %s.%s = %s", name, perm.Type, perm.Op, got)
		}
		allowed := dialWho(t, hs.URL, "only-"+name)
		done := make(chan string, 1)
		go func() { done <- mustJSON(t, allowed.call(nil, name, args...)) }()
		select {
		case got := <-done:
			if got == `["permissionError"]` {
				t.Errorf("%s with exactly %s.%s refused", name, perm.Type, perm.Op)
			}
		case <-time.After(5 * time.Second):
			// clientSubscribe to a missing instance may wait for routing; passing the gate is what counts.
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no socket-only command checked")
	}
	t.Logf("%d socket-only commands checked both ways", checked)
}

func dialWho(t *testing.T, url, who string) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(url, "http") + "/socket.io/?EIO=3&transport=websocket&who=" + who
	ws, _, err := testDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{t: t, eio: 3, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open: %q", open)
	}
	if p := c.read(); p != "40" {
		t.Fatalf("connect: %q", p)
	}
	return c
}
