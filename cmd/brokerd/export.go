package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/brokerd/brokerd/objects"
)

// Export writes objects in ioBroker's JSON export shape: one JSON object
// mapping each id to its object, as the admin's "export objects" produces.
func runExport(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("export", "export [PATTERN] [--out FILE] [--config FILE]  (ioBroker JSON export shape: {id: object})", stderr)
	out := f.fs.String("out", "", "write to this file instead of standard output")
	p, err := f.parseOptional(args, "*")
	if err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	w := stdout
	if *out != "" {
		file, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	// Stream the map without decoding: the stored JSON is written as is.
	n := 0
	if _, err := io.WriteString(w, "{"); err != nil {
		return err
	}
	var werr error
	err = rangeMatching(s, p, func(id string, _ *objects.Meta, raw json.RawMessage) bool {
		key, _ := json.Marshal(id)
		sep := ",\n"
		if n == 0 {
			sep = "\n"
		}
		if _, werr = fmt.Fprintf(w, "%s  %s: %s", sep, key, raw); werr != nil {
			return false
		}
		n++
		return true
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if _, err := io.WriteString(w, "\n}\n"); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d objects\n", n)
	return nil
}

// Import reads ioBroker's export shape ({id: object}) or an array of objects
// carrying _id, validates every object first and only then writes them.
func runImport(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("import", "import FILE|- [--config FILE]  (objects as {id: object} or [{_id, …}]; all are validated before any is written)", stderr)
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	var data []byte
	if pos[0] == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	objs, err := parseExport(data)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(objs))
	for id, o := range objs {
		if err := objects.ValidateID(id); err != nil {
			return fmt.Errorf("object %q: %w", id, err)
		}
		if err := objects.ValidateObject(o); err != nil {
			return fmt.Errorf("object %q: %w", id, err)
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	for i, id := range ids {
		if _, err := s.Objects.Set(id, objs[id], cliWriter); err != nil {
			return fmt.Errorf("object %q: %w (%d of %d imported)", id, err, i, len(ids))
		}
		if len(ids) >= 1000 && (i+1)%1000 == 0 {
			fmt.Fprintf(stderr, "import: %d/%d\n", i+1, len(ids))
		}
	}
	fmt.Fprintf(stderr, "imported %d objects\n", len(ids))
	return nil
}

func parseExport(data []byte) (map[string]objects.Object, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		var list []objects.Object
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		out := make(map[string]objects.Object, len(list))
		for i, o := range list {
			id, _ := o["_id"].(string)
			if id == "" {
				return nil, fmt.Errorf("entry %d has no _id", i)
			}
			out[id] = o
		}
		return out, nil
	}
	var m map[string]objects.Object
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not valid JSON (want {id: object} or [{_id, …}]): %v", err)
	}
	for id, o := range m {
		if o == nil {
			return nil, fmt.Errorf("object %q is null", id)
		}
	}
	return m, nil
}
