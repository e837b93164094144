package auth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the committer and test goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNoSecretsLogged(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(o *Options) { o.Logger = log })
	s, h := e.svc, e.svc.Handler()
	const pw, wrong = "Sup3r-Secret-pw", "Wr0ng-Guess-pw"
	must(t, s.AddUser("leo", pw, "user"))

	var secrets []string
	// Login success and failure through every entry point.
	postForm(t, h, "/login", url.Values{"username": {"leo"}, "password": {wrong}})
	w := postForm(t, h, "/login", url.Values{"username": {"leo"}, "password": {pw}})
	secrets = append(secrets, cookieOf(t, w.Result()).Value)
	postForm(t, h, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"leo"}, "password": {wrong}, "client_id": {"x"}})
	w = postForm(t, h, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"leo"}, "password": {pw}, "client_id": {"x"}})
	var tr map[string]any
	must(t, json.Unmarshal(w.Body.Bytes(), &tr))
	secrets = append(secrets, tr["access_token"].(string), tr["refresh_token"].(string))
	// Refresh.
	w = postForm(t, h, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr["refresh_token"].(string)}, "client_id": {"x"}})
	must(t, json.Unmarshal(w.Body.Bytes(), &tr))
	secrets = append(secrets, tr["access_token"].(string), tr["refresh_token"].(string))
	postForm(t, h, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {secrets[2]}, "client_id": {"x"}})
	// Handshakes, identity logging, revoke, logout.
	_, _ = s.Authenticate(handshake("/?user=leo&pass="+wrong), nil)
	id, err := s.Authenticate(handshake("/?token="+tr["access_token"].(string)), nil)
	must(t, err)
	log.Info("connection", "id", id)
	_, _ = s.Authenticate(handshake("/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secrets[0]+"x") }), nil)
	must(t, s.Logout(id))
	postForm(t, h, "/logout", url.Values{}, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: secrets[0]}) })
	must(t, s.SetPassword("leo", wrong))
	// Throttled attempts and a broken stored hash.
	for range 6 {
		_, _ = s.LoginFrom("leo", pw, "198.51.100.1:1")
	}
	obj, _ := e.store.Get("system.user.leo")
	hash := obj["common"].(map[string]any)["password"].(string)
	obj["common"].(map[string]any)["password"] = "pbkdf2$1$zz"
	_, err = e.store.Set("system.user.leo", obj, s.writeOpts())
	must(t, err)
	_, _ = s.Login("leo", wrong)

	out := buf.String()
	if !strings.Contains(out, "login failed") || !strings.Contains(out, "system.user.leo") {
		t.Fatalf("expected auth events in the log, got:\n%s", out)
	}
	secrets = append(secrets, pw, wrong, hash, "pbkdf2$1$zz", hash[13:40])
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Errorf("secret %.6s… appears in the log", sec)
		}
	}
}
