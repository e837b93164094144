package pattern

import (
	"errors"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"system.adapter.admin.0.alive", true},
		{"hm-rpc.0.ABC_123:1.STATE", true},
		{"a b/c", true},
		{"._-/ :!#$%&()+=@^{}|~", true},
		{"Müller.Straße.ÄÖÜ", true}, // Ll, Lu
		{"x.١٢٣", true},             // Arabic-Indic digits are Nd
		{"Ｆｕｌｌ", true},              // full-width letters are Lu/Ll
		{"", false},
		{"a*b", false},
		{"a?b", false},
		{"a[b]", false},
		{"a,b", false},
		{"a;b", false},
		{"a'b", false},
		{`a"b`, false},
		{"a`b", false},
		{"a<b>", false},
		{`a\b`, false},
		{"a\tb", false},
		{"a\nb", false},
		{"中文", false}, // Lo
		{"a😀", false},
		{"aʰ", false},       // Lm
		{"a\xffb", false},   // invalid UTF-8
		{"a\uFFFDb", false}, // So
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestValidatePattern(t *testing.T) {
	for _, p := range []string{"*", "**", "a.*", "*.b", "a.*.b", "{x}*", "^$()|+", "a b", "Ä*ö"} {
		if err := ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"a?", "a.[0]", "a,b", "中*", "*\\", "a*?*", "a\n*"} {
		err := ValidatePattern(p)
		want := `The pattern "` + p + `" is not a valid ID pattern`
		var ie *InvalidError
		if err == nil || err.Error() != want || !errors.As(err, &ie) || ie.Pattern != p {
			t.Errorf("ValidatePattern(%q) = %v, want %s", p, err, want)
		}
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) succeeded", p)
		}
	}
	if err := ValidatePattern(""); !errors.Is(err, ErrEmptyPattern) || err.Error() != "Empty pattern" {
		t.Errorf(`ValidatePattern("") = %v`, err)
	}
	if _, err := Compile(""); !errors.Is(err, ErrEmptyPattern) {
		t.Errorf(`Compile("") = %v`, err)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		kind    Kind
		match   []string
		noMatch []string
	}{
		// Rows of datamodel.md 8.1 (the empty pattern is an error, see TestValidatePattern).
		{"*", All, []string{"", "a", "a.b.c", "*"}, nil},
		{"hm-rpc.0.*", Prefix,
			[]string{"hm-rpc.0.", "hm-rpc.0.a", "hm-rpc.0.a.b.c"},
			[]string{"hm-rpc.0", "hm-rpc.1.a", "xhm-rpc.0.a", "hm-rpcX0.a", "hm_rpc.0.a"}},
		{"*.STATE", Suffix,
			[]string{".STATE", "a.STATE", "a.b.STATE"},
			[]string{"STATE", "a.STATEx", "a.state", "aXSTATE"}},
		{"a.*.b", General,
			[]string{"a..b", "a.x.b", "a.x.y.b", "a.b.b"},
			[]string{"a.b", "a.x.bc", "xa.x.b", "a.x.b.", "aX.x.b", "a.xXb"}},
		{"system.adapter.admin.0.alive", Exact,
			[]string{"system.adapter.admin.0.alive"},
			[]string{"system.adapter.admin.0.alivex", "system.adapter.admin.0", "systemXadapter.admin.0.alive"}},

		// Regex metacharacters are literal.
		{"{a}.*", Prefix, []string{"{a}.", "{a}.b"}, []string{"a.b", "{}.b"}},
		{"^a$", Exact, []string{"^a$"}, []string{"a"}},
		{"(a|b)+*", Prefix, []string{"(a|b)+", "(a|b)+c"}, []string{"a", "b", "aab"}},
		{"*$", Suffix, []string{"$", "a$"}, []string{"a"}},
		{"a.(x)*{y}", General, []string{"a.(x){y}", "a.(x)zz{y}"}, []string{"a.x.y", "a.(x)y"}},
		{"%&=@~!#:/ -", Exact, []string{"%&=@~!#:/ -"}, nil},

		// Stars: several, leading and trailing, runs.
		{"*.x.*", General, []string{".x.", "a.x.b", "a.b.x.c.d"}, []string{"a.xb", "x.", ".x"}},
		{"a*b*c", General, []string{"abc", "aXbYc", "abbc", "acbc", "abcbc"}, []string{"ab", "acb", "bc", "abcd"}},
		{"a**b", General, []string{"ab", "a..b"}, []string{"a", "ba"}},
		{"***", All, []string{"", "x"}, nil},
		{"a**", Prefix, []string{"a", "ab"}, []string{"b"}},
		// Head and tail must not overlap (gobwas/glob v0.2.3 gets this wrong).
		{"a00*0", General, []string{"a000", "a00x0"}, []string{"a00", "a0"}},
		{"ab*b", General, []string{"abb", "abxb"}, []string{"ab"}},
		{"*ab*ba", General, []string{"abba", "xabyba"}, []string{"aba", "ab"}},
	} {
		m, err := Compile(tc.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		if m.Kind() != tc.kind {
			t.Errorf("Compile(%q).Kind() = %v, want %v", tc.pattern, m.Kind(), tc.kind)
		}
		if m.Pattern() != tc.pattern {
			t.Errorf("Pattern() = %q, want %q", m.Pattern(), tc.pattern)
		}
		for _, id := range tc.match {
			if !m.Match(id) {
				t.Errorf("%q should match %q", tc.pattern, id)
			}
		}
		for _, id := range tc.noMatch {
			if m.Match(id) {
				t.Errorf("%q should not match %q", tc.pattern, id)
			}
		}
	}
}

func TestQuestionMarkIsNotAWildcard(t *testing.T) {
	if _, err := Compile("a.?"); err == nil {
		t.Fatal(`"a.?" compiled; '?' must be invalid, not a wildcard`)
	}
}

func TestLiteral(t *testing.T) {
	for p, want := range map[string]string{
		"a.b": "a.b", "a.*": "a.", "*.b": ".b", "*": "", "a.*.b": "a.", "*x*": "",
	} {
		if got := MustCompile(p).Literal(); got != want {
			t.Errorf("Literal(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestRange(t *testing.T) {
	for _, tc := range []struct{ p, start, end string }{
		{"*", "", "\u9999"},
		{"hm-rpc.0.*", "hm-rpc.0.", "hm-rpc.0.\u9999"},
		{"a.*.b", "a..b", "a.\u9999.b"},
		{"*.STATE", ".STATE", "\u9999.STATE"},
		{"a.b", "a.b", "a.b"},
	} {
		start, end := Range(tc.p)
		if start != tc.start || end != tc.end {
			t.Errorf("Range(%q) = %q, %q; want %q, %q", tc.p, start, end, tc.start, tc.end)
		}
		// Every id a trailing-star pattern matches lies inside its range.
		if strings.HasSuffix(tc.p, "*") && strings.Count(tc.p, "*") == 1 {
			id := tc.start + "x.y"
			if id < start || id > end {
				t.Errorf("Range(%q) excludes %q", tc.p, id)
			}
		}
	}
}
