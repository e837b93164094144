package broker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/sioclient"
)

// startBroker runs a broker with auth on a loopback listener and returns its
// base URL and the captured log.
func startBroker(t *testing.T, mod func(*config.Config)) (string, *syncBuffer) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Log.Level = "debug"
	cfg.Log.Format = "json"
	if mod != nil {
		mod(&cfg)
	}
	logs := &syncBuffer{}
	b, err := New(cfg, Options{Version: "test", LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, []net.Listener{ln}, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String(), logs
}

// TestRevokedTokenMidConnection: a socket authenticated with an OAuth2
// access token gets reauthenticate and is closed once the token is revoked
// (logout elsewhere); nothing secret reaches the log at debug level.
func TestRevokedTokenMidConnection(t *testing.T) {
	base, logs := startBroker(t, func(c *config.Config) { c.Auth.Enabled = true })
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {DefaultAdminPassword}, "client_id": {"test"}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: base, EIO: 4, Auth: map[string]any{"token": tok.AccessToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reauth := make(chan struct{}, 1)
	c.On("reauthenticate", func(sioclient.Message) { reauth <- struct{}{} })
	if m, err := c.EmitAck(ctx, "authEnabled"); err != nil || string(m.Args[0]) != "true" {
		t.Fatalf("authEnabled: %v %s", err, m.Args)
	}

	// Revoke the token from another client (logout with the bearer token).
	req, _ := http.NewRequest("POST", base+"/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	select {
	case <-reauth:
	case <-time.After(5 * time.Second):
		t.Fatal("no reauthenticate after the token was revoked")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not closed after reauthenticate")
	}

	// A wrong password over the legacy query is refused with the exact text.
	_, err = sioclient.Dial(ctx, sioclient.Options{URL: base, EIO: 3, Query: url.Values{"user": {"admin"}, "pass": {"wrong-pw-123"}}})
	var ce *sioclient.ConnectError
	if err == nil || !errorsAs(err, &ce) || ce.Message != "Invalid password or user name" {
		t.Fatalf("wrong password: %v", err)
	}

	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, DefaultAdminPassword, "wrong-pw-123", "pbkdf2$"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains a secret (%.8s…)", secret)
		}
	}
}
