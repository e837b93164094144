package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
)

// cliWriter is who the admin CLI writes as.
var cliWriter = objects.WriteOptions{User: "system.user.admin", From: "system.host.cli"}

func runObject(args []string, stdout, stderr io.Writer) error {
	return subcommand(args, stdout, stderr, "object", map[string]func([]string, io.Writer, io.Writer) error{
		"get": objectGet, "set": objectSet, "del": objectDel, "list": objectList,
	})
}

func objectGet(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("object get", "object get ID [--config FILE]", stderr)
	pos, s, err := f.parseAndOpen(args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	o, err := s.Objects.Get(pos[0])
	if err != nil {
		return err
	}
	if o == nil {
		return fmt.Errorf("object %s does not exist", pos[0])
	}
	return printJSON(stdout, o)
}

func objectSet(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("object set", "object set ID JSON|- [--config FILE]  (- reads the object from standard input)", stderr)
	pos, err := f.parseN(args, 2)
	if err != nil {
		return err
	}
	data, err := readArgOrStdin(pos[1])
	if err != nil {
		return err
	}
	var obj objects.Object
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("object is not valid JSON: %v", err)
	}
	if obj == nil {
		return fmt.Errorf("object must be a JSON object")
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Objects.Set(pos[0], obj, cliWriter); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "object", pos[0], "written")
	return nil
}

func objectDel(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("object del", "object del ID [--recursive] [--config FILE]", stderr)
	rec := f.fs.Bool("recursive", false, "also delete every ID.* object below it")
	pos, s, err := f.parseAndOpen(args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.DeleteObjects(pos[0], *rec, cliWriter)
}

func objectList(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("object list", "object list [PATTERN] [--type TYPE] [--config FILE]", stderr)
	typ := f.fs.String("type", "", "only objects of this type")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	p := "*"
	if len(pos) > 0 {
		p = pos[0]
		pos = pos[1:]
	}
	if err := f.need(pos, 0); err != nil {
		return err
	}
	m, err := pattern.Compile(p)
	if err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	// Scan from the literal prefix; unlike ioBroker's range quirk this finds
	// every match of a pattern with an inner '*'.
	start := p
	if i := strings.IndexByte(p, '*'); i >= 0 {
		start = p[:i]
	}
	s.Objects.Range(start, start+"\U0010FFFF", func(id string, meta *objects.Meta, _ json.RawMessage) bool {
		if m.Match(id) && (*typ == "" || meta.Type == *typ) {
			fmt.Fprintf(stdout, "%s\t%s\n", id, meta.Type)
		}
		return true
	})
	return nil
}
