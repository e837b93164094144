package auth

import "time"

// SessionStore keeps browser sessions and OAuth2 token pairs. Sessions (a
// bbolt bucket of one node) and redisstore.Sessions (shared by every node
// on one Redis) implement it; storetest.RunSessions is the behaviour both
// pass. Only the SHA-256 of a token is ever stored.
type SessionStore interface {
	// NewSession creates a browser session of user valid for ttl.
	NewSession(user string, ttl time.Duration) (token string, expires time.Time, err error)
	// IssueTokens creates an OAuth2 access/refresh pair of user.
	IssueTokens(user string, accessTTL, refreshTTL time.Duration) (TokenPair, error)
	// Refresh exchanges a live refresh token for a new pair and revokes the
	// old pair; a refresh token works once, also under concurrent use.
	Refresh(refreshToken string, accessTTL, refreshTTL time.Duration) (TokenPair, error)
	// Validate reports the user and expiry of a live session id or access
	// token (refresh tokens are not accepted).
	Validate(token string) (user string, expires time.Time, ok bool)
	// Alive is Validate's answer without the details. The transport calls it
	// before every command and every second per idle socket, so it must not
	// wait on I/O for a token that Validate accepted.
	Alive(token string) bool
	// Revoke deletes token and, for an access or refresh token, its peer;
	// ErrNoSession when the token is unknown.
	Revoke(token string) error
	// RevokeUser deletes every session and token of user and returns how
	// many credentials were removed.
	RevokeUser(user string) (int, error)
	// Sweep forgets expired credentials and returns how many were removed.
	Sweep() (int, error)
}

var _ SessionStore = (*Sessions)(nil)

// NewToken returns a new random credential: 32 bytes from crypto/rand,
// base64url without padding. Every SessionStore issues tokens of this form.
func NewToken() string { return newToken() }
