package broker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/cluster"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/redisstore"
	"github.com/brokerd/brokerd/states"
	"github.com/brokerd/brokerd/transport"
	"github.com/redis/go-redis/v9"
)

// Stores are the three stores on one opened database. The daemon and the
// offline admin subcommands both open them through here.
type Stores struct {
	// DB is the bbolt file in data_dir; nil with store: redis, where the
	// data and the auth sessions are in Redis.
	DB      *database.DB
	Objects ObjectStore
	States  StateStore
	Files   files.Store
	// Sessions is the auth session store shared by the nodes (store: redis);
	// nil with bbolt, where auth keeps its sessions in DB.
	Sessions auth.SessionStore

	rdb        *redis.Client   // store: redis
	cluster    *cluster.Router // store: redis: routes messages to other nodes
	closeRedis func()          // store: redis: stops the router, stream readers and sessions, closes the client
}

// ObjectStore is an objects.Store with the extra methods the broker needs
// (both objects.BoltStore and redisstore.Objects have them).
type ObjectStore interface {
	objects.Store
	InitDefaults(hostname, adminPasswordHash string) error
	DefaultNewACL() *objects.DefaultACL
}

// StateStore is a states.Store that runs timers (expiry) until Close.
type StateStore interface {
	states.Store
	Close()
}

// OpenStores opens the database in dir and the stores on it.
func OpenStores(dir string) (*Stores, error) {
	db, err := database.Open(dir)
	if err != nil {
		return nil, err
	}
	s := &Stores{DB: db}
	// The two stores load independently: side by side, a cold start with
	// 100,000 objects and states takes the longer load, not the sum.
	type opened struct {
		st  *states.BoltStore
		err error
	}
	stc := make(chan opened, 1)
	go func() {
		st, err := states.Open(db)
		stc <- opened{st, err}
	}()
	closeAll := func() {
		if o := <-stc; o.err == nil {
			o.st.Close()
		}
		db.Close()
	}
	if s.Objects, err = objects.Open(db); err != nil {
		closeAll()
		return nil, err
	}
	if s.Objects.Len() == 0 {
		if err := initDefaults(s.Objects); err != nil {
			closeAll()
			return nil, err
		}
	}
	o := <-stc
	if o.err != nil {
		db.Close()
		return nil, o.err
	}
	s.States = o.st
	if s.Files, err = files.Open(db, files.NamespaceFunc(s.isMeta), s.defaultFileACL); err != nil {
		s.States.Close()
		db.Close()
		return nil, err
	}
	return s, nil
}

// DefaultAdminPassword is the password of system.user.admin on a fresh data
// directory, as in ioBroker; `brokerd user passwd admin` changes it.
const DefaultAdminPassword = "iobroker"

// initDefaults creates the default objects of a fresh installation.
func initDefaults(o ObjectStore) error {
	hash, err := auth.HashPassword(DefaultAdminPassword)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "brokerd"
	}
	return o.InitDefaults(host, hash)
}

// isMeta reports whether ns is an object of type "meta": only those own files.
func (s *Stores) isMeta(ns string) bool {
	_, m, ok := s.Objects.GetRaw(ns)
	return ok && m.Type == "meta"
}

// defaultFileACL derives the acl of new files from system.config defaultNewAcl.
func (s *Stores) defaultFileACL() acl.File {
	f := acl.File{Owner: acl.Admin, OwnerGroup: acl.AdminGroup, Permissions: 0x644}
	if d := s.Objects.DefaultNewACL(); d != nil {
		if d.Owner != "" {
			f.Owner = d.Owner
		}
		if d.OwnerGroup != "" {
			f.OwnerGroup = d.OwnerGroup
		}
		if d.File != 0 {
			f.Permissions = d.File
		}
	}
	return f
}

// OpenRedis opens the stores and the session store on Redis (cfg.Redis)
// without joining the cluster: the admin subcommands use it as it is,
// OpenRedisStores adds this node's message router. No bbolt file is opened,
// so it works while daemons run.
func OpenRedis(cfg config.Config, log *slog.Logger) (*Stores, error) {
	rc := cfg.Redis
	rdb := redis.NewClient(&redis.Options{Addr: rc.Addr, DB: rc.DB, Password: rc.Password})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := rdb.Ping(ctx).Err()
	cancel()
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis %s db %d: %w", rc.Addr, rc.DB, &redisstore.UnavailableError{Err: err})
	}
	o := redisstore.Options{Client: rdb, Prefix: rc.Prefix, Logger: log.With("component", "redisstore")}
	var closers []func() // of the opened stores but States, which Stores.Close closes first
	closeAll := func() {
		// Side by side: each stream reader may sit in a blocking XREAD until it ends.
		var wg sync.WaitGroup
		for _, c := range closers {
			wg.Go(c)
		}
		wg.Wait()
		rdb.Close()
	}
	var sts *redisstore.States
	fail := func(err error) (*Stores, error) {
		if sts != nil {
			sts.Close()
		}
		closeAll()
		return nil, err
	}
	s := &Stores{rdb: rdb}
	objs, err := redisstore.OpenObjects(o)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, objs.Close)
	s.Objects = objs
	if objs.Len() == 0 {
		if err := initDefaults(objs); err != nil {
			return fail(err)
		}
	}
	if sts, err = redisstore.OpenStates(o); err != nil {
		return fail(err)
	}
	fs, err := redisstore.OpenFiles(o, files.NamespaceFunc(s.isMeta), s.defaultFileACL)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, fs.Close)
	sess, err := redisstore.OpenSessions(o, redisstore.SessionsOptions{})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, sess.Close)
	log.Debug("redis stores opened", "redis", rc.Addr, "db", rc.DB, "prefix", rc.Prefix, "expiry_notifications", sts.Notifications())
	s.States, s.Files, s.Sessions = sts, fs, sess
	s.closeRedis = closeAll
	return s, nil
}

// Close stops timers, flushes the last commit and closes the file (bbolt)
// or the Redis client.
func (s *Stores) Close() error {
	s.States.Close()
	if s.closeRedis != nil {
		s.closeRedis()
	}
	if s.DB == nil {
		return nil
	}
	return s.DB.Close()
}

// DeleteObjects deletes objects and the values of deleted state objects.
func (s *Stores) DeleteObjects(id string, recursive bool, o objects.WriteOptions) error {
	return transport.DeleteObjects(transport.Stores{Objects: s.Objects, States: s.States, Files: s.Files}, id, recursive, o)
}
