package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func postForm(t *testing.T, h http.Handler, path string, form url.Values, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mod {
		m(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func cookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatal("no access_token cookie")
	return nil
}

func TestOAuthToken(t *testing.T) {
	e := newEnv(t)
	h := e.svc.Handler()
	good := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}, "client_id": {"ioBroker"}}

	w := postForm(t, h, "/oauth/token", good)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var tr map[string]any
	must(t, json.Unmarshal(w.Body.Bytes(), &tr))
	if tr["token_type"] != "Bearer" || tr["expires_in"] != 3600.0 || tr["refresh_token_expires_in"] != 604800.0 {
		t.Fatalf("body %v", tr)
	}
	access, refresh := tr["access_token"].(string), tr["refresh_token"].(string)
	if u, _, ok := e.svc.Sessions().Validate(access); !ok || u != "system.user.admin" {
		t.Fatal("issued access token does not validate")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("token response must not be cached")
	}
	c := cookieOf(t, w.Result())
	if c.Value != access || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.MaxAge != 0 {
		t.Fatalf("cookie %+v", c)
	}
	// stayloggedin makes the cookie persistent.
	stay := url.Values{"stayloggedin": {"true"}}
	for k, v := range good {
		stay[k] = v
	}
	if c := cookieOf(t, postForm(t, h, "/oauth/token", stay).Result()); c.MaxAge != 3600 {
		t.Fatalf("persistent cookie %+v", c)
	}

	// Errors.
	for _, tc := range []struct {
		form   url.Values
		status int
		code   string
	}{
		{url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}}, 400, "invalid_client"},
		{url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"bad"}, "client_id": {"x"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"bad"}, "client_id": {"x"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"x"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}}, 400, "unsupported_grant_type"},
		{url.Values{"client_id": {"x"}}, 400, "invalid_request"},
	} {
		w := postForm(t, h, "/oauth/token", tc.form)
		var body map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != tc.status || body["error"] != tc.code || body["error_description"] == "" {
			t.Errorf("%v: %d %s", tc.form, w.Code, w.Body)
		}
	}
	// Wrong user and wrong password are indistinguishable.
	a := postForm(t, h, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"bad"}, "client_id": {"x"}})
	b := postForm(t, h, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"ghost"}, "password": {"bad"}, "client_id": {"x"}})
	if a.Body.String() != b.Body.String() {
		t.Fatal("responses reveal whether the user exists")
	}

	// Refresh grant rotates.
	w = postForm(t, h, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"x"}})
	if w.Code != 200 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	var tr2 map[string]any
	must(t, json.Unmarshal(w.Body.Bytes(), &tr2))
	if e.svc.Sessions().Alive(access) || !e.svc.Sessions().Alive(tr2["access_token"].(string)) {
		t.Fatal("refresh did not rotate the pair")
	}
	// A refresh token of a disabled user is refused.
	must(t, e.svc.AddUser("ivy", "pw"))
	w = postForm(t, h, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"ivy"}, "password": {"pw"}, "client_id": {"x"}})
	var ivy map[string]any
	must(t, json.Unmarshal(w.Body.Bytes(), &ivy))
	obj, _ := e.store.Get("system.user.ivy")
	obj["common"].(map[string]any)["enabled"] = false
	_, err := e.store.Set("system.user.ivy", obj, e.svc.writeOpts())
	must(t, err)
	w = postForm(t, h, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ivy["refresh_token"].(string)}, "client_id": {"x"}})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Fatalf("disabled user's refresh: %d %s", w.Code, w.Body)
	}
}

func TestOAuthThrottle(t *testing.T) {
	e := newEnv(t)
	h := e.svc.Handler()
	bad := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"x"}, "client_id": {"x"}}
	for range 5 {
		postForm(t, h, "/oauth/token", bad)
	}
	good := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}, "client_id": {"x"}}
	w := postForm(t, h, "/oauth/token", good)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid_grant") || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("throttled oauth: %d %s retry %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	e.clock.Advance(time.Minute)
	if w := postForm(t, h, "/oauth/token", good); w.Code != 200 {
		t.Fatalf("after lock: %d", w.Code)
	}
}

func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	h := e.svc.Handler()
	w := postForm(t, h, "/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "href": {"/vis/index.html?main"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/vis/index.html?main" {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
	}
	c := cookieOf(t, w.Result())
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" {
		t.Fatalf("cookie %+v", c)
	}
	if u, _, ok := e.svc.Sessions().Validate(c.Value); !ok || u != "system.user.admin" {
		t.Fatal("cookie is not a live session")
	}
	// Open redirects are refused; same-host absolute URLs keep their path.
	for href, want := range map[string]string{
		"https://evil.example/x":       "/",
		"//evil.example/x":             "/",
		"/\\evil.example":              "/",
		"http://example.com/vis/?a=b":  "/vis/?a=b",
		"":                             "/",
		"javascript:alert(1)":          "/",
		"http://example.com.evil.io/x": "/",
	} {
		w := postForm(t, h, "/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "origin": {href}})
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("href %q → %q, want %q", href, got, want)
		}
	}
	// Failure redirects back to the login page without a cookie.
	w = postForm(t, h, "/login", url.Values{"username": {"admin"}, "password": {"no"}})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?error=") || len(w.Result().Cookies()) != 0 {
		t.Fatalf("failed form login: %d %q", w.Code, w.Header().Get("Location"))
	}
	// Cross-origin form posts are refused.
	w = postForm(t, h, "/login", url.Values{"username": {"admin"}, "password": {adminPassword}},
		func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") })
	if w.Code != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", w.Code)
	}
}

func TestLoginJSONAndThrottle(t *testing.T) {
	e := newEnv(t)
	h := e.svc.Handler()
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post(`{"username":"admin","password":"iobroker","stayloggedin":true}`)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"ok":true,"user":"admin"}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if c := cookieOf(t, w.Result()); c.MaxAge != int((24 * time.Hour).Seconds()) {
		t.Fatalf("stayloggedin cookie %+v", c)
	}
	for range 5 {
		if w := post(`{"username":"admin","password":"x"}`); w.Code != 401 {
			t.Fatalf("wrong password: %d", w.Code)
		}
	}
	w = post(`{"username":"admin","password":"iobroker"}`)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("throttle: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := post(`{bad json`); w.Code != 400 {
		t.Fatal(w.Code)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	h := e.svc.Handler()
	tok, _, err := e.svc.Sessions().NewSession("system.user.admin", time.Hour)
	must(t, err)
	r := httptest.NewRequest("GET", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: tok})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
	}
	if c := cookieOf(t, w.Result()); c.Value != "" || c.MaxAge != -1 {
		t.Fatalf("cookie not cleared: %+v", c)
	}
	if e.svc.Sessions().Alive(tok) {
		t.Fatal("logout did not revoke")
	}
	// POST with a Bearer token and JSON answer.
	p, _ := e.svc.Sessions().IssueTokens("system.user.admin", time.Hour, time.Hour)
	r = httptest.NewRequest("POST", "/logout", nil)
	r.Header.Set("Authorization", "Bearer "+p.AccessToken)
	r.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || e.svc.Sessions().Alive(p.AccessToken) {
		t.Fatalf("POST logout: %d", w.Code)
	}
}

func TestCookieSecureOverTLS(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewTLSServer(e.svc.Handler())
	defer srv.Close()
	cl := srv.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/oauth/token", "/login"} {
		resp, err := cl.PostForm(srv.URL+path, url.Values{"grant_type": {"password"}, "username": {"admin"},
			"password": {adminPassword}, "client_id": {"x"}})
		must(t, err)
		resp.Body.Close()
		c := cookieOf(t, resp)
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("%s over TLS: cookie %+v", path, c)
		}
	}
}
