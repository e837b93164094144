// Command mimegen turns the db.json of the npm package mime-db into
// files/mimetable.go: the extension → MIME type map that mime-types 2.1.35
// builds from mime-db 1.52.0, with the same conflict resolution.
//
// Fetch the input with npm, never by hand, and keep it out of the tree:
//
//	cd /tmp && npm pack mime-db@1.52.0
//	go run ./files/internal/mimegen -in /tmp/mime-db-1.52.0.tgz -o files/mimetable.go
//
// -in takes the packed .tgz (db.json and package.json are read from it) or a
// plain db.json.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"slices"
	"strings"
)

// entry is one mime-db record; only the fields mime-types reads.
type entry struct {
	Source     string   `json:"source"`
	Extensions []string `json:"extensions"`
}

func main() {
	in := flag.String("in", "", "mime-db .tgz from `npm pack mime-db@1.52.0`, or its db.json")
	out := flag.String("o", "mimetable.go", "output Go file")
	want := flag.String("version", "1.52.0", "required mime-db version when -in is a .tgz")
	flag.Parse()
	if *in == "" {
		log.Fatal("mimegen: -in is required")
	}
	db, version, err := load(*in)
	if err != nil {
		log.Fatalf("mimegen: %v", err)
	}
	if version != "" && version != *want {
		log.Fatalf("mimegen: %s holds mime-db %s, want %s", *in, version, *want)
	}
	if version == "" {
		version = *want
	}
	types, order, err := parse(db)
	if err != nil {
		log.Fatalf("mimegen: %v", err)
	}
	table := resolve(types, order)
	src, err := render(table, version, fmt.Sprintf("%x", sha256.Sum256(db)))
	if err != nil {
		log.Fatalf("mimegen: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("mimegen: %v", err)
	}
	log.Printf("mimegen: %d extensions from mime-db %s → %s", len(table), version, *out)
}

// load returns db.json and, for a .tgz, the package version.
func load(path string) (db []byte, version string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if !strings.HasSuffix(path, ".tgz") && !strings.HasSuffix(path, ".tar.gz") {
		return raw, "", nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, "", err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", err
		}
		switch h.Name {
		case "package/db.json":
			if db, err = io.ReadAll(tr); err != nil {
				return nil, "", err
			}
		case "package/package.json":
			var p struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, "", err
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, "", fmt.Errorf("package.json: %w", err)
			}
			if p.Name != "mime-db" {
				return nil, "", fmt.Errorf("%s is package %q, not mime-db", path, p.Name)
			}
			version = p.Version
		}
	}
	if db == nil {
		return nil, "", fmt.Errorf("%s has no package/db.json", path)
	}
	return db, version, nil
}

// parse decodes db.json keeping the key order, which decides conflicts
// exactly like Object.keys(db) does in mime-types.
func parse(db []byte) (map[string]entry, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(db))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("db.json: want an object")
	}
	types := map[string]entry{}
	var order []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, ok := t.(string)
		if !ok {
			return nil, nil, fmt.Errorf("db.json: key %v is not a string", t)
		}
		var e entry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("db.json %s: %w", name, err)
		}
		if _, dup := types[name]; !dup {
			order = append(order, name)
		}
		types[name] = e
	}
	return types, order, nil
}

// resolve is populateMaps of mime-types 2.1.35: a later type takes an
// extension over an earlier one unless the earlier one has a preferred source
// (iana > no source > apache > nginx) or the same source and is application/*;
// application/octet-stream always yields.
func resolve(types map[string]entry, order []string) map[string]string {
	rank := func(source string) int {
		switch source {
		case "nginx":
			return 0
		case "apache":
			return 1
		case "":
			return 2
		case "iana":
			return 3
		}
		return -1
	}
	table := map[string]string{}
	for _, name := range order {
		for _, ext := range types[name].Extensions {
			if cur, ok := table[ext]; ok && cur != "application/octet-stream" {
				from, to := rank(types[cur].Source), rank(types[name].Source)
				if from > to || (from == to && strings.HasPrefix(cur, "application/")) {
					continue
				}
			}
			table[ext] = name
		}
	}
	return table
}

func render(table map[string]string, version, sum string) ([]byte, error) {
	exts := make([]string, 0, len(table))
	for ext := range table {
		exts = append(exts, ext)
	}
	slices.Sort(exts)
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by files/internal/mimegen from mime-db %s db.json (sha256 %s). DO NOT EDIT.\n\n", version, sum)
	b.WriteString("package files\n\n")
	fmt.Fprintf(&b, "// mimeDBVersion is the mime-db release the table was generated from.\nconst mimeDBVersion = %q\n\n", version)
	b.WriteString("// mimeTypes maps a lower-case extension without dot to its MIME type, as\n// mime-types 2.1.35 resolves it.\nvar mimeTypes = map[string]string{\n")
	for _, ext := range exts {
		fmt.Fprintf(&b, "\t%q: %q,\n", ext, table[ext])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
