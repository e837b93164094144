package auth

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
)

func handshake(target string, mod ...func(*http.Request)) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "broker.local:8084"
	for _, m := range mod {
		m(r)
	}
	return r
}

func TestAuthenticateDisabled(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Config.Enabled = false })
	id, err := e.svc.Authenticate(handshake("/socket.io/?EIO=3"), nil)
	if err != nil || id.UserID != acl.Admin || !id.Subject.Admin || id.Source != SourceDefault || !e.svc.Alive(id) {
		t.Fatalf("%+v %v", id, err)
	}
	e2 := newEnv(t, func(o *Options) { o.Config.Enabled = false; o.Config.DefaultUser = "guest" })
	id, err = e2.svc.Authenticate(handshake("/"), nil)
	if err != nil || id.UserID != "system.user.guest" || id.Subject.Admin {
		t.Fatalf("%+v %v", id, err)
	}
}

func TestAuthenticateSources(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Config.AllowedOrigins = []string{"https://ui.example"} })
	s := e.svc
	must(t, s.AddUser("jack", "pw", "user"))
	sess, _, err := s.Sessions().NewSession("system.user.jack", time.Hour)
	must(t, err)
	pair, err := s.Sessions().IssueTokens("system.user.jack", time.Hour, time.Hour)
	must(t, err)
	cookie := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: v}) }
	}
	origin := func(o string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Origin", o) } }

	for _, tc := range []struct {
		name    string
		r       *http.Request
		payload map[string]any
		user    string
		source  string
		err     error
	}{
		{"query user/pass", handshake("/?user=jack&pass=pw"), nil, "system.user.jack", SourcePassword, nil},
		{"query wrong pass", handshake("/?user=jack&pass=no"), nil, "", "", ErrInvalidLogin},
		{"query unknown user", handshake("/?user=ghost&pass=pw"), nil, "", "", ErrInvalidLogin},
		{"query user wins over cookie", handshake("/?user=jack&pass=no", cookie(sess)), nil, "", "", ErrInvalidLogin},
		{"bearer", handshake("/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+pair.AccessToken) }), nil, "system.user.jack", SourceBearer, nil},
		{"query token", handshake("/?token=" + pair.AccessToken), nil, "system.user.jack", SourceQuery, nil},
		{"query access_token", handshake("/?access_token=" + sess), nil, "system.user.jack", SourceQuery, nil},
		{"payload token", handshake("/"), map[string]any{"token": pair.AccessToken}, "system.user.jack", SourcePayload, nil},
		{"payload user/pass", handshake("/"), map[string]any{"user": "jack", "pass": "pw"}, "system.user.jack", SourcePassword, nil},
		{"payload wrong pass", handshake("/"), map[string]any{"user": "jack", "pass": "x"}, "", "", ErrInvalidLogin},
		{"cookie no origin", handshake("/", cookie(sess)), nil, "system.user.jack", SourceCookie, nil},
		{"cookie same origin", handshake("/", cookie(sess), origin("http://broker.local:8084")), nil, "system.user.jack", SourceCookie, nil},
		{"cookie allowed origin", handshake("/", cookie(sess), origin("https://ui.example")), nil, "system.user.jack", SourceCookie, nil},
		{"cookie cross origin", handshake("/", cookie(sess), origin("https://evil.example")), nil, "", "", ErrOriginNotAllowed},
		{"token cross origin is fine", handshake("/?token="+sess, origin("https://evil.example")), nil, "system.user.jack", SourceQuery, nil},
		{"refresh token refused", handshake("/?token=" + pair.RefreshToken), nil, "", "", ErrNoCredentials},
		{"unknown token", handshake("/?token=nope"), nil, "", "", ErrNoCredentials},
		{"nothing", handshake("/?key=nokey"), nil, "", "", ErrNoCredentials},
	} {
		id, err := s.Authenticate(tc.r, tc.payload)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || id != nil {
				t.Errorf("%s: %v, %v; want %v", tc.name, id, err, tc.err)
			}
			continue
		}
		if err != nil || id.UserID != tc.user || id.Source != tc.source || !id.Subject.InGroup("system.group.user") {
			t.Errorf("%s: %+v, %v", tc.name, id, err)
		}
	}
	if ErrInvalidLogin.Error() != "Invalid password or user name" || ErrNoCredentials.Error() != "Cannot detect user" {
		t.Fatal("error texts changed")
	}
}

func TestIdentityLifetime(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	pair, _ := s.Sessions().IssueTokens(acl.Admin, time.Hour, 2*time.Hour)
	id, err := s.Authenticate(handshake("/?token="+pair.AccessToken), nil)
	must(t, err)
	if !id.ExpiresAt.Equal(pair.AccessExpires) || !s.Alive(id) {
		t.Fatal("expiry")
	}
	// Expiry mid-connection.
	e.clock.Advance(time.Hour)
	if s.Alive(id) {
		t.Fatal("expired token alive")
	}
	// updateTokenExpiration: a refreshed token yields a new identity.
	q, err := s.Sessions().Refresh(pair.RefreshToken, time.Hour, time.Hour)
	must(t, err)
	nid, err := s.IdentityForToken(q.AccessToken)
	if err != nil || nid.UserID != id.UserID || !s.Alive(nid) {
		t.Fatalf("%v %v", nid, err)
	}
	// Logout revokes mid-connection.
	must(t, s.Logout(nid))
	if s.Alive(nid) {
		t.Fatal("alive after logout")
	}
	if err := s.Logout(nid); !errors.Is(err, ErrNoSession) {
		t.Fatal(err)
	}
	pw, err := s.Authenticate(handshake("/?user=admin&pass=iobroker"), nil)
	must(t, err)
	if err := s.Logout(pw); !errors.Is(err, ErrNoSession) || !s.Alive(pw) {
		t.Fatal("password identity has no session")
	}
	// A disabled user's token stops authenticating.
	must(t, s.AddUser("kate", "pw"))
	tok, _, _ := s.Sessions().NewSession("system.user.kate", time.Hour)
	obj, _ := e.store.Get("system.user.kate")
	obj["common"].(map[string]any)["enabled"] = false
	_, err = e.store.Set("system.user.kate", obj, s.writeOpts())
	must(t, err)
	if _, err := s.Authenticate(handshake("/?token="+tok), nil); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("disabled user's token: %v", err)
	}
	if got := id.String(); got != "system.user.admin (query)" {
		t.Fatal(got)
	}
}

func TestCheckOrigin(t *testing.T) {
	allowed := []string{"https://ui.example", "http://10.0.0.5:3000/"}
	for _, tc := range []struct {
		host, origin string
		tls, ok      bool
	}{
		{"broker:8084", "", false, true},
		{"broker:8084", "http://broker:8084", false, true},
		{"broker:8084", "HTTP://Broker:8084", false, true},
		{"broker:8084", "https://broker:8084", false, false},
		{"broker", "http://broker:80", false, true},
		{"broker", "https://broker", true, true},
		{"broker:443", "https://broker", true, true},
		{"broker", "http://broker", true, false},
		{"broker:8084", "http://broker:8085", false, false},
		{"broker:8084", "https://ui.example", false, true},
		{"broker:8084", "https://ui.example:443", false, true},
		{"broker:8084", "http://ui.example", false, false},
		{"broker:8084", "http://10.0.0.5:3000", false, true},
		{"broker:8084", "null", false, false},
		{"broker:8084", "http://broker:8084/path", false, false},
		{"broker:8084", "file://", false, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := CheckOrigin(r, allowed); got != tc.ok {
			t.Errorf("host %s origin %q tls %v: %v, want %v", tc.host, tc.origin, tc.tls, got, tc.ok)
		}
	}
}
