package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/groupcommit"
	bolt "go.etcd.io/bbolt"
)

// SessionsBucket is the bbolt bucket of sessions and tokens. Keys are the
// SHA-256 of the token, so the file alone yields no usable credential.
const SessionsBucket = "sessions"

// Kind says what a stored credential is.
type Kind string

// Credential kinds.
const (
	KindSession Kind = "s" // browser session from POST /login
	KindAccess  Kind = "a" // OAuth2 access token
	KindRefresh Kind = "r" // OAuth2 refresh token (not valid for connecting)
)

// Errors of the session store.
var (
	// ErrNoSession is returned when a token to revoke is unknown (the text
	// the logout command reports).
	ErrNoSession = errors.New("No session")
	// ErrInvalidToken is a refresh token that is unknown, expired or not a
	// refresh token.
	ErrInvalidToken = errors.New("Invalid token")
)

// TokenPair is an issued OAuth2 access/refresh token pair.
type TokenPair struct {
	User           string
	AccessToken    string
	RefreshToken   string
	AccessExpires  time.Time
	RefreshExpires time.Time
}

type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey { return sha256.Sum256([]byte(token)) }

// record is the stored JSON value; Peer links an access token to its
// refresh token and back (hex of the other's key).
type record struct {
	Kind    Kind   `json:"k"`
	User    string `json:"u"`
	Expires int64  `json:"e"` // unix ms
	Created int64  `json:"c"` // unix ms
	Peer    string `json:"p,omitempty"`
}

type cred struct {
	kind    Kind
	user    string
	expires time.Time
	created time.Time
	peer    *tokenKey
}

func (c *cred) record() record {
	r := record{Kind: c.kind, User: c.user, Expires: c.expires.UnixMilli(), Created: c.created.UnixMilli()}
	if c.peer != nil {
		r.Peer = hex.EncodeToString(c.peer[:])
	}
	return r
}

// Sessions keeps browser sessions and OAuth2 tokens in memory, written
// through to bbolt so they survive restarts.
type Sessions struct {
	db  *database.DB
	now func() time.Time

	mu sync.RWMutex
	m  map[tokenKey]*cred
}

// OpenSessions loads the stored credentials of db (expired ones are dropped
// by the next Sweep). now is the clock (nil = time.Now).
func OpenSessions(db *database.DB, now func() time.Time) (*Sessions, error) {
	if now == nil {
		now = time.Now
	}
	s := &Sessions{db: db, now: now, m: make(map[tokenKey]*cred)}
	err := db.Bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(SessionsBucket))
		if err != nil {
			return err
		}
		var garbage [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var r record
			if len(k) != sha256.Size || json.Unmarshal(v, &r) != nil {
				garbage = append(garbage, append([]byte(nil), k...))
				return nil
			}
			c := &cred{kind: r.Kind, user: r.User, expires: time.UnixMilli(r.Expires), created: time.UnixMilli(r.Created)}
			if r.Peer != "" {
				var p tokenKey
				if n, err := hex.Decode(p[:], []byte(r.Peer)); err == nil && n == len(p) {
					c.peer = &p
				}
			}
			s.m[tokenKey(k)] = c
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range garbage {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	return s, nil
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// apply records puts and deletes in memory and enqueues their commit; the
// caller holds mu and waits on the returned function after unlocking.
func (s *Sessions) apply(puts map[tokenKey]*cred, dels []tokenKey) func() error {
	for k, c := range puts {
		s.m[k] = c
	}
	for _, k := range dels {
		delete(s.m, k)
	}
	vals := make(map[tokenKey][]byte, len(puts))
	for k, c := range puts {
		v, _ := json.Marshal(c.record())
		vals[k] = v
	}
	return s.db.Committer.Enqueue(groupcommit.Op{Apply: func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(SessionsBucket))
		if b == nil {
			return errors.New("sessions bucket missing")
		}
		for k, v := range vals {
			if err := b.Put(k[:], v); err != nil {
				return err
			}
		}
		for _, k := range dels {
			if err := b.Delete(k[:]); err != nil {
				return err
			}
		}
		return nil
	}})
}

// create stores puts and rolls them back from memory if the commit fails.
func (s *Sessions) create(puts map[tokenKey]*cred) error {
	s.mu.Lock()
	wait := s.apply(puts, nil)
	s.mu.Unlock()
	if err := wait(); err != nil {
		s.mu.Lock()
		for k, c := range puts {
			if s.m[k] == c {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

// NewSession creates a browser session of user valid for ttl.
func (s *Sessions) NewSession(user string, ttl time.Duration) (token string, expires time.Time, err error) {
	now := s.now()
	token = newToken()
	c := &cred{kind: KindSession, user: user, created: now, expires: now.Add(ttl)}
	if err := s.create(map[tokenKey]*cred{keyOf(token): c}); err != nil {
		return "", time.Time{}, err
	}
	return token, c.expires, nil
}

// IssueTokens creates an OAuth2 access/refresh pair of user.
func (s *Sessions) IssueTokens(user string, accessTTL, refreshTTL time.Duration) (TokenPair, error) {
	now := s.now()
	p := TokenPair{User: user, AccessToken: newToken(), RefreshToken: newToken(),
		AccessExpires: now.Add(accessTTL), RefreshExpires: now.Add(refreshTTL)}
	ak, rk := keyOf(p.AccessToken), keyOf(p.RefreshToken)
	puts := map[tokenKey]*cred{
		ak: {kind: KindAccess, user: user, created: now, expires: p.AccessExpires, peer: &rk},
		rk: {kind: KindRefresh, user: user, created: now, expires: p.RefreshExpires, peer: &ak},
	}
	if err := s.create(puts); err != nil {
		return TokenPair{}, err
	}
	return p, nil
}

// Refresh exchanges a live refresh token for a new pair; the old pair is
// revoked (rotation), so a refresh token works once.
func (s *Sessions) Refresh(refreshToken string, accessTTL, refreshTTL time.Duration) (TokenPair, error) {
	now := s.now()
	k := keyOf(refreshToken)
	s.mu.Lock()
	c := s.m[k]
	if c == nil || c.kind != KindRefresh || !c.expires.After(now) {
		s.mu.Unlock()
		return TokenPair{}, ErrInvalidToken
	}
	p := TokenPair{User: c.user, AccessToken: newToken(), RefreshToken: newToken(),
		AccessExpires: now.Add(accessTTL), RefreshExpires: now.Add(refreshTTL)}
	ak, rk := keyOf(p.AccessToken), keyOf(p.RefreshToken)
	puts := map[tokenKey]*cred{
		ak: {kind: KindAccess, user: c.user, created: now, expires: p.AccessExpires, peer: &rk},
		rk: {kind: KindRefresh, user: c.user, created: now, expires: p.RefreshExpires, peer: &ak},
	}
	dels := []tokenKey{k}
	if c.peer != nil {
		dels = append(dels, *c.peer)
	}
	wait := s.apply(puts, dels)
	s.mu.Unlock()
	if err := wait(); err != nil {
		s.mu.Lock()
		for k, c := range puts {
			if s.m[k] == c {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
		return TokenPair{}, err
	}
	return p, nil
}

// Validate reports the user and expiry of a live session id or access token
// (refresh tokens are not accepted).
func (s *Sessions) Validate(token string) (user string, expires time.Time, ok bool) {
	if token == "" {
		return "", time.Time{}, false
	}
	k := keyOf(token)
	now := s.now()
	s.mu.RLock()
	c := s.m[k]
	s.mu.RUnlock()
	if c == nil || c.kind == KindRefresh || !c.expires.After(now) {
		return "", time.Time{}, false
	}
	return c.user, c.expires, true
}

// Alive reports whether token still validates; the transport calls it per
// command so that revocation and expiry take effect mid-connection.
func (s *Sessions) Alive(token string) bool {
	_, _, ok := s.Validate(token)
	return ok
}

// Revoke deletes token and, for an access or refresh token, its peer.
// An unknown token gives ErrNoSession.
func (s *Sessions) Revoke(token string) error {
	k := keyOf(token)
	s.mu.Lock()
	c := s.m[k]
	if c == nil {
		s.mu.Unlock()
		return ErrNoSession
	}
	dels := []tokenKey{k}
	if c.peer != nil {
		dels = append(dels, *c.peer)
	}
	wait := s.apply(nil, dels)
	s.mu.Unlock()
	return wait()
}

// RevokeUser deletes every session and token of user and returns how many
// credentials were removed.
func (s *Sessions) RevokeUser(user string) (int, error) {
	return s.deleteWhere(func(c *cred) bool { return c.user == user })
}

// Sweep deletes expired credentials and returns how many were removed.
func (s *Sessions) Sweep() (int, error) {
	now := s.now()
	return s.deleteWhere(func(c *cred) bool { return !c.expires.After(now) })
}

func (s *Sessions) deleteWhere(match func(*cred) bool) (int, error) {
	s.mu.Lock()
	var dels []tokenKey
	for k, c := range s.m {
		if match(c) {
			dels = append(dels, k)
		}
	}
	if len(dels) == 0 {
		s.mu.Unlock()
		return 0, nil
	}
	wait := s.apply(nil, dels)
	s.mu.Unlock()
	return len(dels), wait()
}

// Len returns the number of stored credentials (expired ones until swept).
func (s *Sessions) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
