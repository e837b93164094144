package files

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// Normalize sanitises a namespace and canonicalises a file name
// (datamodel.md 7.2), stricter than the reference so that a name can never
// leave its namespace:
//
//   - namespace: the characters [ ] * , ; ' " ` < > \ ? / and control
//     characters are deleted, then ".." sequences; empty → ErrEmptyID;
//   - name: a raw NUL, invalid UTF-8, or a percent-encoded '.', '/', '\' or
//     NUL (%2e %2f %5c %00, in any case and at any depth of re-encoding such
//     as %252e) → ErrNotExists: such names only come from attacks, and no
//     later decoding layer (HTTP, export) can turn them into a path escape;
//   - runs of '/' and '\' become one '/', the leading '/' and one trailing
//     '/' are removed;
//   - a name containing ".." is resolved as an absolute POSIX path
//     ("../../etc/passwd" → "etc/passwd", "a/../../b" → "b"), then every ".."
//     left is deleted ("...x" → ".x"); "." segments of other names are kept;
//   - in a namespace ending in ".admin" a leading "admin/" is stripped.
//
// The name may come back empty (the namespace root); callers that need a
// file refuse that with ErrNotExists.
func Normalize(ns, name string) (string, string, error) {
	ns = sanitizeNamespace(ns)
	if ns == "" {
		return "", "", ErrEmptyID
	}
	n, err := normalizeName(name)
	if err != nil {
		return ns, "", err
	}
	if strings.HasSuffix(ns, ".admin") {
		n = strings.TrimPrefix(n, "admin/")
	}
	return ns, n, nil
}

func sanitizeNamespace(ns string) string {
	ns = strings.Map(func(r rune) rune {
		switch r {
		case '[', ']', '*', ',', ';', '\'', '"', '`', '<', '>', '\\', '?', '/':
			return -1
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, ns)
	for strings.Contains(ns, "..") {
		ns = strings.ReplaceAll(ns, "..", "")
	}
	return ns
}

// maxDecode bounds the percent-decoding rounds; deeper nesting is refused.
const maxDecode = 8

func normalizeName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
		return "", ErrNotExists
	}
	if err := checkEncoded(name); err != nil {
		return "", err
	}
	// Runs of '/' or '\' → one '/'.
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '/' || c == '\\' {
			if !sep {
				b.WriteByte('/')
			}
			sep = true
			continue
		}
		sep = false
		b.WriteByte(c)
	}
	n := strings.TrimPrefix(b.String(), "/")
	if strings.Contains(n, "..") {
		n = strings.TrimPrefix(path.Clean("/"+n), "/")
		for strings.Contains(n, "..") {
			n = strings.ReplaceAll(n, "..", "")
			n = strings.TrimPrefix(path.Clean("/"+n), "/")
		}
	}
	n = strings.TrimSuffix(n, "/")
	// Deleting ".." can join an encoding ("%2..e" → "%2e"): check again.
	if err := checkEncoded(n); err != nil {
		return "", err
	}
	return n, nil
}

// checkEncoded refuses percent-encoded separators, dots and NULs at every
// decoding depth, and encodings that decode to invalid UTF-8 (overlong
// forms such as %c0%ae).
func checkEncoded(s string) error {
	for range maxDecode {
		if !strings.Contains(s, "%") {
			return nil
		}
		l := strings.ToLower(s)
		for _, bad := range [...]string{"%2e", "%2f", "%5c", "%00"} {
			if strings.Contains(l, bad) {
				return ErrNotExists
			}
		}
		dec, err := url.PathUnescape(s)
		if err != nil || dec == s {
			return nil // a lone '%' is an ordinary character
		}
		if !utf8.ValidString(dec) || strings.IndexByte(dec, 0) >= 0 {
			return ErrNotExists
		}
		s = dec
	}
	return ErrNotExists
}

// isMarker reports the reserved directory marker names (7.2 step 7).
func isMarker(name string) bool {
	return name == markerName || strings.HasSuffix(name, "/"+markerName)
}

const markerName = "_data.json"

// splitName returns the directory ("" at the root) and base of a name.
func splitName(name string) (dir, base string) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}
