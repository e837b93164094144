package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/transport"
)

// socketAuth lets the transport authenticate sockets with the auth service.
type socketAuth struct{ svc *auth.Service }

// session is one socket's login: its permissions follow group changes (the
// auth service bumps a generation on every user/group change) and it ends
// when its token is revoked or expires.
type session struct {
	svc *auth.Service
	mu  sync.Mutex
	id  *auth.Identity
	gen uint64
}

func (a socketAuth) Authenticate(h *transport.Handshake) (transport.Session, error) {
	r := h.Request
	if r == nil {
		return nil, auth.ErrNoCredentials
	}
	gen := a.svc.Generation()
	id, err := a.svc.Authenticate(r, h.Auth)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidLogin) {
			return nil, transport.ErrInvalidLogin
		}
		return nil, err
	}
	return &session{svc: a.svc, id: id, gen: gen}, nil
}

// Subject returns the current permissions, recomputed after a user or group change.
func (s *session) Subject() *acl.Subject {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.svc.Generation(); g != s.gen {
		if sub, err := s.svc.Permissions(s.id.UserID); err == nil {
			s.id.Subject = sub
			s.gen = g
		}
	}
	return s.id.Subject
}

// Alive reports whether the token or session behind the socket is still valid.
func (s *session) Alive() bool {
	s.mu.Lock()
	id := s.id
	s.mu.Unlock()
	return s.svc.Alive(id)
}

// UpdateToken switches the socket to a refreshed access token of the same user.
func (a socketAuth) UpdateToken(sess transport.Session, token string) (time.Time, error) {
	s, ok := sess.(*session)
	if !ok {
		return time.Time{}, errors.New("No access token found")
	}
	id, err := a.svc.IdentityForToken(token)
	if err != nil {
		return time.Time{}, errors.New("No access token found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id.UserID != s.id.UserID {
		return time.Time{}, errors.New("Access token belongs to another user")
	}
	s.id = id
	return id.ExpiresAt, nil
}

// Logout revokes the socket's token; the socket then gets reauthenticate.
func (a socketAuth) Logout(sess transport.Session) error {
	s, ok := sess.(*session)
	if !ok {
		return auth.ErrNoSession
	}
	s.mu.Lock()
	id := s.id
	s.mu.Unlock()
	return a.svc.Logout(id)
}
