package config

import (
	"os"
	"testing"
)

// TestReferenceUpToDate keeps docs/config.md equal to the generated reference.
func TestReferenceUpToDate(t *testing.T) {
	const path = "../docs/config.md"
	want := Reference()
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run UPDATE_DOCS=1 go test ./config)", err)
	}
	if string(got) != want {
		t.Fatal("docs/config.md is out of date: run UPDATE_DOCS=1 go test ./config")
	}
}
