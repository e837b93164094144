package main

import (
	"fmt"
	"io"
	"time"

	"github.com/brokerd/brokerd/states"
)

func runState(args []string, stdout, stderr io.Writer) error {
	return subcommand(args, stdout, stderr, "state", map[string]func([]string, io.Writer, io.Writer) error{
		"get": stateGet, "set": stateSet, "del": stateDel,
	})
}

func stateGet(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("state get", "state get ID [--config FILE]", stderr)
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	if _, err := states.ParseID(pos[0]); err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	st, ok := s.States.Get(pos[0])
	if !ok {
		return fmt.Errorf("state %s has no value", pos[0])
	}
	return printJSON(stdout, st)
}

func stateSet(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("state set", "state set ID VALUE [--ack] [--q N] [--config FILE]  (VALUE is JSON when it parses, else a string)", stderr)
	ack := f.fs.Bool("ack", false, "write a confirmed value (ack=true) instead of a command")
	q := f.fs.Int("q", 0, "quality code")
	pos, err := f.parseN(args, 2)
	if err != nil {
		return err
	}
	if _, err := states.ParseID(pos[0]); err != nil {
		return err
	}
	s, err := f.openStores()
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UnixMilli()
	w := states.Write{Val: parseValue(pos[1]), HasVal: true, Ack: ack, Q: q, TS: &now, From: "system.host.cli", User: "system.user.admin"}
	st, err := s.States.Set(pos[0], w)
	if err != nil {
		return err
	}
	return printJSON(stdout, st)
}

func stateDel(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("state del", "state del ID [--config FILE]", stderr)
	pos, s, err := f.parseAndOpen(args, 1)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.States.Delete(pos[0])
}
