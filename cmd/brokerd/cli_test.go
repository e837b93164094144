package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs brokerd in-process against a data directory given by a config file.
type cli struct {
	t   *testing.T
	cfg string
	dir string
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "brokerd.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, cfg: cfg, dir: dir}
}

func (c *cli) run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	args = append(args, "--config", c.cfg)
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("brokerd %v: exit %d: %s", args, code, errs)
	}
	return out
}

func (c *cli) fails(want string, args ...string) {
	c.t.Helper()
	_, errs, code := c.run(args...)
	if code == 0 {
		c.t.Fatalf("brokerd %v succeeded, want error %q", args, want)
	}
	if !strings.Contains(errs, want) {
		c.t.Fatalf("brokerd %v: error %q does not contain %q", args, errs, want)
	}
}

func TestStateCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("state", "set", "dev.0.lamp", "true", "--ack")
	out := c.ok("state", "get", "dev.0.lamp")
	if !strings.Contains(out, `"val": true`) || !strings.Contains(out, `"ack": true`) {
		t.Fatalf("state get: %s", out)
	}
	c.ok("state", "set", "dev.0.name", "kitchen lamp")
	if out := c.ok("state", "get", "dev.0.name"); !strings.Contains(out, `"val": "kitchen lamp"`) || !strings.Contains(out, `"ack": false`) {
		t.Fatalf("string value: %s", out)
	}
	c.ok("state", "del", "dev.0.lamp")
	c.fails("has no value", "state", "get", "dev.0.lamp")
	c.fails("The id is empty", "state", "get", "")
	c.fails("not allowed to end", "state", "set", "dev.0.", "1")
	c.fails("expected 2 argument(s)", "state", "set", "dev.0.x")
	c.fails("unknown subcommand", "state", "frobnicate")
}

func TestObjectCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("object", "set", "dev.0.lamp", `{"type":"state","common":{"name":"Lamp","type":"boolean","role":"switch"},"native":{}}`)
	out := c.ok("object", "get", "dev.0.lamp")
	if !strings.Contains(out, `"name": "Lamp"`) || !strings.Contains(out, `"from": "system.host.cli"`) {
		t.Fatalf("object get: %s", out)
	}
	if out := c.ok("object", "list", "dev.0.*"); out != "dev.0.lamp\tstate\n" {
		t.Fatalf("object list: %q", out)
	}
	if out := c.ok("object", "list", "system.group.*", "--type", "group"); !strings.Contains(out, "system.group.administrator\tgroup") {
		t.Fatalf("defaults missing: %q", out)
	}
	c.ok("state", "set", "dev.0.lamp", "1")
	c.ok("object", "del", "dev.0.lamp")
	c.fails("does not exist", "object", "get", "dev.0.lamp")
	c.fails("has no value", "state", "get", "dev.0.lamp") // deleting a state object deletes its value
	c.fails("not valid JSON", "object", "set", "x.0.y", "{nope")
	c.fails("mandatory property type missing!", "object", "set", "x.0.y", `{"common":{}}`)
	c.fails("Invalid ID", "object", "set", "x.0.y*", `{"type":"state"}`)
	c.fails("not deletable", "object", "del", "system.config")
	c.fails("not a valid ID pattern", "object", "list", "a?b")
}

func TestFileCommands(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "views.json")
	os.WriteFile(src, []byte(`{"v":1}`), 0o600)
	c.ok("file", "put", "0_userdata.0/main/views.json", src, "--mode", "664")
	if out := c.ok("file", "get", "0_userdata.0/main/views.json"); out != `{"v":1}` {
		t.Fatalf("file get: %q", out)
	}
	if out := c.ok("file", "ls", "0_userdata.0/main"); !strings.Contains(out, "views.json") || !strings.Contains(out, "664") || !strings.Contains(out, "application/json") {
		t.Fatalf("file ls: %q", out)
	}
	c.fails(`nons is not an object of type "meta"`, "file", "put", "nons/a.txt", src)
	c.fails("Not exists", "file", "get", "0_userdata.0/missing.txt")
	c.fails("not hexadecimal", "file", "put", "0_userdata.0/a.txt", src, "--mode", "rw")
	c.ok("file", "rm", "0_userdata.0/main")
	c.fails("Not exists", "file", "get", "0_userdata.0/main/views.json")
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "img.bin")
	os.WriteFile(src, []byte{0, 1, 2, 255}, 0o600)
	c.ok("file", "put", "0_userdata.0/img.bin", src)
	c.ok("object", "set", "dev.0.t", `{"type":"state","common":{"name":"T","type":"number"},"native":{"x":[1,2]}}`)
	c.ok("state", "set", "dev.0.t", "21.5", "--ack")
	archive := filepath.Join(c.dir, "b.tgz")
	c.ok("backup", archive)

	// Change everything, then restore and compare with a second backup.
	c.ok("state", "set", "dev.0.t", "99")
	c.ok("object", "del", "dev.0.t")
	c.ok("file", "rm", "0_userdata.0/img.bin")
	c.ok("restore", archive)
	if out := c.ok("state", "get", "dev.0.t"); !strings.Contains(out, "21.5") {
		t.Fatalf("state not restored: %s", out)
	}
	if out := c.ok("file", "get", "0_userdata.0/img.bin"); out != string([]byte{0, 1, 2, 255}) {
		t.Fatalf("file not restored: %q", out)
	}
	again := filepath.Join(c.dir, "b2.tgz")
	c.ok("backup", again)
	a, b := bucketLines(t, archive), bucketLines(t, again)
	for name, content := range a {
		if b[name] != content {
			t.Fatalf("%s differs after round trip", name)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "data", "brokerd.db.before-restore")); err != nil {
		t.Fatalf("previous database not kept: %v", err)
	}

	// A damaged archive changes nothing.
	bad := filepath.Join(c.dir, "bad.tgz")
	os.WriteFile(bad, []byte("not an archive"), 0o600)
	c.fails("not a brokerd backup", "restore", bad)
	if out := c.ok("state", "get", "dev.0.t"); !strings.Contains(out, "21.5") {
		t.Fatalf("failed restore changed data: %s", out)
	}
	c.fails("no such file", "restore", filepath.Join(c.dir, "missing.tgz"))
}

func TestUsageAndUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "backup") {
		t.Fatalf("help: %d %s", code, out.String())
	}
	if code := run([]string{"nosuch"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "nosuch"`) {
		t.Fatalf("unknown: %d %s", code, errb.String())
	}
	if code := run([]string{"serve", "--config", "/nonexistent.yaml"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "nonexistent.yaml") {
		t.Fatalf("bad config: %d %s", code, errb.String())
	}
}

func TestUserAndGroupCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("user", "add", "Bob", "--password", "s3cret-pw", "--ingroup", "user")
	out := c.ok("user", "list")
	if !strings.Contains(out, "system.user.bob") || !strings.Contains(out, "system.group.user") {
		t.Fatalf("user list: %s", out)
	}
	c.fails("User yet exists", "user", "add", "bob", "--password", "x")
	c.fails("Invalid characters in the name", "user", "add", "bad\"name", "--password", "x")
	c.ok("user", "passwd", "bob", "--password", "n3w-pw")
	c.ok("group", "add", "kitchen", "--desc", "Kitchen tablets")
	c.ok("group", "adduser", "kitchen", "bob")
	if out := c.ok("group", "list"); !strings.Contains(out, "system.group.kitchen") || !strings.Contains(out, "system.user.bob") {
		t.Fatalf("group list: %s", out)
	}
	c.fails("Group yet exists", "group", "add", "kitchen")
	c.ok("group", "deluser", "kitchen", "bob")
	c.ok("group", "del", "kitchen")
	c.fails("Group does not exist", "group", "del", "kitchen")
	c.fails("Cannot delete group, while is system group", "group", "del", "administrator")
	c.fails("Cannot delete user, while is system user", "user", "del", "admin")
	c.ok("user", "del", "bob")
	c.fails("User does not exist", "user", "del", "bob")
	// The stored object holds only the PBKDF2 hash, never the password.
	if out := c.ok("object", "get", "system.user.admin"); strings.Contains(out, "iobroker\"") || !strings.Contains(out, "pbkdf2$10000$") {
		t.Fatalf("admin password not hashed: %s", out)
	}
}

func TestExportImport(t *testing.T) {
	c := newCLI(t)
	c.ok("object", "set", "dev.0.a", `{"type":"state","common":{"name":"A","type":"number"},"native":{"k":[1,2]}}`)
	c.ok("object", "set", "dev.0.b", `{"type":"channel","common":{"name":"B"},"native":{}}`)
	file := filepath.Join(c.dir, "export.json")
	c.ok("export", "dev.0.*", "--out", file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := parseExport(data)
	if err != nil || len(exported) != 2 || exported["dev.0.a"]["type"] != "state" {
		t.Fatalf("export: %v %s", err, data)
	}

	other := newCLI(t)
	other.ok("import", file)
	if out := other.ok("object", "get", "dev.0.a"); !strings.Contains(out, `"k": [`) {
		t.Fatalf("imported object: %s", out)
	}
	// Arrays with _id are accepted too; one bad object means nothing is written.
	bad := filepath.Join(c.dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"_id":"x.0.ok","type":"state","common":{}},{"_id":"x.0.bad","common":{}}]`), 0o600)
	other.fails("mandatory property type missing!", "import", bad)
	other.fails("does not exist", "object", "get", "x.0.ok")
	os.WriteFile(bad, []byte(`{"x.0.y": null}`), 0o600)
	other.fails(`object "x.0.y" is null`, "import", bad)
	os.WriteFile(bad, []byte(`not json`), 0o600)
	other.fails("not valid JSON", "import", bad)
	os.WriteFile(bad, []byte(`{"a*b": {"type":"state"}}`), 0o600)
	other.fails("Invalid ID", "import", bad)
}
