// Command brokerd is a home-automation state broker speaking the ioBroker web
// protocol. `brokerd` alone (= `brokerd serve`) runs the daemon; the other
// subcommands administer its data directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0"

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the broker (default when no subcommand is given)", runServe},
		{"user", "manage users (user add|del|list|passwd)", runUser},
		{"group", "manage groups (group add|del|list|adduser|deluser)", runGroup},
		{"state", "get, set or delete a state value (state get|set|del)", runState},
		{"object", "get, set, delete or list objects (object get|set|del|list)", runObject},
		{"file", "list, read, write or remove files (file ls|get|put|rm)", runFile},
		{"export", "write objects as ioBroker JSON export ({id: object})", runExport},
		{"import", "read objects from an ioBroker JSON export", runImport},
		{"backup", "write a portable archive of objects, states and files", runBackup},
		{"restore", "replace the database with the content of an archive", runRestore},
		{"health", "exit 0 when a running brokerd is ready (container health checks)", runHealth},
		{"version", "print the version", func([]string, io.Writer, io.Writer) error { fmt.Println("brokerd", version); return nil }},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(stdout)
		return 0
	}
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(args, stdout, stderr)
			if err == nil {
				return 0
			}
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "brokerd "+name+":", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "brokerd: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: brokerd [command] [--config FILE] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `brokerd COMMAND --help` for the flags of a command.")
}
