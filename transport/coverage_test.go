package transport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// protocolCommands are the commands of protocol.md 3.1–3.4 plus the
// admin-only object/state commands the web clients use; all must be served.
var protocolCommands = strings.Fields(`
name authenticate updateTokenExpiration authEnabled getVersion getAdapterName listPermissions
getUserPermissions checkFeatureSupported logout error log httpGet getHistory sendTo sendToHost
clientSubscribe clientUnsubscribe getCompactSystemConfig getAdapterInstances
getStates getForeignStates getState setState getBinaryState setBinaryState subscribe subscribeStates
unsubscribe unsubscribeStates delState
getObject getObjects getAllObjects getObjectView setObject delObject subscribeObjects unsubscribeObjects
extendObject getForeignObjects delObjects
readFile readFile64 writeFile64 writeFile unlink deleteFile deleteFolder rename renameFile mkdir readDir
chmodFile chownFile fileExists subscribeFiles unsubscribeFiles`)

// adminOnlyCommands are protocol.md 3.5 (admin adapter only); those not in
// the table are listed as not served.
var adminOnlyCommands = strings.Fields(`
addUser delUser addGroup delGroup changePassword getHostByIp requireLog readLogs cmdExec eventsThreshold
getRatings getCurrentInstance decrypt encrypt getIsEasyModeStrict getEasyMode getAdapters updateLicenses
getCompactInstances getCompactAdapters getCompactInstalled getCompactSystemRepositories
getCompactRepository getCompactHosts`)

func TestEveryProtocolCommandIsServed(t *testing.T) {
	for _, name := range protocolCommands {
		cmd, ok := Lookup(name)
		if !ok {
			t.Errorf("command %s of protocol.md 3 is not in the dispatch table", name)
			continue
		}
		if cmd.Handler == nil || cmd.Ack == "" || cmd.Doc == "" {
			t.Errorf("command %s: handler, ack shape and doc are required", name)
		}
	}
}

// renderCoverage writes docs/protocol-coverage.md from the dispatch table.
func renderCoverage() string {
	var b strings.Builder
	b.WriteString("# Protocol coverage\n\n")
	b.WriteString("Generated from the dispatch table of package `transport` by `coverage_test.go`;\n")
	b.WriteString("regenerate with `BROKERD_UPDATE_DOCS=1 go test ./transport/ -run TestProtocolCoverageDoc`.\n\n")
	b.WriteString("Permission = `type.operation` checked for non-admin users (— = none; \"via X\" = entry of X).\n")
	b.WriteString("Arguments marked `?` are optional; the ack is always the last argument as sent.\n\n")
	b.WriteString("| command | permission | arguments | ack | async | notes |\n|---|---|---|---|---|---|\n")
	for _, name := range Commands() {
		cmd := commands[name]
		perm := "—"
		if cmd.Perm.Type != "" {
			perm = cmd.Perm.Type + "." + cmd.Perm.Op
			if cmd.Via != "" {
				perm += " (via " + cmd.Via + ")"
			}
		}
		if cmd.PermFor != nil {
			perm += ", depends on arguments"
		}
		var args []string
		for _, p := range cmd.Params {
			a := p.Name
			if p.Optional {
				a += "?"
			}
			args = append(args, a+": "+p.Kind.String())
		}
		async := ""
		if cmd.Async {
			async = "yes"
		}
		esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s | %s |\n", name, perm,
			esc(strings.Join(args, ", ")), esc(cmd.Ack), async, esc(cmd.Doc))
	}
	var missing []string
	for _, name := range adminOnlyCommands {
		if _, ok := commands[name]; !ok {
			missing = append(missing, "`"+name+"`")
		}
	}
	b.WriteString("\n## Not served\n\n")
	b.WriteString("Admin-adapter commands of protocol.md 3.5 without handler (a client sending them gets\n")
	b.WriteString("`Unknown command \"<name>\"` as first ack argument):\n\n")
	b.WriteString(strings.Join(missing, ", ") + ".\n")
	return b.String()
}

func TestProtocolCoverageDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "protocol-coverage.md")
	want := renderCoverage()
	if os.Getenv("BROKERD_UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s is out of date: run BROKERD_UPDATE_DOCS=1 go test ./transport/ -run TestProtocolCoverageDoc", path)
	}
}
