package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/brokerd/brokerd/files"
)

func runFile(args []string, stdout, stderr io.Writer) error {
	return subcommand(args, stdout, stderr, "file", map[string]func([]string, io.Writer, io.Writer) error{
		"ls": fileLs, "get": fileGet, "put": filePut, "rm": fileRm,
	})
}

// splitNS splits "vis.0/main/x.json" into namespace and path.
func splitNS(s string) (string, string) {
	s = strings.TrimPrefix(s, "/")
	ns, p, _ := strings.Cut(s, "/")
	return ns, p
}

func fileLs(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("file ls", "file ls [NAMESPACE[/DIR]] [--config FILE]", stderr)
	arg, err := f.parseOptional(args, "")
	if err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	ns, dir := splitNS(arg)
	entries, err := s.Files.ReadDir(ns, dir, nil)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir {
			fmt.Fprintf(stdout, "%-40s %10s  %s\n", e.File+"/", "-", "")
			continue
		}
		mode := ""
		if e.ACL != nil {
			mode = fmt.Sprintf("%03x", e.ACL.Permissions)
		}
		fmt.Fprintf(stdout, "%-40s %10d  %s %s %s\n", e.File, e.Size, mode, time.UnixMilli(e.ModifiedAt).Format(time.RFC3339), e.MimeType)
	}
	return nil
}

func fileGet(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("file get", "file get NAMESPACE/PATH [--out FILE] [--config FILE]", stderr)
	out := f.fs.String("out", "", "write to this file instead of standard output")
	pos, s, err := f.parseAndOpen(args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	ns, p := splitNS(pos[0])
	data, _, err := s.Files.Read(ns, p, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *out != "" {
		return os.WriteFile(*out, data, 0o644)
	}
	_, err = stdout.Write(data)
	return err
}

func filePut(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("file put", "file put NAMESPACE/PATH LOCALFILE|- [--mode 644] [--config FILE]", stderr)
	mode := f.fs.String("mode", "", "permissions of a new file, hex nibbles (e.g. 644)")
	pos, err := f.parseN(args, 2)
	if err != nil {
		return err
	}
	var m int
	if *mode != "" {
		if _, err := fmt.Sscanf(*mode, "%x", &m); err != nil {
			return fmt.Errorf("--mode %q is not hexadecimal", *mode)
		}
	}
	var data []byte
	if pos[1] == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(pos[1])
	}
	if err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	ns, p := splitNS(pos[0])
	return s.Files.Write(ns, p, data, false, files.WriteOptions{Mode: m}, nil)
}

func fileRm(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("file rm", "file rm NAMESPACE/PATH [--config FILE]  (folders are removed recursively)", stderr)
	pos, s, err := f.parseAndOpen(args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	ns, p := splitNS(pos[0])
	return s.Files.Unlink(ns, p, nil)
}
