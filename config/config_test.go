package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "brokerd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsValid(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen[0] != "127.0.0.1:8084" || c.DataDir != "./data" || c.Store != "bbolt" || c.Auth.Enabled {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestLoadFull(t *testing.T) {
	p := write(t, `
listen: [127.0.0.1:9000, "[::1]:9000"]
data_dir: /tmp/x
auth:
  enabled: true
  session_ttl: 12h
  token_ttl: 30m
  allowed_origins: [https://home.example]
socketio:
  ping_interval: 10s
  ping_timeout: 5s
  max_message_size: 2MB
log: {level: debug, format: json}
`)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listen) != 2 || c.Auth.SessionTTL.Std() != 12*time.Hour || c.SocketIO.MaxMessageSize != 2<<20 || c.Log.Format != "json" {
		t.Fatalf("not loaded: %+v", c)
	}
	if !c.Auth.Enabled || c.Auth.AllowedOrigins[0] != "https://home.example" {
		t.Fatalf("auth not loaded: %+v", c.Auth)
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown top key", "listn: 1.2.3.4:1\n", `line 1: key listn is not a known key`},
		{"unknown nested key", "auth:\n  enabeld: true\n", `line 2: key enabeld is not a known key`},
		{"bad duration", "auth:\n  session_ttl: forever\n", `"forever" is not a duration`},
		{"bad size", "socketio:\n  max_message_size: lots\n", `"lots" is not a size`},
		{"bad bool", "auth:\n  enabled: maybe\n", `line 2`},
		{"bad int", "limits:\n  max_connections: many\n", `line 2`},
		{"listen not host:port", "listen: nowhere\n", `line 1: listen: "nowhere" is not host:port`},
		{"empty listen", "listen: []\n", `listen: at least one address is required`},
		{"empty data dir", "data_dir: \"\"\n", `line 1: data_dir: must not be empty`},
		{"bad namespace", "namespace: \"a b\"\n", `line 1: namespace:`},
		{"tls half", "tls:\n  cert: a.pem\n", `line 1: tls: cert and key must be set together`},
		{"empty default user", "auth:\n  default_user: \"\"\n", `line 2: auth.default_user: must not be empty`},
		{"zero session ttl", "auth:\n  session_ttl: 0s\n", `line 2: auth.session_ttl: must be positive`},
		{"zero token ttl", "auth:\n  token_ttl: 0s\n", `line 2: auth.token_ttl: must be positive`},
		{"star origin", "auth:\n  allowed_origins: [\"*\"]\n", `line 2: auth.allowed_origins: "*" is not allowed`},
		{"origin scheme", "auth:\n  allowed_origins: [home]\n", `must start with http:// or https://`},
		{"short ping", "socketio:\n  ping_interval: 10ms\n", `line 2: socketio.ping_interval: must be at least 1s`},
		{"short ping timeout", "socketio:\n  ping_timeout: 10ms\n", `line 2: socketio.ping_timeout: must be at least 1s`},
		{"tiny message", "socketio:\n  max_message_size: 10\n", `line 2: socketio.max_message_size: must be at least 1KB`},
		{"zero limit", "limits:\n  max_connections: 0\n", `line 2: limits.max_connections: must be positive`},
		{"negative depth", "limits:\n  max_json_depth: -1\n", `line 2: limits.max_json_depth: must be positive`},
		{"bad log level", "log:\n  level: loud\n", `line 2: log.level: "loud" is not one of`},
		{"bad log format", "log:\n  format: xml\n", `line 2: log.format: "xml" is not one of`},
		{"short send_to timeout", "adapters:\n  send_to_timeout: 1ms\n", `line 2: adapters.send_to_timeout: must be at least 100ms`},
		{"bad store", "store: mongo\n", `line 1: store: "mongo" is not a supported store`},
		{"redis addr", "store: redis\nredis:\n  addr: localhost\n", `line 3: redis.addr: "localhost" is not host:port`},
		{"redis empty addr", "store: redis\nredis:\n  addr: \"\"\n", `redis.addr: "" is not host:port`},
		{"redis db", "store: redis\nredis:\n  db: -1\n", `line 3: redis.db: -1 is not a database number`},
		{"redis prefix", "store: redis\nredis:\n  prefix: \"a*\"\n", `line 3: redis.prefix:`},
		{"redis unknown key", "redis:\n  host: x\n", `line 2: key host is not a known key`},
		{"insecure remote", "listen: 0.0.0.0:8084\n", `auth.enabled: auth is disabled but 0.0.0.0:8084 is not a loopback address`},
		{"not yaml", "listen: [\n", `config`},
		{"wrong shape", "auth: yes\n", `line 1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.body), nil)
			if err == nil {
				t.Fatalf("accepted %q", tc.body)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestInsecureRemoteAllowedExplicitly(t *testing.T) {
	if _, err := Load(write(t, "listen: 0.0.0.0:8084\nauth:\n  allow_insecure_remote: true\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(write(t, "listen: 0.0.0.0:8084\nauth:\n  enabled: true\n"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestEnvOverrides(t *testing.T) {
	p := write(t, "data_dir: /from/file\n")
	c, err := Load(p, []string{"BROKERD_DATA_DIR=/from/env", "BROKERD_LISTEN=127.0.0.1:1,127.0.0.1:2",
		"BROKERD_AUTH_ENABLED=true", "BROKERD_AUTH_TOKEN_TTL=2h", "BROKERD_LIMITS_MAX_FILE_SIZE=1MB", "OTHER=x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" || len(c.Listen) != 2 || !c.Auth.Enabled || c.Auth.TokenTTL.Std() != 2*time.Hour || c.Limits.MaxFileSize != 1<<20 {
		t.Fatalf("env not applied: %+v", c)
	}
	for _, bad := range []string{"BROKERD_AUTH_ENABLED=perhaps", "BROKERD_LIMITS_MAX_CONNECTIONS=x", "BROKERD_AUTH_TOKEN_TTL=1", "BROKERD_LIMITS_MAX_FILE_SIZE=-3"} {
		if _, err := Load("", []string{bad}); err == nil || !strings.Contains(err.Error(), strings.SplitN(bad, "=", 2)[0]) {
			t.Fatalf("%s: error %v does not name the variable", bad, err)
		}
	}
}

func TestSizeAndDurationFormat(t *testing.T) {
	var s Size
	for in, want := range map[string]Size{"1024": 1024, "1KB": 1024, "3mb": 3 << 20, "2GB": 2 << 30} {
		if err := s.parse(in); err != nil || s != want {
			t.Fatalf("%s → %d, %v", in, s, err)
		}
	}
	if Size(100<<20).String() != "100MB" {
		t.Fatal(Size(100 << 20).String())
	}
}

func TestRedisStore(t *testing.T) {
	c, err := Load(write(t, "store: redis\nredis:\n  addr: 10.0.0.5:6380\n  db: 2\n  prefix: \"home:\"\n"), []string{"BROKERD_REDIS_PASSWORD=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	want := Redis{Addr: "10.0.0.5:6380", DB: 2, Prefix: "home:", Password: "s3cret"}
	if c.Store != "redis" || c.Redis != want {
		t.Fatalf("redis not loaded: %q %+v", c.Store, c.Redis)
	}
	// The redis section is only checked when it is used.
	if _, err := Load(write(t, "redis:\n  addr: nowhere\n"), nil); err != nil {
		t.Fatalf("bbolt store rejected an unused redis section: %v", err)
	}
	if d := Default(); d.Redis.Addr != "127.0.0.1:6379" || d.Redis.DB != 0 || d.Redis.Prefix != "" {
		t.Fatalf("redis defaults: %+v", d.Redis)
	}
}
