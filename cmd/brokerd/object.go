package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/brokerd/brokerd/objects"
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
	p, err := f.parseOptional(args, "*")
	if err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	return rangeMatching(s, p, func(id string, meta *objects.Meta, _ json.RawMessage) bool {
		if *typ == "" || meta.Type == *typ {
			fmt.Fprintf(stdout, "%s\t%s\n", id, meta.Type)
		}
		return true
	})
}
