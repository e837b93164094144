package pattern

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// forbidden is the upstream FORBIDDEN_CHARS class (datamodel.md 1.3).
var forbidden = regexp.MustCompile(`[^._\-/ :!#$%&()+=@^{}|~\p{Ll}\p{Lu}\p{Nd}]`)

// escaper escapes what pattern2RegEx escapes (datamodel.md 8.1 step 3).
var escaper = strings.NewReplacer(
	`-`, `\-`, `/`, `\/`, `\`, `\\`, `^`, `\^`, `$`, `\$`, `+`, `\+`, `?`, `\?`, `.`, `\.`,
	`(`, `\(`, `)`, `\)`, `|`, `\|`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`,
)

// pattern2RegEx is the reference: the upstream conversion, with (?s) because
// ids never contain line terminators and Matcher does not special-case them.
func pattern2RegEx(p string) *regexp.Regexp {
	re := strings.ReplaceAll(escaper.Replace(p), "*", ".*")
	if !strings.HasPrefix(p, "*") {
		re = "^" + re
	}
	if !strings.HasSuffix(p, "*") {
		re += "$"
	}
	return regexp.MustCompile("(?s)" + re)
}

func FuzzMatch(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzMatch.
	f.Add("a.*.b", "a.x.b")
	f.Add("*", "")
	f.Add("{a}*", "{a}b")
	f.Fuzz(func(t *testing.T, p, id string) {
		m, err := Compile(p)
		wantValid := p != "" && utf8.ValidString(p) && !forbidden.MatchString(strings.ReplaceAll(p, "*", ""))
		if (err == nil) != wantValid {
			t.Fatalf("Compile(%q) error = %v, reference validity %v", p, err, wantValid)
		}
		if err != nil {
			return
		}
		if got, want := m.Match(id), pattern2RegEx(p).MatchString(id); got != want {
			t.Fatalf("%q (%v) Match(%q) = %v, regexp says %v", p, m.Kind(), id, got, want)
		}
		// The index must agree with the matcher.
		var ix Index[int]
		ix.Add(p, 1)
		if got := len(ix.AppendMatches(nil, id)) == 1; got != m.Match(id) {
			t.Fatalf("Index with %q on %q = %v, Matcher %v", p, id, got, m.Match(id))
		}
		// Every id the pattern matches and whose stars only trail lies in its range.
		if m.Kind() == Exact || m.Kind() == Prefix {
			start, end := Range(p)
			sortable := utf8.ValidString(id) && !strings.ContainsFunc(id, func(r rune) bool { return r > 0x9999 })
			if m.Match(id) && sortable && (id < start || id > end) {
				t.Fatalf("%q matches %q outside Range [%q, %q]", p, id, start, end)
			}
		}
	})
}
