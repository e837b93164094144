package auth

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CookieName is the cookie carrying a session id or access token.
const CookieName = "access_token"

// maxFormBody bounds login/token request bodies.
const maxFormBody = 64 << 10

// RegisterRoutes mounts POST /login, GET and POST /logout and
// POST /oauth/token on mux.
func (s *Service) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("GET /logout", s.handleLogout)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("POST /oauth/token", s.handleToken)
}

// Handler returns a handler serving only the auth routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.RegisterRoutes(mux)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func isJSONRequest(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

func wantsJSON(r *http.Request) bool {
	return isJSONRequest(r) || strings.Contains(r.Header.Get("Accept"), "application/json")
}

func truthyParam(v string) bool {
	switch strings.ToLower(v) {
	case "true", "on", "1", "yes":
		return true
	}
	return false
}

// setCookie sets the credential cookie: HttpOnly, SameSite=Strict, Path=/,
// Secure when the request came over TLS; persistent only when asked.
func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time, persistent bool) {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if persistent {
		c.Expires = expires.UTC()
		c.MaxAge = int(expires.Sub(s.now()) / time.Second)
		if c.MaxAge <= 0 {
			c.MaxAge = -1
		}
	}
	http.SetCookie(w, c)
}

func (s *Service) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1, Expires: time.Unix(0, 0)})
}

// loginRequest is the body of POST /login.
type loginRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	StayLoggedIn any    `json:"stayloggedin"`
	Href         string `json:"href"`
	Origin       string `json:"origin"`
}

func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	var in loginRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if isJSONRequest(r) {
		err := json.NewDecoder(r.Body).Decode(&in)
		return in, err
	}
	if err := r.ParseForm(); err != nil {
		return in, err
	}
	in.Username, in.Password = r.PostForm.Get("username"), r.PostForm.Get("password")
	in.StayLoggedIn = r.PostForm.Get("stayloggedin")
	in.Href, in.Origin = r.Form.Get("href"), r.Form.Get("origin")
	return in, nil
}

func stay(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return truthyParam(t)
	}
	return false
}

// safeRedirect keeps a redirect target on this host: a local path, or the
// path of an absolute URL naming r.Host; anything else becomes "/".
func safeRedirect(r *http.Request, target string) string {
	if target == "" {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || strings.ContainsAny(target, "\\\r\n") {
		return "/"
	}
	if u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(target, "//") {
		return u.RequestURI()
	}
	if (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) {
		return u.RequestURI()
	}
	return "/"
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !CheckOrigin(r, s.origins) {
		http.Error(w, "Origin not allowed", http.StatusForbidden)
		return
	}
	asJSON := isJSONRequest(r)
	in, err := readLogin(w, r)
	if err != nil {
		if asJSON {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid request"})
		} else {
			http.Error(w, "invalid request", http.StatusBadRequest)
		}
		return
	}
	target := in.Href
	if target == "" {
		target = in.Origin
	}
	id, err := s.LoginFrom(in.Username, in.Password, r.RemoteAddr)
	if err != nil {
		var rl *RateLimitedError
		switch {
		case errors.As(err, &rl):
			w.Header().Set("Retry-After", retryAfter(rl.RetryAfter))
			if asJSON {
				writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": rl.Error()})
			} else {
				http.Error(w, rl.Error(), http.StatusTooManyRequests)
			}
		case asJSON:
			writeJSON(w, http.StatusUnauthorized, map[string]any{"ok": false, "error": ErrInvalidLogin.Error()})
		default:
			q := url.Values{"error": {ErrInvalidLogin.Error()}}
			if target != "" {
				q.Set("href", safeRedirect(r, target))
			}
			http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
		}
		return
	}
	token, exp, err := s.sessions.NewSession(id, s.sessionTTL)
	if err != nil {
		s.log.Error("cannot store session", "user", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, token, exp, stay(in.StayLoggedIn))
	if asJSON {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": UserName(id)})
		return
	}
	http.Redirect(w, r, safeRedirect(r, target), http.StatusSeeOther)
}

func retryAfter(d time.Duration) string {
	sec := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(sec, 1))
}

// requestTokens lists the credentials a request carries: Bearer header and cookie.
func requestTokens(r *http.Request) []string {
	var out []string
	if t := bearer(r.Header); t != "" {
		out = append(out, t)
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		out = append(out, c.Value)
	}
	return out
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !CheckOrigin(r, s.origins) {
		http.Error(w, "Origin not allowed", http.StatusForbidden)
		return
	}
	for _, t := range requestTokens(r) {
		if user, _, ok := s.sessions.Validate(t); ok {
			s.log.Debug("logout", "user", user)
		}
		if err := s.sessions.Revoke(t); err != nil && !errors.Is(err, ErrNoSession) {
			s.log.Warn("logout: cannot revoke", "err", err)
		}
	}
	s.clearCookie(w, r)
	if r.Method == http.MethodPost && wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// oauthError writes an RFC 6749 error body.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// tokenResponse is the body of a successful /oauth/token.
type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	TokenType             string `json:"token_type"`
	ExpiresIn             int    `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int    `json:"refresh_token_expires_in"`
}

func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	if !CheckOrigin(r, s.origins) {
		oauthError(w, http.StatusForbidden, "invalid_request", "Origin not allowed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid request: malformed body")
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	if clientID == "" {
		clientID, _, _ = r.BasicAuth()
	}
	if clientID == "" {
		oauthError(w, http.StatusBadRequest, "invalid_client", "Invalid client: cannot retrieve client credentials")
		return
	}
	var (
		pair TokenPair
		err  error
	)
	switch gt := f.Get("grant_type"); gt {
	case "password":
		var id string
		id, err = s.LoginFrom(f.Get("username"), f.Get("password"), r.RemoteAddr)
		if err != nil {
			var rl *RateLimitedError
			if errors.As(err, &rl) {
				w.Header().Set("Retry-After", retryAfter(rl.RetryAfter))
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: user credentials are invalid")
			return
		}
		pair, err = s.sessions.IssueTokens(id, s.tokenTTL, s.refreshTTL)
	case "refresh_token":
		pair, err = s.sessions.Refresh(f.Get("refresh_token"), s.tokenTTL, s.refreshTTL)
		if err == nil && !s.userActive(pair.User) {
			_ = s.sessions.Revoke(pair.AccessToken)
			err = ErrInvalidToken
		}
		if errors.Is(err, ErrInvalidToken) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: refresh token is invalid")
			return
		}
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: `grant_type`")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: `grant_type` is invalid")
		return
	}
	if err != nil {
		s.log.Error("cannot store token", "err", err)
		oauthError(w, http.StatusServiceUnavailable, "server_error", "cannot store token")
		return
	}
	now := s.now()
	s.setCookie(w, r, pair.AccessToken, pair.AccessExpires, truthyParam(f.Get("stayloggedin")))
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: pair.AccessToken, TokenType: "Bearer",
		ExpiresIn:    int(pair.AccessExpires.Sub(now) / time.Second),
		RefreshToken: pair.RefreshToken, RefreshTokenExpiresIn: int(pair.RefreshExpires.Sub(now) / time.Second),
	})
	s.log.Debug("token issued", "user", pair.User, "grant", f.Get("grant_type"))
}

func bearer(h http.Header) string {
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}
