package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/brokerd/brokerd/backup"
	"github.com/brokerd/brokerd/broker"
	"github.com/brokerd/brokerd/config"
)

// archiveArgs parses backup/restore arguments (one FILE) and the config;
// archives are of the bbolt store only.
func archiveArgs(name, usage string, args []string, stderr io.Writer) ([]string, config.Config, error) {
	f := newAdminFlags(name, usage, stderr)
	pos, err := f.parseN(args, 1)
	if err != nil {
		return nil, config.Config{}, err
	}
	cfg, err := config.Load(*f.config, os.Environ())
	if err != nil {
		return nil, config.Config{}, err
	}
	if cfg.Store == "redis" {
		return nil, config.Config{}, errRedisArchive
	}
	return pos, cfg, nil
}

func runBackup(args []string, stdout, stderr io.Writer) error {
	pos, cfg, err := archiveArgs("backup", "backup FILE [--config FILE]  (FILE - writes to standard output)", args, stderr)
	if err != nil {
		return err
	}
	s, err := broker.OpenStores(cfg.DataDir)
	if err != nil {
		return err
	}
	defer s.Close()
	var w io.Writer = stdout
	var out *os.File
	if pos[0] != "-" {
		// Write beside the target and rename, so a failed backup never leaves a truncated file.
		out, err = os.CreateTemp(dirOf(pos[0]), ".backup-*")
		if err != nil {
			return err
		}
		defer os.Remove(out.Name())
		w = out
	}
	if err := backup.Write(s.DB.Bolt, w, version, progressPrinter(stderr, "backup")); err != nil {
		return err
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if err := os.Rename(out.Name(), pos[0]); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "backup written to", pos[0])
	}
	return nil
}

func runRestore(args []string, stdout, stderr io.Writer) error {
	pos, cfg, err := archiveArgs("restore", "restore FILE [--config FILE]  (replaces the data directory's database; the old one is kept as brokerd.db.before-restore)", args, stderr)
	if err != nil {
		return err
	}
	in, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	check := func(dir string) error {
		s, err := broker.OpenStores(dir)
		if err != nil {
			return err
		}
		return s.Close()
	}
	if err := backup.Restore(in, cfg.DataDir, check, progressPrinter(stderr, "restore")); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "restored", pos[0], "into", cfg.DataDir)
	return nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}

// progressPrinter draws a bar on a terminal and prints plain lines at each
// tenth otherwise (logs, CI).
func progressPrinter(w io.Writer, what string) backup.Progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	lastTenth := -1
	return func(done, total int) {
		if total == 0 {
			return
		}
		pct := done * 100 / total
		if tty {
			bar := strings.Repeat("#", pct/4) + strings.Repeat(" ", 25-pct/4)
			fmt.Fprintf(w, "\r%s [%s] %3d%% %d/%d", what, bar, pct, done, total)
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		if t := pct / 10; t != lastTenth {
			lastTenth = t
			fmt.Fprintf(w, "%s: %d%% (%d/%d entries)\n", what, pct, done, total)
		}
	}
}
