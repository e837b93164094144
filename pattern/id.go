// Package pattern implements ioBroker subscription patterns (datamodel.md 8,
// protocol.md 5.1): id validation, a compiled pattern matcher, the key range a
// pattern covers, and a subscription index that finds the subscribers of a
// changed id without scanning every pattern.
//
// A pattern is an id in which `*` matches any sequence of characters,
// including dots and the empty string. Every other character is literal; in
// particular `?` is not a wildcard but an invalid character.
package pattern

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrEmptyPattern is returned for the empty pattern. The socket layer logs it
// and ignores the subscription ("Empty pattern on subscribe!").
var ErrEmptyPattern = errors.New("Empty pattern")

// InvalidError reports a pattern that contains a character not allowed in ids.
type InvalidError struct {
	Pattern string
}

// Error returns the message of pattern2RegEx verbatim (datamodel.md 8.1).
func (e *InvalidError) Error() string {
	return `The pattern "` + e.Pattern + `" is not a valid ID pattern`
}

// ValidID reports whether id is non-empty and consists only of characters
// allowed in ids: Unicode Ll, Lu, Nd and `. _ - / space : ! # $ % & ( ) + = @ ^ { } | ~`
// (datamodel.md 1.3). Invalid UTF-8 is not allowed.
func ValidID(id string) bool {
	return id != "" && validChars(id)
}

// ValidatePattern returns nil if p is a usable pattern: non-empty, valid
// UTF-8 (a star may not split a character: "\xc3*\xb6" is refused) and, with
// every `*` removed, made only of valid id characters.
func ValidatePattern(p string) error {
	if p == "" {
		return ErrEmptyPattern
	}
	if !utf8.ValidString(p) || !validChars(strings.ReplaceAll(p, "*", "")) {
		return &InvalidError{Pattern: p}
	}
	return nil
}

// validChars reports whether every rune of s is whitelisted; "" is valid.
func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			// Only non-ASCII runes need the Unicode tables.
			return validRunes(s[i:])
		}
		if !asciiAllowed[c] {
			return false
		}
	}
	return true
}

func validRunes(s string) bool {
	for _, r := range s {
		if r < utf8.RuneSelf {
			if !asciiAllowed[r] {
				return false
			}
			continue
		}
		// Invalid UTF-8 decodes to U+FFFD (category So) and is rejected here.
		if !unicode.In(r, unicode.Ll, unicode.Lu, unicode.Nd) {
			return false
		}
	}
	return true
}

// asciiAllowed is the ASCII part of the whitelist, as a table for speed.
var asciiAllowed = func() (t [utf8.RuneSelf]bool) {
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
