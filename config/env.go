package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix prefixes every environment override: the key path upper-cased
// with "." → "_", e.g. BROKERD_AUTH_SESSION_TTL=12h, BROKERD_LISTEN=0.0.0.0:8084
// (comma-separated for several addresses and lists).
const EnvPrefix = "BROKERD_"

// EnvKeys lists every key path with its environment variable name.
func EnvKeys() [][2]string {
	var out [][2]string
	walk(reflect.ValueOf(Default()), "", func(key string, _ reflect.Value, _ reflect.StructField) {
		out = append(out, [2]string{key, EnvName(key)})
	})
	return out
}

// EnvName is the environment variable overriding key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func applyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	var err error
	walk(reflect.ValueOf(c).Elem(), "", func(key string, v reflect.Value, _ reflect.StructField) {
		s, ok := env[EnvName(key)]
		if !ok || err != nil {
			return
		}
		if e := setFromString(v, s); e != nil {
			err = fmt.Errorf("environment %s: %v", EnvName(key), e)
		}
	})
	return err
}

// walk visits every leaf field with its dotted yaml key.
func walk(v reflect.Value, prefix string, fn func(key string, v reflect.Value, f reflect.StructField)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			walk(fv, key, fn)
			continue
		}
		fn(key, fv, f)
	}
}

func setFromString(v reflect.Value, s string) error {
	switch p := v.Addr().Interface().(type) {
	case *Duration:
		return p.parse(s)
	case *Size:
		return p.parse(s)
	case *Addresses:
		*p = splitList(s)
		return nil
	case *[]string:
		*p = splitList(s)
		return nil
	case *string:
		*p = s
		return nil
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = b
		return nil
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*p = n
		return nil
	}
	return fmt.Errorf("unsupported type %s", v.Type())
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
