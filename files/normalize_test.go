package files

import (
	"errors"
	"strings"
	"testing"
)

// checkContained is the containment property every normalised name has.
func checkContained(t *testing.T, in, got string) {
	t.Helper()
	if strings.HasPrefix(got, "/") || strings.ContainsAny(got, "\x00\\") {
		t.Fatalf("Normalize(%q) = %q: leading '/', NUL or '\\'", in, got)
	}
	for _, seg := range strings.Split(got, "/") {
		if seg == ".." {
			t.Fatalf("Normalize(%q) = %q: '..' segment", in, got)
		}
	}
}

func TestNormalizeHostile(t *testing.T) {
	tests := []struct {
		name string
		want string // "" with err
		err  error
	}{
		{"../../etc/passwd", "etc/passwd", nil},
		{"a/../../b", "b", nil},
		{"..", "", nil},
		{"../", "", nil},
		{"/../x", "x", nil},
		{"a/b/../../../../x", "x", nil},
		{"...x", ".x", nil},
		{"....//x", "x", nil},
		{".../...", "", nil},
		{"%2..e%2..e%2..f..%2..fetc", "", ErrNotExists}, // ".." deletion joins encodings
		{"/etc/passwd", "etc/passwd", nil},
		{"//etc//passwd", "etc/passwd", nil},
		{`..\..\windows\win.ini`, "windows/win.ini", nil},
		{`\\server\share\x`, "server/share/x", nil},
		{`a\..\..\b`, "b", nil},
		{`C:\boot.ini`, "C:/boot.ini", nil},
		{"a/\x00/b", "", ErrNotExists},
		{"x.txt\x00.png", "", ErrNotExists},
		{"%2e%2e/%2e%2e/etc/passwd", "", ErrNotExists},
		{"%2E%2E%2Fetc", "", ErrNotExists},
		{"..%2fetc", "", ErrNotExists},
		{"..%5c..%5cetc", "", ErrNotExists},
		{"a%00b", "", ErrNotExists},
		{".%2e/x", "", ErrNotExists},
		{"%252e%252e/x", "", ErrNotExists},
		{"%25252e%25252e%25252fx", "", ErrNotExists},
		{"%c0%ae%c0%ae/x", "", ErrNotExists}, // overlong UTF-8 '.'
		{"%e0%80%ae/x", "", ErrNotExists},
		{"a/b\xff", "", ErrNotExists},             // invalid UTF-8
		{"%u002e%u002e/x", "%u002e%u002e/x", nil}, // IIS form: never decoded, a literal name
		{"．．/x", "．．/x", nil},                     // fullwidth dots are ordinary characters
		{"a%2", "a%2", nil},                       // lone '%' is literal
		{"100%/x", "100%/x", nil},
		{"a/./b", "a/./b", nil},
		{"a/./../b", "b", nil},
		{"dir/", "dir", nil},
		{"/", "", nil},
		{"", "", nil},
	}
	if len(tests) < 20 {
		t.Fatal("want at least 20 hostile names")
	}
	for _, tt := range tests {
		ns, got, err := Normalize("vis.0", tt.name)
		if ns != "vis.0" {
			t.Errorf("Normalize(%q): namespace changed to %q", tt.name, ns)
		}
		if !errors.Is(err, tt.err) || (err != nil) != (tt.err != nil) {
			t.Errorf("Normalize(%q) error = %v, want %v", tt.name, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.name, got, tt.want)
		}
		checkContained(t, tt.name, got)
	}
}

func TestNormalizeNamespace(t *testing.T) {
	tests := []struct{ in, want string }{
		{"vis.0", "vis.0"},
		{"vis.0/", "vis.0"},
		{"../vis.0", "vis.0"},
		{"vi[s]*.0", "vis.0"},
		{`a,;'"` + "`<>\\?/b", "ab"},
		{"a\x00b", "ab"},
		{"a....b", "ab"},
		{"a...b", "a.b"},
	}
	for _, tt := range tests {
		ns, _, err := Normalize(tt.in, "x")
		if err != nil || ns != tt.want {
			t.Errorf("Normalize(%q, x) ns = %q, %v; want %q", tt.in, ns, err, tt.want)
		}
	}
	for _, bad := range []string{"", "..", "[]", "/", "\\", "*?"} {
		if _, _, err := Normalize(bad, "x"); err != ErrEmptyID || err.Error() != "Empty ID" {
			t.Errorf("Normalize(%q, x) error = %v, want Empty ID", bad, err)
		}
	}
}

func TestNormalizeAdminNamespace(t *testing.T) {
	for _, tt := range []struct{ ns, name, want string }{
		{"vis.admin", "admin/index.html", "index.html"},
		{"vis.admin", "/admin/x/y", "x/y"},
		{"vis.admin", "admin", "admin"},
		{"vis.0", "admin/index.html", "admin/index.html"},
	} {
		_, got, err := Normalize(tt.ns, tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tt.ns, tt.name, got, err, tt.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", "a/../b", `..\..\x`, "%2e%2e/x", "....", "a//b", "/"} {
		f.Add("vis.0", s)
	}
	f.Fuzz(func(t *testing.T, ns, name string) {
		gotNS, got, err := Normalize(ns, name)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with name %q", err, got)
			}
			return
		}
		checkContained(t, name, got)
		if strings.HasSuffix(got, "/") || strings.Contains(got, "//") {
			t.Fatalf("Normalize(%q) = %q: empty segment", name, got)
		}
		if strings.Contains(gotNS, "..") || strings.ContainsAny(gotNS, "/\\\x00") {
			t.Fatalf("namespace %q → %q", ns, gotNS)
		}
		if checkEncoded(got) != nil {
			t.Fatalf("Normalize(%q) = %q: encoded separator or dot", name, got)
		}
		// Canonical: normalising again changes nothing (admin strip aside).
		if !strings.HasSuffix(gotNS, ".admin") {
			if _, again, err := Normalize(gotNS, got); err == nil && again != got {
				t.Fatalf("not idempotent: %q → %q → %q", name, got, again)
			}
		}
	})
}
