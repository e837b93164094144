package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// bucketLines returns the content of every store file in an archive.
func bucketLines(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			continue
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}
