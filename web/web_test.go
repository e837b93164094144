package web

import (
	"io/fs"
	"strings"
	"testing"
)

func TestFSHoldsTheWebFiles(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"conn.js", "global.servConn = servConn"},
		{"index.html", `<script src="conn.js"></script>`},
		{"app.js", "servConn.init("},
		{"style.css", "@media (max-width: 720px)"},
	} {
		b, err := fs.ReadFile(FS, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s does not contain %q", tc.name, tc.want)
		}
	}
}

// The dashboard must load nothing from outside brokerd.
func TestNoExternalResources(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css", "conn.js"} {
		b, _ := fs.ReadFile(FS, name)
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "") // an XML namespace, not a URL to load
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s references %q", name, bad)
			}
		}
	}
}
