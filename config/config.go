// Package config is brokerd's configuration: a struct with defaults, strict
// YAML loading (unknown keys and bad values name the key and line),
// environment overrides and validation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Field docs are the configuration
// reference (docs/config.md is generated from them by a test).
type Config struct {
	// Listen is one address or a list of addresses (host:port).
	Listen Addresses `yaml:"listen" doc:"address or list of addresses to listen on (host:port)"`
	// DataDir holds the database.
	DataDir string `yaml:"data_dir" doc:"directory of the embedded database (created when missing)"`
	// Namespace is this broker's instance name, as ioBroker's socketio.0.
	Namespace string    `yaml:"namespace" doc:"instance namespace answered by /name and used in 'from' (system.adapter.<namespace>)"`
	TLS       TLS       `yaml:"tls"`
	Auth      Auth      `yaml:"auth"`
	SocketIO  SocketIO  `yaml:"socketio"`
	Limits    Limits    `yaml:"limits"`
	Log       Log       `yaml:"log"`
	Web       Web       `yaml:"web"`
	HostStats HostStats `yaml:"host_stats"`
	Adapters  Adapters  `yaml:"adapters"`
	// Store selects the backend.
	Store string `yaml:"store" doc:"store backend: bbolt (embedded file in data_dir) or redis (shared by several nodes, docs/redis.md)"`
	Redis Redis  `yaml:"redis"`
}

// Redis is the server of store: redis. Several brokerd nodes with the same
// addr, db and prefix form one cluster (docs/redis.md).
type Redis struct {
	Addr     string `yaml:"addr" doc:"Redis server (host:port) of store: redis"`
	DB       int    `yaml:"db" doc:"Redis database number (0-15 on a default Redis)"`
	Prefix   string `yaml:"prefix" doc:"put before every key and channel; empty = ioBroker's key layout"`
	Password string `yaml:"password" doc:"Redis AUTH password (empty = none); prefer the environment variable"`
}

// TLS enables HTTPS; the pair is reloaded on SIGHUP.
type TLS struct {
	Cert string `yaml:"cert" doc:"PEM certificate file (TLS is on when cert and key are set)"`
	Key  string `yaml:"key" doc:"PEM private key file"`
}

// Auth configures authentication.
type Auth struct {
	Enabled        bool     `yaml:"enabled" doc:"require login; when false every connection acts as default_user"`
	DefaultUser    string   `yaml:"default_user" doc:"user of unauthenticated connections when auth is disabled"`
	SessionTTL     Duration `yaml:"session_ttl" doc:"lifetime of a login session (cookie)"`
	TokenTTL       Duration `yaml:"token_ttl" doc:"lifetime of an OAuth2 access token"`
	AllowedOrigins []string `yaml:"allowed_origins" doc:"origins allowed to connect with cookie credentials (same origin always allowed)"`
	// AllowInsecureRemote must be set to run without auth on a non-loopback address.
	AllowInsecureRemote bool `yaml:"allow_insecure_remote" doc:"permit auth.enabled=false on a non-loopback listen address"`
}

// SocketIO configures the Socket.IO endpoint.
type SocketIO struct {
	PingInterval    Duration `yaml:"ping_interval" doc:"Engine.IO ping interval"`
	PingTimeout     Duration `yaml:"ping_timeout" doc:"Engine.IO ping timeout"`
	ForceWebSockets bool     `yaml:"force_websockets" doc:"accept only the websocket transport"`
	MaxMessageSize  Size     `yaml:"max_message_size" doc:"largest accepted message (e.g. 100MB)"`
}

// Limits protect the broker from misbehaving clients.
type Limits struct {
	MaxConnections       int      `yaml:"max_connections" doc:"live Socket.IO (Engine.IO) sessions; new handshakes beyond this are refused with HTTP 503"`
	MaxSubscriptions     int      `yaml:"max_subscriptions" doc:"patterns per socket (states, objects and files together)"`
	EventsPerSecond      int      `yaml:"events_per_second" doc:"commands per second per connection; faster clients are delayed, a client sending over 10x this for 3s (or 10s of backlog) is disconnected. Also the REST and file-hosting requests per second per client address (one second's burst; over it HTTP 429 with Retry-After)"`
	MaxObjectSize        Size     `yaml:"max_object_size" doc:"largest object document (setObject/extendObject JSON)"`
	MaxJSONDepth         int      `yaml:"max_json_depth" doc:"deepest accepted JSON nesting of a command argument"`
	MaxIDLength          int      `yaml:"max_id_length" doc:"longest accepted id in bytes (the stores cap ids at 1024)"`
	MaxFileSize          Size     `yaml:"max_file_size" doc:"largest file (the files store caps files at 256MB)"`
	MaxFilesPerNamespace int      `yaml:"max_files_per_namespace" doc:"files per file namespace (e.g. vis.0); writes creating more are refused"`
	OutboundQueue        int      `yaml:"outbound_queue" doc:"queued events per connection before coalescing/disconnect"`
	SlowConsumerTimeout  Duration `yaml:"slow_consumer_timeout" doc:"disconnect a client whose queue stays full this long"`
}

// Adapters configures adapter instances connected over the socket (docs/adapters.md).
type Adapters struct {
	SendToTimeout Duration `yaml:"send_to_timeout" doc:"how long sendTo waits for a connected instance's answer before the caller gets a timeout error"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error"`
	Format string `yaml:"format" doc:"text or json"`
}

// Web configures the REST API (/api/v1/), its plain WebSocket streams and
// the hosting of the files store (/files/<namespace>/ and Mounts).
type Web struct {
	// Mounts are "prefix=namespace" pairs (a list, so that the environment
	// can set it like every other key).
	Mounts        []string `yaml:"mounts" doc:"extra URL prefixes serving a file namespace as prefix=namespace, e.g. /vis/=vis.0 (files are always under /files/<namespace>/)"`
	MaxStreams    int      `yaml:"max_streams" doc:"plain WebSocket streams per /api/v1/ws/ endpoint; more are refused with HTTP 503"`
	StatsInterval Duration `yaml:"stats_interval" doc:"period of the /api/v1/ws/system/stats stream"`
}

// HostStats configures the host statistics states system.host.<hostname>.*
// (cpu, mem, freemem, load, uptime, alive) that ioBroker's admin shows.
type HostStats struct {
	// Interval 0 turns the states off; alive expires after two intervals.
	Interval Duration `yaml:"interval" doc:"period of the system.host.<hostname>.* states (cpu, mem, freemem, load, uptime, alive; alive expires after two periods); 0 disables them"`
}

// MountMap returns Mounts as prefix → namespace (validated by Validate).
func (w Web) MountMap() map[string]string {
	out := make(map[string]string, len(w.Mounts))
	for _, m := range w.Mounts {
		if prefix, ns, ok := strings.Cut(m, "="); ok {
			out[strings.TrimSpace(prefix)] = strings.TrimSpace(ns)
		}
	}
	return out
}

// reservedPrefixes are routes a web mount may not shadow.
var reservedPrefixes = []string{"/api/", "/socket.io/", "/files/", "/login", "/logout", "/oauth/", "/auth", "/name", "/healthz", "/readyz", "/metrics"}

func (w Web) validateMounts() error {
	seen := map[string]bool{}
	for _, m := range w.Mounts {
		prefix, ns, ok := strings.Cut(m, "=")
		prefix, ns = strings.TrimSpace(prefix), strings.TrimSpace(ns)
		if !ok {
			return bad("web.mounts", "%q is not prefix=namespace (e.g. /vis/=vis.0)", m)
		}
		if len(prefix) < 3 || prefix[0] != '/' || prefix[len(prefix)-1] != '/' || strings.ContainsAny(prefix, "{} \t\n?#%") || strings.Contains(prefix, "//") {
			return bad("web.mounts", "%q must look like /name/ (leading and trailing slash)", prefix)
		}
		if seen[prefix] {
			return bad("web.mounts", "%q is mounted twice", prefix)
		}
		seen[prefix] = true
		for _, r := range reservedPrefixes {
			if strings.HasPrefix(prefix, r) || strings.HasPrefix(r, prefix) {
				return bad("web.mounts", "%q overlaps the built-in route %s", prefix, r)
			}
		}
		if ns == "" || strings.ContainsAny(ns, "/\\*?\"' ") || strings.Contains(ns, "..") {
			return bad("web.mounts", "%q is not a file namespace (for %s)", ns, prefix)
		}
	}
	return nil
}

// Default returns the embedded default configuration.
func Default() Config {
	return Config{
		Listen:    Addresses{"127.0.0.1:8084"},
		DataDir:   "./data",
		Namespace: "brokerd.0",
		Auth: Auth{
			DefaultUser: "admin",
			SessionTTL:  Duration(24 * time.Hour),
			TokenTTL:    Duration(time.Hour),
		},
		SocketIO: SocketIO{
			PingInterval:   Duration(25 * time.Second),
			PingTimeout:    Duration(20 * time.Second),
			MaxMessageSize: 100 << 20,
		},
		Limits: Limits{
			MaxConnections:       10000,
			MaxSubscriptions:     10000,
			EventsPerSecond:      20000, // a fast adapter pipelines thousands of writes per second; floods are 10x this
			MaxObjectSize:        1 << 20,
			MaxJSONDepth:         64,
			MaxIDLength:          1024,
			MaxFileSize:          256 << 20,
			MaxFilesPerNamespace: 100000,
			OutboundQueue:        10000,
			SlowConsumerTimeout:  Duration(30 * time.Second),
		},
		Adapters: Adapters{SendToTimeout: Duration(30 * time.Second)},
		Log:      Log{Level: "info", Format: "text"},
		Web:      Web{MaxStreams: 100, StatsInterval: Duration(5 * time.Second)},
		// ioBroker's js-controller updates its host states every 15s too.
		HostStats: HostStats{Interval: Duration(15 * time.Second)},
		Store:     "bbolt",
		Redis:     Redis{Addr: "127.0.0.1:6379"},
	}
}

// Load reads path (empty = defaults only), applies environment overrides
// (environ as from os.Environ) and validates.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	var root *yaml.Node
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		root, err = parse(path, data, &c)
		if err != nil {
			return c, err
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) && root != nil {
			ke.File = path
			ke.Line = lineOf(root, ke.Key)
		}
		return c, err
	}
	return c, nil
}

func parse(path string, data []byte, c *Config) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config %s: %v", path, cleanYAMLError(err))
	}
	if len(data) == 0 || root.Kind == 0 {
		return &root, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %v", path, cleanYAMLError(err))
	}
	return &root, nil
}

// cleanYAMLError turns yaml.v3's "field x not found in type config.Auth" into
// wording an admin understands.
func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n  ")
	s = strings.ReplaceAll(s, "\n  ", "; ")
	for {
		i := strings.Index(s, " not found in type ")
		if i < 0 {
			break
		}
		j := strings.IndexAny(s[i+len(" not found in type "):], ";\n")
		end := len(s)
		if j >= 0 {
			end = i + len(" not found in type ") + j
		}
		s = s[:i] + " is not a known key" + s[end:]
	}
	return strings.ReplaceAll(s, ": field ", ": key ")
}

// KeyError is a validation error of one key.
type KeyError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *KeyError) Error() string {
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("config %s: line %d: %s: %s", e.File, e.Line, e.Key, e.Msg)
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

func bad(key, format string, a ...any) error {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, a...)}
}

// Validate checks values and the secure-default rules.
func (c *Config) Validate() error {
	if len(c.Listen) == 0 {
		return bad("listen", "at least one address is required")
	}
	for _, a := range c.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return bad("listen", "%q is not host:port", a)
		}
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	if c.Namespace == "" || strings.ContainsAny(c.Namespace, "*?[]\"' ") {
		return bad("namespace", "%q is not a valid instance namespace", c.Namespace)
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return bad("tls", "cert and key must be set together")
	}
	if c.Auth.DefaultUser == "" {
		return bad("auth.default_user", "must not be empty")
	}
	if c.Auth.SessionTTL <= 0 {
		return bad("auth.session_ttl", "must be positive")
	}
	if c.Auth.TokenTTL <= 0 {
		return bad("auth.token_ttl", "must be positive")
	}
	for _, o := range c.Auth.AllowedOrigins {
		if o == "*" {
			return bad("auth.allowed_origins", `"*" is not allowed with credentials; list the origins`)
		}
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return bad("auth.allowed_origins", "%q must start with http:// or https://", o)
		}
	}
	if c.SocketIO.PingInterval < Duration(time.Second) {
		return bad("socketio.ping_interval", "must be at least 1s")
	}
	if c.SocketIO.PingTimeout < Duration(time.Second) {
		return bad("socketio.ping_timeout", "must be at least 1s")
	}
	if c.SocketIO.MaxMessageSize < 1024 {
		return bad("socketio.max_message_size", "must be at least 1KB")
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"limits.max_connections", int64(c.Limits.MaxConnections)},
		{"limits.max_subscriptions", int64(c.Limits.MaxSubscriptions)},
		{"limits.events_per_second", int64(c.Limits.EventsPerSecond)},
		{"limits.max_object_size", int64(c.Limits.MaxObjectSize)},
		{"limits.max_json_depth", int64(c.Limits.MaxJSONDepth)},
		{"limits.max_id_length", int64(c.Limits.MaxIDLength)},
		{"limits.max_file_size", int64(c.Limits.MaxFileSize)},
		{"limits.max_files_per_namespace", int64(c.Limits.MaxFilesPerNamespace)},
		{"limits.outbound_queue", int64(c.Limits.OutboundQueue)},
		{"limits.slow_consumer_timeout", int64(c.Limits.SlowConsumerTimeout)},
		{"web.max_streams", int64(c.Web.MaxStreams)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return bad(p.key, "must be positive")
		}
	}
	if c.Web.StatsInterval < Duration(100*time.Millisecond) {
		return bad("web.stats_interval", "must be at least 100ms")
	}
	if err := c.Web.validateMounts(); err != nil {
		return err
	}
	// Each period is six fsynced state writes, and alive's expiry has a 1s floor.
	if iv := c.HostStats.Interval; iv != 0 && iv < Duration(time.Second) {
		return bad("host_stats.interval", "must be 0 (disabled) or at least 1s")
	}
	if c.Adapters.SendToTimeout < Duration(100*time.Millisecond) {
		return bad("adapters.send_to_timeout", "must be at least 100ms")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	switch c.Store {
	case "bbolt":
	case "redis":
		if err := c.Redis.validate(); err != nil {
			return err
		}
	default:
		return bad("store", "%q is not a supported store (bbolt, redis)", c.Store)
	}
	if !c.Auth.Enabled && !c.Auth.AllowInsecureRemote {
		for _, a := range c.Listen {
			if !IsLoopback(a) {
				return bad("auth.enabled", "auth is disabled but %s is not a loopback address; enable auth or set auth.allow_insecure_remote: true", a)
			}
		}
	}
	return nil
}

func (r Redis) validate() error {
	if _, port, err := net.SplitHostPort(r.Addr); err != nil || port == "" {
		return bad("redis.addr", "%q is not host:port", r.Addr)
	}
	if r.DB < 0 || r.DB > 1023 {
		return bad("redis.db", "%d is not a database number", r.DB)
	}
	if strings.ContainsAny(r.Prefix, "*?[]\\ \t\r\n") {
		return bad("redis.prefix", "%q must not contain glob characters or spaces", r.Prefix)
	}
	return nil
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLSEnabled reports whether HTTPS is configured.
func (c *Config) TLSEnabled() bool { return c.TLS.Cert != "" && c.TLS.Key != "" }

// lineOf finds the line of a dotted key in the YAML tree (0 if absent).
func lineOf(root *yaml.Node, key string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}
