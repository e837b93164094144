package transport

import (
	"strconv"
	"strings"
)

// Kind is the accepted JSON type of a command argument.
type Kind int

// Argument kinds. Optional arguments also accept null, which counts as absent.
const (
	KAny      Kind = iota // anything, passed through
	KString               // string
	KObject               // non-null object
	KBool                 // boolean
	KPatterns             // string or array of strings (numbers are stringified)
	KStrings              // array of strings
	KData                 // string or binary attachment
	KStringOrObject
)

func (k Kind) expect() string {
	switch k {
	case KString:
		return `of type "string"`
	case KObject:
		return "a real object"
	case KBool:
		return `of type "boolean"`
	case KPatterns:
		return `of type "string" or an array of strings`
	case KStrings:
		return "an array of strings"
	case KData:
		return `of type "string" or a Buffer`
	case KStringOrObject:
		return `of type "string" or an object`
	}
	return "anything"
}

func (k Kind) String() string {
	switch k {
	case KString:
		return "string"
	case KObject:
		return "object"
	case KBool:
		return "boolean"
	case KPatterns:
		return "string | string[]"
	case KStrings:
		return "string[]"
	case KData:
		return "string | Buffer"
	case KStringOrObject:
		return "string | object"
	}
	return "any"
}

// Param describes one positional argument of a command.
type Param struct {
	Name     string
	Kind     Kind
	Optional bool
}

// Args are the validated arguments of one call: position i holds the Go
// value of Params[i] (string, map[string]any, bool, []string, []byte, any) or
// nil when an optional argument was absent or null.
type Args struct {
	v []any
}

// Has reports whether argument i was given (and not null).
func (a Args) Has(i int) bool { return i < len(a.v) && a.v[i] != nil }

// Any returns argument i as decoded.
func (a Args) Any(i int) any {
	if i < len(a.v) {
		return a.v[i]
	}
	return nil
}

// Str returns a KString argument ("" when absent).
func (a Args) Str(i int) string { s, _ := a.Any(i).(string); return s }

// Obj returns a KObject argument (nil when absent).
func (a Args) Obj(i int) map[string]any { m, _ := a.Any(i).(map[string]any); return m }

// Bool returns a KBool argument.
func (a Args) Bool(i int) bool { b, _ := a.Any(i).(bool); return b }

// Strings returns a KPatterns / KStrings argument (nil when absent).
func (a Args) Strings(i int) []string { s, _ := a.Any(i).([]string); return s }

// Data returns a KData argument and whether it was sent as a string.
func (a Args) Data(i int) (data []byte, text bool) {
	switch x := a.Any(i).(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, false
	}
	return nil, false
}

// signature renders params as "id, state, options?" for messages and docs.
func signature(ps []Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name
		if p.Optional {
			parts[i] += "?"
		}
	}
	return strings.Join(parts, ", ")
}

// parseArgs validates raw positional arguments (ack already removed) against
// ps. Missing optional arguments take the ack's place in JavaScript handlers
// that shift (protocol.md 2.1); here they simply stay nil. Extra arguments are
// ignored, as JavaScript does.
func parseArgs(cmd string, ps []Param, raw []any) (Args, error) {
	out := make([]any, len(ps))
	for i, p := range ps {
		if i >= len(raw) || raw[i] == nil {
			if !p.Optional {
				if i < len(raw) && p.Kind != KAny {
					return Args{}, errArgType(p, nil)
				}
				if i >= len(raw) {
					return Args{}, errMissingArg(cmd, p, signature(ps))
				}
			}
			continue
		}
		v, ok := convert(p.Kind, raw[i])
		if !ok {
			return Args{}, errArgType(p, raw[i])
		}
		out[i] = v
	}
	return Args{v: out}, nil
}

func convert(k Kind, v any) (any, bool) {
	switch k {
	case KAny:
		return v, true
	case KString:
		s, ok := v.(string)
		return s, ok
	case KObject:
		m, ok := v.(map[string]any)
		return m, ok
	case KBool:
		b, ok := v.(bool)
		return b, ok
	case KData:
		switch v.(type) {
		case string, []byte:
			return v, true
		}
		return nil, false
	case KStringOrObject:
		switch v.(type) {
		case string, map[string]any:
			return v, true
		}
		return nil, false
	case KPatterns:
		switch x := v.(type) {
		case string:
			return []string{x}, true
		case float64, bool:
			return []string{jsString(x)}, true
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := patternString(e)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		}
		return nil, false
	case KStrings:
		x, ok := v.([]any)
		if !ok {
			return nil, false
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// patternString converts one array element of a pattern list; null stays ""
// (an empty pattern, ignored by the subscription code like the reference).
func patternString(e any) (string, bool) {
	switch x := e.(type) {
	case string:
		return x, true
	case nil:
		return "", true
	case float64, bool:
		return jsString(x), true
	}
	return "", false
}

// jsString is String(v) for JSON scalars.
func jsString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
