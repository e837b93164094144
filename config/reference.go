package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference renders the configuration reference (docs/config.md) from the
// struct tags and defaults, so the document cannot drift from the code.
func Reference() string {
	var b strings.Builder
	b.WriteString("# brokerd configuration reference\n\n")
	b.WriteString("Generated from `config.Config` by `go test ./config` (set `UPDATE_DOCS=1` to rewrite). ")
	b.WriteString("Pass a YAML file with `brokerd serve --config FILE`. Unknown keys and bad values stop start-up ")
	b.WriteString("with the key and line. Every key can be overridden by the environment variable shown ")
	b.WriteString("(lists comma-separated). Durations use Go syntax (`30s`, `24h`), sizes `512KB`, `100MB`.\n\n")
	b.WriteString("| key | environment | default | meaning |\n|---|---|---|---|\n")
	walk(reflect.ValueOf(Default()), "", func(key string, v reflect.Value, f reflect.StructField) {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", key, EnvName(key), defaultText(v), f.Tag.Get("doc"))
	})
	return b.String()
}

func defaultText(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Addresses:
		return "`" + strings.Join(x, ", ") + "`"
	case []string:
		if len(x) == 0 {
			return "(none)"
		}
		return "`" + strings.Join(x, ", ") + "`"
	case string:
		if x == "" {
			return "(empty)"
		}
		return "`" + x + "`"
	case fmt.Stringer:
		return "`" + x.String() + "`"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}
