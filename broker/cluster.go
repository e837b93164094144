package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/cluster"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/redisstore"
	"github.com/brokerd/brokerd/states"
	"github.com/brokerd/brokerd/transport"
)

// openStores opens the configured backend: the bbolt file in data_dir, or
// Redis (store: redis) with this node's cluster router.
func openStores(cfg config.Config, log *slog.Logger) (*Stores, error) {
	if cfg.Store != "redis" {
		return OpenStores(cfg.DataDir)
	}
	return OpenRedisStores(cfg, log)
}

// OpenRedisStores opens the stores and sessions on Redis (cfg.Redis, see
// OpenRedis) and joins the cluster of nodes sharing it.
func OpenRedisStores(cfg config.Config, log *slog.Logger) (*Stores, error) {
	s, err := OpenRedis(cfg, log)
	if err != nil {
		return nil, err
	}
	rc := cfg.Redis
	router, err := cluster.New(cluster.Options{Client: s.rdb, Prefix: rc.Prefix, From: "system.adapter." + cfg.Namespace,
		Logger: log.With("component", "cluster")})
	if err != nil {
		s.Close()
		return nil, err
	}
	sts, _ := s.States.(*redisstore.States)
	notifications := sts != nil && sts.Notifications()
	log.Info("joined cluster", "node", router.Node(), "redis", rc.Addr, "db", rc.DB, "prefix", rc.Prefix,
		"expiry_notifications", notifications)
	s.States = aliveTap{s.States, router}
	s.cluster = router
	closeData := s.closeRedis
	s.closeRedis = func() {
		router.Close()
		closeData()
	}
	return s, nil
}

// Router is what transport.Options.Router gets: the cluster router with
// store: redis, nil (instances of this process only) with bbolt.
func (s *Stores) Router() transport.MessageRouter {
	if s.cluster == nil {
		return nil
	}
	return s.cluster
}

// attach lets the cluster router deliver other nodes' requests to the
// instances connected to srv.
func (s *Stores) attach(srv *transport.Server) {
	if s.cluster != nil {
		s.cluster.SetLocal(srv)
	}
}

// aliveTap tells the cluster router which instances are connected here: the
// transport writes <instance>.alive with from = the instance, as admin, when
// an instance connects (true, with an expiry; again every AliveInterval) and
// leaves (false). Only a connection of that instance on this node writes
// with that from, so such a write means the instance is held here.
type aliveTap struct {
	StateStore
	router *cluster.Router
}

func (t aliveTap) Set(id string, w states.Write) (*states.State, error) {
	if inst, ok := strings.CutSuffix(id, ".alive"); ok && inst == w.From && w.User == acl.Admin && w.HasVal {
		if up, isBool := w.Val.(bool); isBool && (!up || w.Expire != nil) {
			// Registered before the state is visible, so a node that sees
			// alive=true can route to the instance.
			t.router.Held(inst, up)
		}
	}
	return t.StateStore.Set(id, w)
}

// clusterAuth refuses a socket that claims an instance another running node
// holds, as the transport refuses a second claim on one node.
type clusterAuth struct {
	socketAuth
	router *cluster.Router
}

func (a clusterAuth) Authenticate(h *transport.Handshake) (transport.Session, error) {
	sess, err := a.socketAuth.Authenticate(h)
	if err != nil {
		return nil, err
	}
	name, _ := h.Auth["instance"].(string)
	if name == "" {
		name = h.Query.Get("instance")
	}
	if name == "" {
		return sess, nil
	}
	inst := name
	if !strings.HasPrefix(inst, "system.host.") && !strings.HasPrefix(inst, "system.adapter.") {
		inst = "system.adapter." + inst
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	node, err := a.router.HeldElsewhere(ctx, inst)
	if err != nil {
		return nil, fmt.Errorf("cannot check instance %s: %w", name, err)
	}
	if node != "" {
		return nil, fmt.Errorf("instance %s is already connected (node %s)", strings.TrimPrefix(inst, "system.adapter."), node)
	}
	return sess, nil
}

// authenticator wraps the socket authenticator with the cluster-wide
// instance check when there is a cluster.
func (s *Stores) authenticator(a socketAuth) transport.Authenticator {
	if s.cluster == nil {
		return a
	}
	return clusterAuth{a, s.cluster}
}
