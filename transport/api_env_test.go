package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

// apiEnv is a server with auth on, over real stores, with the users of the
// permission tests:
//
//   - admin (token admin): everything;
//   - reader (group readers): list/read of state, object, file;
//   - writer (group writers): everything on state, object, file;
//   - nobody (group nobodies): nothing.
//
// New files get owner admin, ownerGroup writers, 0x664: writers may write
// them, everyone may read them.
type apiEnv struct {
	t      *testing.T
	srv    *Server
	hs     *httptest.Server
	svc    *auth.Service
	obj    *objects.BoltStore
	st     *states.BoltStore
	fs     *files.BoltStore
	tokens map[string]string // user name → bearer token
}

// testAuth adapts auth.Service to Authenticator like the broker does.
type testAuth struct{ svc *auth.Service }

type testSession struct {
	svc *auth.Service
	id  *auth.Identity
}

func (a testAuth) Authenticate(h *Handshake) (Session, error) {
	id, err := a.svc.Authenticate(h.Request, h.Auth)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidLogin) {
			return nil, ErrInvalidLogin
		}
		return nil, err
	}
	return &testSession{svc: a.svc, id: id}, nil
}

func (s *testSession) Subject() *acl.Subject {
	if sub, err := s.svc.Permissions(s.id.UserID); err == nil {
		return sub
	}
	return s.id.Subject
}

func (s *testSession) Alive() bool { return s.svc.Alive(s.id) }

func newAPIEnv(t *testing.T, mod ...func(*Options)) *apiEnv {
	t.Helper()
	db, err := database.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &apiEnv{t: t, tokens: map[string]string{}}
	if e.obj, err = objects.Open(db); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("iobroker")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.obj.InitDefaults("testhost", hash); err != nil {
		t.Fatal(err)
	}
	if e.st, err = states.Open(db); err != nil {
		t.Fatal(err)
	}
	isMeta := files.NamespaceFunc(func(ns string) bool {
		_, m, ok := e.obj.GetRaw(ns)
		return ok && m != nil && m.Type == "meta"
	})
	fileACL := func() acl.File {
		return acl.File{Owner: acl.Admin, OwnerGroup: "system.group.writers", Permissions: 0x664}
	}
	if e.fs, err = files.Open(db, isMeta, fileACL); err != nil {
		t.Fatal(err)
	}
	e.svc, err = auth.New(auth.Options{DB: db, Objects: e.obj, SweepInterval: -1,
		Config: config.Auth{Enabled: true, DefaultUser: "admin", SessionTTL: config.Duration(time.Hour), TokenTTL: config.Duration(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Version: "1.2.3", Namespace: "brokerd.0", AuthEnabled: true, Authenticator: testAuth{e.svc}, Authorizer: SubjectAuthorizer{}}
	for _, m := range mod {
		m(&o)
	}
	if e.srv, err = New(Stores{Objects: e.obj, States: e.st, Files: e.fs}, o); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv.Register(mux)
	e.srv.RegisterAPI(mux)
	e.hs = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Close()
		e.hs.Close()
		e.svc.Close()
		e.st.Close()
		_ = db.Close()
	})
	all := acl.Ops{List: true, Read: true, Write: true, Create: true, Delete: true}
	read := acl.Ops{List: true, Read: true}
	groups := []struct {
		name  string
		perms acl.Permissions
	}{
		{"readers", acl.Permissions{State: read, Object: read, File: read}},
		{"writers", acl.Permissions{State: all, Object: all, File: all}},
		{"nobodies", acl.Permissions{}},
	}
	for i, g := range groups {
		if err := e.svc.AddGroup(g.name, "", &groups[i].perms); err != nil {
			t.Fatal(err)
		}
	}
	for user, group := range map[string]string{"reader": "readers", "writer": "writers", "nobody": "nobodies"} {
		if err := e.svc.AddUser(user, "pw-"+user, group); err != nil {
			t.Fatal(err)
		}
	}
	for _, user := range []string{"admin", "reader", "writer", "nobody"} {
		tok, _, err := e.svc.Sessions().NewSession(auth.UserID(user), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[user] = tok
	}
	// A file namespace and some data every test can use.
	e.setObject("vis.0", objects.Object{"type": "meta", "common": map[string]any{"name": "vis", "type": "meta.user"}, "native": map[string]any{}})
	e.setObject("test.0.open", stateObj(nil))
	e.setObject("test.0.secret", stateObj(map[string]any{"owner": acl.Admin, "ownerGroup": acl.AdminGroup, "object": 0x600, "state": 0x600}))
	e.setState("test.0.open", 1.0)
	e.setState("test.0.secret", "hidden")
	return e
}

func stateObj(a map[string]any) objects.Object {
	o := objects.Object{"type": "state", "common": map[string]any{"name": "x", "type": "mixed", "role": "state", "read": true, "write": true}, "native": map[string]any{}}
	if a != nil {
		o["acl"] = a
	}
	return o
}

func (e *apiEnv) setObject(id string, o objects.Object) {
	e.t.Helper()
	if _, err := e.obj.Set(id, o, objects.WriteOptions{User: acl.Admin, From: "system.host.test"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *apiEnv) setState(id string, v any) {
	e.t.Helper()
	if _, err := e.st.Set(id, states.Write{Val: v, HasVal: true}); err != nil {
		e.t.Fatal(err)
	}
}

// do sends a request as user ("" = no credentials) and returns status and body.
func (e *apiEnv) do(user, method, path string, body []byte, hdr ...string) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// errorOf decodes {"error": …}.
func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	s, ok := m["error"].(string)
	if !ok || s == "" {
		t.Fatalf("error body %q has no error", b)
	}
	return s
}

func filesDefault() files.WriteOptions { return files.WriteOptions{} }

func readFileOK(name string) ([]byte, error) { return os.ReadFile(name) }
