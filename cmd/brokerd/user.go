package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/broker"
	"github.com/brokerd/brokerd/config"
)

// openAuth opens the stores and the auth service on them. With store: redis
// the service uses the shared session store, so revoking a user's sessions
// (user del, passwd) ends them on every node.
func (a *adminFlags) openAuth() (*broker.Stores, *auth.Service, error) {
	cfg, err := config.Load(*a.config, os.Environ())
	if err != nil {
		return nil, nil, err
	}
	s, err := a.openStores()
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.New(auth.Options{DB: s.DB, Sessions: s.Sessions, Objects: s.Objects, Config: cfg.Auth, SweepInterval: -1, From: "system.host.cli"})
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, svc, nil
}

func withAuth(f *adminFlags, fn func(*auth.Service) error) error {
	s, svc, err := f.openAuth()
	if err != nil {
		return err
	}
	defer s.Close()
	defer svc.Close()
	return fn(svc)
}

func runUser(args []string, stdout, stderr io.Writer) error {
	return subcommand(args, stdout, stderr, "user", map[string]func([]string, io.Writer, io.Writer) error{
		"add": userAdd, "del": userDel, "list": userList, "passwd": userPasswd,
	})
}

func userAdd(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("user add", "user add NAME [--password P] [--group G|--ingroup G] [--config FILE]", stderr)
	pw := f.fs.String("password", "", "password (prompted without echo when omitted)")
	group := f.fs.String("group", "", "add the user to this group (e.g. administrator, user)")
	ingroup := f.fs.String("ingroup", "", "same as --group")
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	if *group == "" {
		group = ingroup
	}
	password, err := passwordOf(*pw, stderr)
	if err != nil {
		return err
	}
	var groups []string
	if *group != "" {
		groups = append(groups, *group)
	}
	return withAuth(f, func(svc *auth.Service) error {
		if err := svc.AddUser(pos[0], password, groups...); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "user", auth.UserID(pos[0]), "added")
		return nil
	})
}

func userDel(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("user del", "user del NAME [--config FILE]", stderr)
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error { return svc.DelUser(pos[0]) })
}

func userList(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("user list", "user list [--config FILE]", stderr)
	_, err := f.parseN(args, 0)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error {
		for _, u := range svc.ListUsers() {
			state := "enabled"
			if !u.Enabled {
				state = "disabled"
			}
			fmt.Fprintf(stdout, "%-30s %-9s %s\n", u.ID, state, strings.Join(u.Groups, ","))
		}
		return nil
	})
}

func userPasswd(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("user passwd", "user passwd NAME [--password P] [--config FILE]", stderr)
	pw := f.fs.String("password", "", "new password (prompted without echo when omitted)")
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	password, err := passwordOf(*pw, stderr)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error {
		if err := svc.SetPassword(pos[0], password); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "password of", auth.UserID(pos[0]), "changed")
		return nil
	})
}

// passwordOf returns the flag value or prompts twice without echo on a
// terminal (one line from standard input otherwise, for scripts).
func passwordOf(flagValue string, stderr io.Writer) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if err != nil && !errors.Is(err, io.EOF) {
				return "", err
			}
			return "", errors.New("no password given (use --password or type it on standard input)")
		}
		return line, nil
	}
	fmt.Fprint(stderr, "Password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Repeat password: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("passwords do not match")
	}
	if len(p1) == 0 {
		return "", errors.New("empty password")
	}
	return string(p1), nil
}

func runGroup(args []string, stdout, stderr io.Writer) error {
	return subcommand(args, stdout, stderr, "group", map[string]func([]string, io.Writer, io.Writer) error{
		"add": groupAdd, "del": groupDel, "list": groupList, "adduser": groupAddUser, "deluser": groupDelUser,
	})
}

func groupAdd(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("group add", "group add NAME [--desc TEXT] [--config FILE]  (a new group has no rights until its acl is edited)", stderr)
	desc := f.fs.String("desc", "", "description")
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error { return svc.AddGroup(pos[0], *desc, nil) })
}

func groupDel(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("group del", "group del NAME [--config FILE]", stderr)
	pos, err := f.parseN(args, 1)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error { return svc.DelGroup(pos[0]) })
}

func groupList(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("group list", "group list [--config FILE]", stderr)
	_, err := f.parseN(args, 0)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error {
		for _, g := range svc.ListGroups() {
			fmt.Fprintf(stdout, "%-30s %s\n", g.ID, strings.Join(g.Members, ","))
		}
		return nil
	})
}

func groupAddUser(args []string, stdout, stderr io.Writer) error {
	return groupMember(args, stderr, "adduser", true)
}

func groupDelUser(args []string, stdout, stderr io.Writer) error {
	return groupMember(args, stderr, "deluser", false)
}

func groupMember(args []string, stderr io.Writer, verb string, add bool) error {
	f := newAdminFlags("group "+verb, "group "+verb+" GROUP USER [--config FILE]", stderr)
	pos, err := f.parseN(args, 2)
	if err != nil {
		return err
	}
	return withAuth(f, func(svc *auth.Service) error {
		if add {
			return svc.AddToGroup(pos[1], pos[0])
		}
		return svc.RemoveFromGroup(pos[1], pos[0])
	})
}
