package auth

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// Credential sources of an Identity.
const (
	SourceDefault  = "default"  // auth disabled: the configured default user
	SourcePassword = "password" // query user+pass or payload user+pass
	SourceBearer   = "bearer"   // Authorization: Bearer
	SourceQuery    = "query"    // query token / access_token
	SourcePayload  = "payload"  // Socket.IO auth payload {token}
	SourceCookie   = "cookie"   // cookie access_token
)

// Identity is the authenticated user of a connection.
type Identity struct {
	UserID  string
	Subject *acl.Subject
	Source  string
	// Token is the session id or access token used ("" for password and
	// default identities). It is a secret: never log it.
	Token string
	// ExpiresAt is the expiry of Token (zero: does not expire).
	ExpiresAt time.Time
}

// LogValue keeps the token out of logs even when an Identity is logged.
func (id *Identity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", id.UserID), slog.String("source", id.Source))
}

// String omits the token for the same reason.
func (id *Identity) String() string { return id.UserID + " (" + id.Source + ")" }

// Alive reports whether the identity may still be used: its token (if any)
// is neither revoked nor expired. Checked by the transport per command.
func (s *Service) Alive(id *Identity) bool {
	if id == nil {
		return false
	}
	if id.Token == "" {
		return true
	}
	return s.sessions.Alive(id.Token)
}

// Authenticate identifies the user of a Socket.IO handshake. payload is the
// EIO4 CONNECT auth object (nil for EIO3). Sources, first present wins:
// query user+pass, Authorization: Bearer, query token / access_token,
// payload {token} or {user, pass}, cookie access_token (which additionally
// needs a same-origin or allow-listed Origin). With auth disabled every
// connection is the default user.
//
// Errors: ErrInvalidLogin for a wrong (or throttled) user/password,
// ErrNoCredentials when nothing usable was sent or the token is unknown,
// expired or belongs to a disabled user, ErrOriginNotAllowed for a
// cross-origin cookie.
func (s *Service) Authenticate(r *http.Request, payload map[string]any) (*Identity, error) {
	if !s.enabled {
		uid := s.DefaultUserID()
		sub, err := s.Permissions(uid)
		if err != nil {
			return nil, err
		}
		return &Identity{UserID: uid, Subject: sub, Source: SourceDefault}, nil
	}
	q := r.URL.Query()
	if q.Get("user") != "" && q.Has("pass") {
		return s.passwordIdentity(q.Get("user"), q.Get("pass"), r.RemoteAddr)
	}
	if t := bearer(r.Header); t != "" {
		return s.tokenIdentity(t, SourceBearer)
	}
	for _, k := range []string{"token", "access_token"} {
		if t := q.Get(k); t != "" {
			return s.tokenIdentity(t, SourceQuery)
		}
	}
	if t, _ := payload["token"].(string); t != "" {
		return s.tokenIdentity(t, SourcePayload)
	}
	if u, _ := payload["user"].(string); u != "" {
		p, _ := payload["pass"].(string)
		return s.passwordIdentity(u, p, r.RemoteAddr)
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if !CheckOrigin(r, s.origins) {
			s.log.Info("socket refused: cross-origin cookie", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
			return nil, ErrOriginNotAllowed
		}
		return s.tokenIdentity(c.Value, SourceCookie)
	}
	return nil, ErrNoCredentials
}

func (s *Service) passwordIdentity(user, pass, remote string) (*Identity, error) {
	uid, err := s.LoginFrom(user, pass, remote)
	if err != nil {
		return nil, ErrInvalidLogin
	}
	sub, err := s.Permissions(uid)
	if err != nil {
		return nil, ErrInvalidLogin
	}
	return &Identity{UserID: uid, Subject: sub, Source: SourcePassword}, nil
}

// IdentityForToken validates a session id or access token, e.g. for
// updateTokenExpiration (compare UserID with the connection's before
// switching).
func (s *Service) IdentityForToken(token string) (*Identity, error) {
	return s.tokenIdentity(token, SourceQuery)
}

func (s *Service) tokenIdentity(token, source string) (*Identity, error) {
	uid, exp, ok := s.sessions.Validate(token)
	if !ok || !s.userActive(uid) {
		return nil, ErrNoCredentials
	}
	sub, err := s.Permissions(uid)
	if err != nil {
		return nil, ErrNoCredentials
	}
	return &Identity{UserID: uid, Subject: sub, Source: source, Token: token, ExpiresAt: exp}, nil
}

// Logout revokes the identity's token; ErrNoSession when it has none or the
// store no longer knows it (protocol.md 1.10).
func (s *Service) Logout(id *Identity) error {
	if id == nil || id.Token == "" {
		return ErrNoSession
	}
	return s.sessions.Revoke(id.Token)
}

// CheckOrigin reports whether a browser request may use cookie
// credentials: no Origin header (not a browser) is allowed, as is the
// request's own origin (scheme from r.TLS, host from r.Host) and any origin
// in allowed. "null" and unparsable origins are refused.
func CheckOrigin(r *http.Request, allowed []string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	origin, ok := canonicalOrigin(o)
	if !ok {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if self, ok := canonicalOrigin(scheme + "://" + r.Host); ok && self == origin {
		return true
	}
	for _, a := range allowed {
		if c, ok := canonicalOrigin(a); ok && c == origin {
			return true
		}
	}
	return false
}

// canonicalOrigin renders scheme://host:port in lower case with the default
// port made explicit.
func canonicalOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case port != "":
	case scheme == "http":
		port = "80"
	case scheme == "https":
		port = "443"
	default:
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), true
}
