package objects

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLength is the longest accepted object id in bytes (js-controller has no
// limit; we bound it to keep keys and indexes sane).
var MaxIDLength = 1024

// idASCII marks the ASCII characters of the id whitelist (datamodel.md 1.3).
var idASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "._-/ :!#$%&()+=@^{}|~" {
		t[c] = true
	}
	return t
}()

// ValidateID checks an id for writing: not empty, not longer than
// MaxIDLength, none of `*?[]` nor `$%$`, only whitelisted characters (we
// reject instead of rewriting to `_`), and no trailing dot.
func ValidateID(id string) error {
	if err := checkIDBasic(id); err != nil {
		return err
	}
	if strings.HasSuffix(id, ".") {
		return &IDError{ID: id, Msg: fmt.Sprintf("The id %q is invalid. Ids are not allowed to end in \".\"", id)}
	}
	for i := 0; i < len(id); {
		c := id[i]
		if c < utf8.RuneSelf {
			if !idASCII[c] {
				return invalidID(id)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(id[i:])
		if !unicode.In(r, unicode.Ll, unicode.Lu, unicode.Nd) {
			return invalidID(id)
		}
		i += n
	}
	return nil
}

// checkIDBasic is the DB-layer check (REG_CHECK_ID) used for reads and
// deletes, so that legacy ids outside the whitelist stay deletable.
func checkIDBasic(id string) error {
	if id == "" {
		return ErrEmptyID
	}
	if len(id) > MaxIDLength {
		return &IDError{ID: id, Msg: fmt.Sprintf("Invalid ID: id longer than %d characters", MaxIDLength)}
	}
	if strings.ContainsAny(id, "*?[]") || strings.Contains(id, "$%$") {
		return invalidID(id)
	}
	return nil
}

func invalidID(id string) error { return &IDError{ID: id, Msg: "Invalid ID: " + id} }

// CompareUTF16 compares a and b like JavaScript compares strings: by UTF-16
// code units. That equals byte order of the UTF-8 text except when a
// character in U+E000..U+FFFF meets one above U+FFFF (surrogates sort lower).
func CompareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
	ca, cb := a[i], b[i]
	if ca < utf8.RuneSelf || cb < utf8.RuneSelf {
		return cmpByte(ca, cb)
	}
	// Both differ inside non-ASCII text: back up to the rune start.
	for i > 0 && a[i]&0xC0 == 0x80 {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	if ra > 0xFFFF && rb >= 0xE000 && rb <= 0xFFFF {
		return -1
	}
	if rb > 0xFFFF && ra >= 0xE000 && ra <= 0xFFFF {
		return 1
	}
	return cmpByte(ca, cb)
}

func cmpByte(a, b byte) int {
	if a < b {
		return -1
	}
	return 1
}

func lessUTF16(a, b string) bool { return CompareUTF16(a, b) < 0 }

// globMatch reports whether s matches p where only '*' is special (any run,
// dots included).
func globMatch(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		k := strings.Index(s, part)
		if k < 0 {
			return false
		}
		s = s[k+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

func sortIDs(ids []string) { slices.SortFunc(ids, CompareUTF16) }
