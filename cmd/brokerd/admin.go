package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/brokerd/brokerd/broker"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
)

// adminFlags parses the common --config flag plus the command's own flags.
// Flags may follow positional arguments (`state set x 1 --ack`), as admins type them.
type adminFlags struct {
	fs     *flag.FlagSet
	config *string
}

func newAdminFlags(name, usage string, stderr io.Writer) *adminFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := &adminFlags{fs: fs, config: fs.String("config", "", "configuration file (finds the data directory)")}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: brokerd %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return a
}

// parse returns the positional arguments, allowing flags anywhere.
func (a *adminFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := a.fs.Parse(args); err != nil {
			return nil, err
		}
		args = a.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (a *adminFlags) need(pos []string, n int) error {
	if len(pos) < n {
		a.fs.Usage()
		return fmt.Errorf("expected %d argument(s), got %d", n, len(pos))
	}
	if len(pos) > n {
		return fmt.Errorf("unexpected argument %q", pos[n])
	}
	return nil
}

// parseN parses args and requires exactly n positional arguments.
func (a *adminFlags) parseN(args []string, n int) ([]string, error) {
	pos, err := a.parse(args)
	if err != nil {
		return nil, err
	}
	return pos, a.need(pos, n)
}

// parseOptional parses args allowing at most one positional argument and
// returns it, or def when there is none.
func (a *adminFlags) parseOptional(args []string, def string) (string, error) {
	pos, err := a.parse(args)
	if err != nil {
		return "", err
	}
	if len(pos) > 0 {
		def, pos = pos[0], pos[1:]
	}
	return def, a.need(pos, 0)
}

// rangeMatching calls fn for every object whose id matches the ioBroker
// pattern p, scanning from its literal prefix (unlike ioBroker's range
// quirk this also finds every match of a pattern with an inner '*').
func rangeMatching(s *broker.Stores, p string, fn func(id string, meta *objects.Meta, raw json.RawMessage) bool) error {
	m, err := pattern.Compile(p)
	if err != nil {
		return err
	}
	start := p
	if i := strings.IndexByte(p, '*'); i >= 0 {
		start = p[:i]
	}
	s.Objects.Range(start, start+"\U0010FFFF", func(id string, meta *objects.Meta, raw json.RawMessage) bool {
		if !m.Match(id) {
			return true
		}
		return fn(id, meta, raw)
	})
	return nil
}

// parseAndOpen is parseN followed by openStores; the caller closes the stores.
func (a *adminFlags) parseAndOpen(args []string, n int) ([]string, *broker.Stores, error) {
	pos, err := a.parseN(args, n)
	if err != nil {
		return nil, nil, err
	}
	s, err := a.openStores()
	if err != nil {
		return nil, nil, err
	}
	return pos, s, nil
}

// openStores opens the stores of the configuration: the data directory
// offline (bbolt), or Redis with store: redis. On Redis the commands run
// beside the daemons and write through the same store code, so every node's
// change feed sees their writes.
func (a *adminFlags) openStores() (*broker.Stores, error) {
	cfg, err := config.Load(*a.config, os.Environ())
	if err != nil {
		return nil, err
	}
	if cfg.Store == "redis" {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return broker.OpenRedis(cfg, log)
	}
	return broker.OpenStores(cfg.DataDir)
}

// errRedisArchive refuses backup and restore with store: redis: archives are
// copies of the bbolt file's buckets.
var errRedisArchive = errors.New("not supported with store: redis (archives hold the bbolt file); " +
	"back up Redis itself (BGSAVE and copy dump.rdb, or its AOF), or use `brokerd export` / `brokerd import` for objects")

// parseValue reads a command-line value: JSON when it parses, else a string.
func parseValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readArgOrStdin returns s, or standard input when s is "-".
func readArgOrStdin(s string) ([]byte, error) {
	if s == "-" {
		return io.ReadAll(os.Stdin)
	}
	return []byte(s), nil
}

func subcommand(args []string, stdout, stderr io.Writer, group string, subs map[string]func([]string, io.Writer, io.Writer) error) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		var names []string
		for k := range subs {
			names = append(names, k)
		}
		sortStrings(names)
		fmt.Fprintf(stdout, "usage: brokerd %s {%s} [--config FILE] …\n", group, strings.Join(names, "|"))
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	fn, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	return fn(args[1:], stdout, stderr)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
