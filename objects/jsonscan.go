package objects

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/brokerd/brokerd/acl"
)

// A minimal JSON scanner: it finds the spans of an object's members without
// decoding them, so that loading 100,000 objects only touches the few fields
// the indexes need. Input is trusted to be valid JSON (we wrote it).

var errScan = errors.New("malformed JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string whose opening quote is at i.
func skipString(b []byte, i int) (int, error) {
	i++
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return 0, errScan
		}
		q := i + k
		bs := 0 // an even run of backslashes before the quote leaves it unescaped
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1, nil
		}
		i = q + 1
	}
}

// skipValue returns the index after the value starting at i.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errScan
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errScan
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		if j == i {
			return 0, errScan
		}
		return j, nil
	}
}

// eachMember calls fn for every member of the JSON object b with the raw
// (still quoted) key and the raw value, until fn returns false.
func eachMember(b []byte, fn func(key, val []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return errScan
		}
		ke, err := skipString(b, i)
		if err != nil {
			return err
		}
		key := b[i:ke]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return errScan
		}
		i = skipSpace(b, i+1)
		ve, err := skipValue(b, i)
		if err != nil {
			return err
		}
		if !fn(key, b[i:ve]) {
			return nil
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return errScan
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] != ',' {
			return errScan
		}
		i = skipSpace(b, i+1)
	}
	return errScan
}

// keyIs compares a raw quoted key with name; escaped keys are decoded.
func keyIs(raw []byte, name string) bool {
	if len(raw) == len(name)+2 && string(raw[1:len(raw)-1]) == name {
		return true
	}
	for _, c := range raw {
		if c == '\\' {
			var s string
			return json.Unmarshal(raw, &s) == nil && s == name
		}
	}
	return false
}

// rawString decodes a JSON string value; ok is false for other values.
func rawString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// truthy applies JavaScript truthiness to a raw JSON value.
func truthy(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case 'n', 'f':
		return false
	case '"':
		return len(v) > 2
	case '{', '[', 't':
		return true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return err == nil && f != 0
}

// entry is one object in memory: its stored JSON and what the indexes need.
// Entries are immutable; a write installs a new one.
type entry struct {
	raw     json.RawMessage
	meta    *Meta
	custom  json.RawMessage // common.custom of a state (sub-slice of raw)
	name    json.RawMessage // raw common.name, kept for enums
	members []string        // common.members of enums
}

// parseEntry indexes raw (the stored JSON of id) without decoding it fully.
func parseEntry(id string, raw []byte) (*entry, error) {
	e := &entry{raw: raw, meta: &Meta{ID: id}}
	var common, aclRaw []byte
	err := eachMember(raw, func(k, v []byte) bool {
		switch {
		case keyIs(k, "type"):
			e.meta.Type, _ = rawString(v)
		case keyIs(k, "common"):
			common = v
		case keyIs(k, "acl"):
			aclRaw = v
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(aclRaw) > 0 && aclRaw[0] == '{' {
		e.meta.ACL = parseACL(aclRaw)
	}
	if len(common) == 0 || !truthy(common) {
		return e, nil
	}
	e.meta.HasCommon = true
	if common[0] != '{' {
		return e, nil
	}
	var members []byte
	err = eachMember(common, func(k, v []byte) bool {
		switch {
		case keyIs(k, "name"):
			e.name = v
		case keyIs(k, "custom"):
			if e.meta.Type == "state" && truthy(v) {
				e.meta.HasCustom = true
				e.custom = v
			}
		case keyIs(k, "dontDelete"):
			e.meta.DontDelete = truthy(v)
		case keyIs(k, "members"):
			members = v
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	e.meta.Name = viewName(e.name)
	if e.meta.Type == "enum" && len(members) > 0 && members[0] == '[' {
		var ms []any
		if json.Unmarshal(members, &ms) == nil {
			for _, m := range ms {
				if s, ok := m.(string); ok {
					e.members = append(e.members, s)
				}
			}
		}
	}
	if e.meta.Type != "enum" {
		e.name = nil
	}
	return e, nil
}

// viewName is common.name as a view key: the string, or name.en, or the JSON text.
func viewName(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if s, ok := rawString(v); ok {
		return s
	}
	if v[0] == '{' {
		var en string
		found := false
		_ = eachMember(v, func(k, val []byte) bool {
			if keyIs(k, "en") {
				en, found = rawString(val)
				return false
			}
			return true
		})
		if found {
			return en
		}
	}
	return string(v)
}

func parseACL(v []byte) *acl.Object {
	a := &acl.Object{}
	_ = eachMember(v, func(k, val []byte) bool {
		switch {
		case keyIs(k, "owner"):
			a.Owner, _ = rawString(val)
		case keyIs(k, "ownerGroup"):
			a.OwnerGroup, _ = rawString(val)
		case keyIs(k, "object"):
			a.Object = rawInt(val)
		case keyIs(k, "state"):
			a.State = rawInt(val)
		}
		return true
	})
	return a
}

// rawInt reads a JSON number (or a hex mode string) as an int.
func rawInt(v []byte) int {
	if n, err := strconv.Atoi(string(v)); err == nil {
		return n
	}
	if s, ok := rawString(v); ok {
		n, _ := strconv.ParseInt(s, 16, 64)
		return int(n)
	}
	f, _ := strconv.ParseFloat(string(v), 64)
	return int(f)
}
