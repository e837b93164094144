package config

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file (and arbitrary
// BROKERD_* variables). Load must not panic; an accepted config validates,
// and the same config rendered as environment overrides loads back equal.
// Seeds beyond these live in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	seeds := [][2]string{
		{"", ""},
		{"listen: 127.0.0.1:9000\n", ""},
		{"listen: [127.0.0.1:9000, \"[::1]:9000\"]\ndata_dir: /tmp/x\nauth: {enabled: true, session_ttl: 12h}\n", ""},
		{"socketio:\n  max_message_size: 2MB\n  ping_interval: 10s\n", "BROKERD_LOG_LEVEL=debug"},
		{"limits: {max_file_size: 17179869185GB}\n", ""},
		{"listen: 0.0.0.0:1\n", "BROKERD_AUTH_ALLOW_INSECURE_REMOTE=true"},
		{"bogus: 1\n", ""},
		{"a: &x [*x]\n", ""},
		{"log: {level: loud}\n", "BROKERD_LIMITS_MAX_CONNECTIONS=x"},
		{"- 1\n- 2\n", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), s[1])
	}
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		path := filepath.Join(dir, fmt.Sprintf("c%d.yaml", n.Add(1)))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		c, err := Load(path, strings.Split(env, "\n"))
		checkSizes(t, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config") && !strings.HasPrefix(err.Error(), "environment ") {
				t.Fatalf("error does not say where it comes from: %v", err)
			}
			var ke *KeyError
			if errors.As(err, &ke) && ke.Key == "" {
				t.Fatalf("KeyError without key: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config that does not validate: %v", err)
		}
		environ, ok := asEnviron(c)
		if !ok {
			return
		}
		again, err := Load("", environ)
		if err != nil {
			t.Fatalf("config rendered as environment does not load: %v\n%q", err, environ)
		}
		if !reflect.DeepEqual(normalizeLists(again), normalizeLists(c)) {
			t.Fatalf("environment round trip differs:\n got %+v\nwant %+v", again, c)
		}
	})
}

// asEnviron renders every key of c as a BROKERD_ variable; false when a list
// element cannot be written comma-separated.
func asEnviron(c Config) ([]string, bool) {
	var env []string
	ok := true
	walk(reflect.ValueOf(c), "", func(key string, v reflect.Value, _ reflect.StructField) {
		var s string
		switch x := v.Interface().(type) {
		case Addresses:
			ok = ok && listable(x)
			s = strings.Join(x, ",")
		case []string:
			ok = ok && listable(x)
			s = strings.Join(x, ",")
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		env = append(env, EnvName(key)+"="+s)
	})
	return env, ok
}

func listable(l []string) bool {
	for _, s := range l {
		if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, ",") {
			return false
		}
	}
	return true
}

// normalizeLists makes empty and nil lists equal.
func normalizeLists(c Config) Config {
	if len(c.Auth.AllowedOrigins) == 0 {
		c.Auth.AllowedOrigins = nil
	}
	return c
}

// checkSizes parses every scalar of the document as a Size: whatever is
// accepted must be the exact product, without overflow.
func checkSizes(t *testing.T, data []byte) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return
	}
	var visit func(n *yaml.Node, depth int)
	visit = func(n *yaml.Node, depth int) {
		if depth > 64 {
			return
		}
		if n.Kind == yaml.ScalarNode {
			var s Size
			if s.parse(n.Value) == nil {
				if want := exactSize(n.Value); want == nil || want.Cmp(big.NewInt(int64(s))) != 0 {
					t.Fatalf("Size %q parsed as %d, exact value %v", n.Value, int64(s), want)
				}
			}
		}
		for _, c := range n.Content {
			visit(c, depth+1)
		}
	}
	visit(&root, 0)
}

// exactSize is Size.parse in arbitrary precision (nil when not a size).
func exactSize(v string) *big.Int {
	t := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.m
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return nil
	}
	return new(big.Int).Mul(big.NewInt(n), big.NewInt(mult))
}
