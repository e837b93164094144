// Package auth authenticates brokerd clients and computes what they may do:
// password hashes (ioBroker PBKDF2 format), users and groups kept as
// system.user.* / system.group.* objects, the merged per-user permission set
// with live invalidation, persistent browser sessions and OAuth2 tokens,
// the login/logout/token HTTP routes with brute-force throttling, and the
// Socket.IO handshake check.
//
// Secrets (passwords, hashes, tokens, session ids) are never logged.
package auth

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
)

// DefaultRefreshTTL is the lifetime of an OAuth2 refresh token.
const DefaultRefreshTTL = 7 * 24 * time.Hour

// Options configure a Service.
type Options struct {
	// DB holds the sessions bucket; Objects holds users and groups.
	DB      *database.DB
	Objects objects.Store
	// Sessions replaces the bbolt session store of DB (then DB may be nil),
	// e.g. redisstore.Sessions with store: redis. The caller closes it.
	Sessions SessionStore
	// Config is the auth section of the configuration.
	Config config.Auth
	// RefreshTTL of OAuth2 refresh tokens (0 = DefaultRefreshTTL).
	RefreshTTL time.Duration
	// Limits throttle failed logins (zero fields take DefaultRateLimit's).
	Limits RateLimit
	// SweepInterval is how often expired sessions are deleted (0 = 1 min,
	// negative = never, for tests that call Sweep themselves).
	SweepInterval time.Duration
	// From is written as "from" of user and group objects (default "system.auth").
	From   string
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the authentication and authorisation component.
type Service struct {
	enabled     bool
	defaultUser string
	sessionTTL  time.Duration
	tokenTTL    time.Duration
	refreshTTL  time.Duration
	origins     []string
	from        string
	now         func() time.Time
	log         *slog.Logger

	store    objects.Store
	sessions SessionStore
	perms    *permCache
	limit    *limiter
	mgmt     sync.Mutex // serialises user/group read-modify-write

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New opens the session store and registers the permission-cache listener.
func New(o Options) (*Service, error) {
	if (o.DB == nil && o.Sessions == nil) || o.Objects == nil {
		return nil, errors.New("auth: Objects and DB or Sessions are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	if o.From == "" {
		o.From = "system.auth"
	}
	sess := o.Sessions
	if sess == nil {
		bolt, err := OpenSessions(o.DB, o.Now)
		if err != nil {
			return nil, err
		}
		sess = bolt
	}
	s := &Service{
		enabled:     o.Config.Enabled,
		defaultUser: o.Config.DefaultUser,
		sessionTTL:  time.Duration(o.Config.SessionTTL),
		tokenTTL:    time.Duration(o.Config.TokenTTL),
		refreshTTL:  o.RefreshTTL,
		origins:     o.Config.AllowedOrigins,
		from:        o.From,
		now:         o.Now,
		log:         o.Logger,
		store:       o.Objects,
		sessions:    sess,
		perms:       newPermCache(o.Objects),
		limit:       newLimiter(o.Limits, o.Now),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	if s.defaultUser == "" {
		s.defaultUser = "admin"
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 24 * time.Hour
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = time.Hour
	}
	interval := o.SweepInterval
	if interval == 0 {
		interval = time.Minute
	}
	if interval > 0 {
		go s.sweepLoop(interval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweep. It does not close the database.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Service) sweepLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep deletes expired sessions/tokens and forgets stale failure counters.
func (s *Service) Sweep() {
	n, err := s.sessions.Sweep()
	if err != nil {
		s.log.Warn("session sweep failed", "err", err)
	} else if n > 0 {
		s.log.Debug("expired sessions removed", "count", n)
	}
	s.limit.prune()
}

// Enabled reports whether authentication is required.
func (s *Service) Enabled() bool { return s.enabled }

// Sessions is the session and token store.
func (s *Service) Sessions() SessionStore { return s.sessions }

// Permissions returns the merged permission set of userID (datamodel.md
// 4.4): the OR over all groups listing the user, groups in group-list order
// (primary first); system.user.admin and administrator-group members get
// everything and Admin. A missing user gets an empty set. The result is a
// copy from a cache that every user/group object change invalidates.
func (s *Service) Permissions(userID string) (*acl.Subject, error) {
	return s.perms.get(userID)
}

// OnChange registers fn, called with the id of every user whose permission
// set (or user object) may have changed, so open connections can refresh
// their subject without reconnecting. fn runs on the store's commit
// goroutine and must not block.
func (s *Service) OnChange(fn func(userID string)) { s.perms.onUserChange(fn) }

// Generation increases with every user/group change; a transport may compare
// it per command and refetch Permissions when it moved.
func (s *Service) Generation() uint64 { return s.perms.gen.Load() }

// DefaultUserID is the user of every connection when auth is disabled.
func (s *Service) DefaultUserID() string {
	if strings.HasPrefix(s.defaultUser, acl.UserPrefix) {
		return s.defaultUser
	}
	return UserID(s.defaultUser)
}
