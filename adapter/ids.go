package adapter

import (
	"fmt"
	"strings"
)

// absolutePrefixes are top-level namespaces that never belong to an instance.
var absolutePrefixes = []string{"system.", "0_userdata.", "alias.", "enum.", "script.", "_design/"}

// ParseInstance splits an instance name "<adapter>.<n>" ("haa.0") and reports
// whether it is well-formed: the adapter name starts with an ASCII letter and
// continues with ASCII letters, digits, '-' or '_'; n is a decimal number.
func ParseInstance(s string) (name string, num string, ok bool) {
	name, num, found := strings.Cut(s, ".")
	if !found || !isAdapterName(name) || !isDigits(num) {
		return "", "", false
	}
	return name, num, true
}

func isAdapterName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsAbsolute reports whether id names something outside any relative scope:
//
//   - it starts with one of the top-level prefixes "system.", "0_userdata.",
//     "alias.", "enum.", "script." or "_design/", or
//   - its first two dot-separated segments form an instance namespace
//     ("<adapter>.<n>" as accepted by ParseInstance): "hue.0", "hue.0.light",
//     but not "lamp1", "room.kitchen" or "1.2".
//
// Wildcards count as ordinary characters: "hue.*" is relative, "hue.0.*" absolute.
func IsAbsolute(id string) bool {
	for _, p := range absolutePrefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	first, rest, ok := strings.Cut(id, ".")
	if !ok || !isAdapterName(first) {
		return false
	}
	second, _, _ := strings.Cut(rest, ".")
	return isDigits(second)
}

// resolveID is the rule behind every own-namespace method (SetState,
// GetState, SetObject, Subscribe, …) for the instance namespace ns:
//
//   - "" → ns itself (the instance's meta object);
//   - an absolute id (IsAbsolute; this includes ns and every "<ns>.…") → unchanged;
//   - anything else → "<ns>.<id>".
//
// The *Foreign* methods use their id verbatim.
func resolveID(ns, id string) string {
	if id == "" {
		return ns
	}
	if IsAbsolute(id) {
		return id
	}
	return ns + "." + id
}

// checkID rejects ids the server would refuse or silently rewrite.
func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("adapter: empty id")
	case strings.HasSuffix(id, "."):
		return fmt.Errorf("adapter: id %q ends in \".\"", id)
	case strings.ContainsAny(id, "*?[]"):
		return fmt.Errorf("adapter: id %q contains a wildcard", id)
	}
	return nil
}
