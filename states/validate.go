package states

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/brokerd/brokerd/pattern"
)

// MaxIDLen is the longest id accepted, in bytes (js-controller has no limit;
// ours keeps keys and subscription matching bounded).
const MaxIDLen = 1024

// ValidationError is a rejected argument. Its message is the exact string the
// protocol sends to the client (protocol.md section 6).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

var (
	errEmptyID      = &ValidationError{Msg: "The id is empty! Please provide a valid id."}
	errIDTooLong    = &ValidationError{Msg: "The id is too long! Ids are limited to 1024 bytes."}
	errNoProperties = &ValidationError{Msg: "The state contains no properties! At least one property is expected!"}
)

// ValidateID checks a state id argument as decoded from JSON (string, float64,
// bool, nil, map, slice, json.Number or json.RawMessage). Unlike js-controller,
// which rewrites forbidden characters to "_", we reject them.
func ValidateID(id any) error {
	_, err := ParseID(id)
	return err
}

// ParseID is ValidateID returning the id as a string.
func ParseID(id any) (string, error) {
	if raw, ok := id.(json.RawMessage); ok {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", invalid("The id %q has an invalid type! Expected \"string\", received \"object\".", string(raw))
		}
		id = v
	}
	switch v := id.(type) {
	case nil:
		return "", errEmptyID
	case bool:
		if !v {
			return "", errEmptyID
		}
	case string:
		return v, checkID(v)
	}
	return "", invalid("The id \"%s\" has an invalid type! Expected \"string\", received \"%s\".", jsStringify(id), typeOf(id))
}

// checkID validates a string id: empty, too long, trailing "." and the
// character whitelist of datamodel.md 1.3.
func checkID(id string) error {
	if id == "" {
		return errEmptyID
	}
	if len(id) > MaxIDLen {
		return errIDTooLong
	}
	if id[len(id)-1] == '.' {
		return invalid("The id \"%s\" is invalid. Ids are not allowed to end in \".\"", id)
	}
	if !pattern.ValidID(id) {
		return invalid("The id \"%s\" contains forbidden characters", id)
	}
	return nil
}

// stateKeyTypes lists the allowed setState properties in the order
// js-controller type-checks them ("any" is never checked).
var stateKeyTypes = [...]struct{ key, typ string }{
	{"val", "any"}, {"ack", "boolean"}, {"ts", "number"}, {"q", "number"}, {"from", "string"},
	{"c", "string"}, {"expire", "number"}, {"lc", "number"}, {"user", "string"},
}

func allowedKey(k string) bool {
	for _, kt := range stateKeyTypes {
		if kt.key == k {
			return true
		}
	}
	return false
}

// ParseWrite validates the decoded state argument of setState (protocol.md
// 8.3) and turns it into a Write. A non-object becomes {val: x}; JSON null is
// {val: null}. Objects are checked like js-controller's
// validateSetStateObjectArgument: empty, then forbidden keys (in key order),
// then the types of ack, ts, q, from, c, expire, lc, user in that order.
//
// Key order: a json.RawMessage keeps the order of the text; a map[string]any
// has none, so its keys are taken in JS order for integer-like keys
// (ascending) followed by the other keys sorted.
func ParseWrite(arg any) (Write, error) {
	switch v := arg.(type) {
	case json.RawMessage:
		return parseRawWrite(v)
	case []byte:
		return parseRawWrite(v)
	case map[string]any:
		return parseObjectWrite(jsKeyOrder(v), v)
	case []any:
		// typeof [] is "object" in JS: its keys are the indices.
		if len(v) == 0 {
			return Write{}, errNoProperties
		}
		keys := make([]string, len(v))
		for i := range v {
			keys[i] = strconv.Itoa(i)
		}
		return Write{}, forbidden(keys)
	}
	return Write{Val: normalizeNumber(arg), HasVal: true}, nil
}

func parseRawWrite(raw []byte) (Write, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return Write{}, invalid("The state is not valid JSON: %v", err)
		}
		return ParseWrite(v)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return Write{}, invalid("The state is not valid JSON: %v", err)
	}
	m := map[string]any{}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Write{}, invalid("The state is not valid JSON: %v", err)
		}
		k := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return Write{}, invalid("The state is not valid JSON: %v", err)
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v // JS keeps the last value of a duplicate key at its first position
	}
	if _, err := dec.Token(); err != nil {
		return Write{}, invalid("The state is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Write{}, invalid("The state is not valid JSON: trailing data")
	}
	return parseObjectWrite(jsOrder(keys), m)
}

// jsKeyOrder returns the keys of m in the order Object.keys would list them
// if they had been inserted in sorted order.
func jsKeyOrder(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return jsOrder(keys)
}

// jsOrder moves array-index keys ("0", "17") to the front in ascending
// numeric order, as JS property enumeration does; others keep their order.
func jsOrder(keys []string) []string {
	var idx, rest []string
	for _, k := range keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	if len(idx) == 0 {
		return keys
	}
	slices.SortFunc(idx, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return append(idx, rest...)
}

func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return false
	}
	n, err := strconv.ParseUint(k, 10, 64)
	return err == nil && n < math.MaxUint32
}

func forbidden(keys []string) error {
	return invalid("The state contains the forbidden properties %s!", strings.Join(keys, ", "))
}

func parseObjectWrite(keys []string, m map[string]any) (Write, error) {
	if len(keys) == 0 {
		return Write{}, errNoProperties
	}
	var bad []string
	for _, k := range keys {
		if !allowedKey(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return Write{}, forbidden(bad)
	}
	for _, kt := range stateKeyTypes {
		v, ok := m[kt.key]
		if !ok || kt.typ == "any" {
			continue
		}
		if t := typeOf(v); t != kt.typ {
			return Write{}, invalid("The state property \"%s\" has the wrong type \"%s\" (should be \"%s\")!", kt.key, t, kt.typ)
		}
	}
	var w Write
	if v, ok := m["val"]; ok {
		w.Val, w.HasVal = normalizeNumber(v), true
	}
	if v, ok := m["ack"]; ok {
		b := v.(bool)
		w.Ack = &b
	}
	if v, ok := m["ts"]; ok {
		n := toInt64(v)
		w.TS = &n
	}
	if v, ok := m["q"]; ok {
		n := int(toInt64(v))
		w.Q = &n
	}
	if v, ok := m["lc"]; ok {
		n := toInt64(v)
		w.LC = &n
	}
	if v, ok := m["expire"]; ok {
		f := toFloat(v)
		s, ms := clampInt64(f), clampInt64(math.Round(f*1000))
		w.Expire, w.ExpireMS = &s, &ms
	}
	if v, ok := m["from"]; ok {
		w.From = v.(string)
	}
	if v, ok := m["user"]; ok {
		w.User = v.(string)
	}
	if v, ok := m["c"]; ok {
		c := v.(string)
		w.C = &c
	}
	return w, nil
}

// typeOf is JS typeof for a decoded JSON value (null, objects and arrays are "object").
func typeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, float32, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number"
	}
	return "object"
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case float32:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	case int:
		return float64(n)
	case int8:
		return float64(n)
	case int16:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	case uint:
		return float64(n)
	case uint8:
		return float64(n)
	case uint16:
		return float64(n)
	case uint32:
		return float64(n)
	case uint64:
		return float64(n)
	}
	return 0
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	return clampInt64(toFloat(v))
}

// clampInt64 truncates f towards zero, saturating instead of overflowing.
func clampInt64(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// normalizeNumber turns any numeric type into float64 (what JSON decoding
// yields), so that values compare equal across restarts.
func normalizeNumber(v any) any {
	if typeOf(v) == "number" {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				return f
			}
			return v
		}
		return toFloat(v)
	}
	return v
}

// jsStringify renders v like JSON.stringify for the invalid-type message.
func jsStringify(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if f, ok := v.(float64); ok {
		return string(appendFloat(nil, f))
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
