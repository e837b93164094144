package transport

import (
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// TokenUpdater is implemented by Authenticators that support OAuth2 token
// refresh (updateTokenExpiration, protocol.md 1.9).
type TokenUpdater interface {
	UpdateToken(sess Session, accessToken string) (expiresAt time.Time, err error)
}

// LogoutHandler is implemented by Authenticators that can destroy the
// session of a socket (logout, protocol.md 1.10).
type LogoutHandler interface {
	Logout(sess Session) error
}

// Features answered true by checkFeatureSupported.
var features = map[string]bool{
	"INSTANCE_MESSAGES":   true,
	"PARTIAL_OBJECT_TREE": true,
	"CUSTOM_FULL_VIEW":    true,
}

func init() {
	none := Perm{}
	register("name", &Command{Perm: none, Params: []Param{{"name", KAny, true}}, Ack: "()",
		Doc: "set the socket's display name", Handler: cmdName})
	register("authenticate", &Command{Perm: none, Ack: "(true, authEnabled|null)",
		Doc: "confirm the socket is usable (not err-first)", Handler: cmdAuthenticate})
	register("authEnabled", &Command{Perm: none, Ack: "(authEnabled, userName)",
		Doc: "auth flag and user name without prefix (not err-first)", Handler: cmdAuthEnabled})
	register("updateTokenExpiration", &Command{Perm: none, Params: []Param{{"accessToken", KString, true}}, Ack: "(err, success)",
		Doc: "announce a refreshed access token; emits tokenInfo", Handler: cmdUpdateToken})
	register("getVersion", &Command{Perm: none, Ack: "(null, version, adapterName)",
		Doc: "server version", Handler: cmdGetVersion})
	register("getAdapterName", &Command{Perm: none, Ack: "(null, adapterName)",
		Doc: "adapter name", Handler: cmdGetAdapterName})
	register("getCurrentInstance", &Command{Perm: none, Ack: "(null, namespace)",
		Doc: "instance namespace (admin command)", Handler: cmdGetCurrentInstance})
	register("listPermissions", &Command{Perm: none, Ack: "(permissionsMap)",
		Doc: "command → {type, operation} (single argument)", Handler: cmdListPermissions})
	register("getUserPermissions", &Command{Perm: Perm{"object", "read"}, Ack: "(null, acl)",
		Doc: "the socket ACL (protocol.md 2.4)", Handler: cmdGetUserPermissions})
	register("checkFeatureSupported", &Command{Perm: none, Params: []Param{{"feature", KAny, true}}, Ack: "(null, bool)",
		Doc: "feature flags", Handler: cmdCheckFeature})
	register("logout", &Command{Perm: none, Ack: "() or (err)",
		Doc: "destroy the session; the socket stays open", Handler: cmdLogout})
	register("error", &Command{Perm: none, Params: []Param{{"error", KAny, true}}, Ack: "none",
		Doc: "client error written to the server log", Handler: cmdClientError})
	register("log", &Command{Perm: none, Params: []Param{{"text", KAny, true}, {"level", KAny, true}}, Ack: "none",
		Doc: "client log line written to the server log", Handler: cmdClientLog})
	register("requireLog", &Command{Perm: Perm{"object", "write"}, Via: "setObject", Params: []Param{{"isEnabled", KAny, true}}, Ack: "(null)",
		Doc: "(un)subscribe log events; accepted, no log feed yet", Handler: func(call *Call) { call.Reply(nil) }})
}

func cmdName(call *Call) {
	if n, ok := call.Args.Any(0).(string); ok {
		if call.c != nil {
			call.c.setName(n)
		}
	}
	call.Reply()
}

func cmdAuthenticate(call *Call) {
	var used any
	if call.srv.opts.AuthEnabled {
		used = true
	}
	call.Reply(true, used)
}

func cmdAuthEnabled(call *Call) {
	call.Reply(call.srv.opts.AuthEnabled, strings.TrimPrefix(call.Subject().User, acl.UserPrefix))
}

func cmdUpdateToken(call *Call) {
	tu, ok := call.srv.opts.Authenticator.(TokenUpdater)
	if !ok || call.Args.Str(0) == "" {
		call.Reply(errNoAccessToken, false)
		return
	}
	exp, err := tu.UpdateToken(call.sess, call.Args.Str(0))
	if err != nil {
		call.Reply(err.Error(), false)
		return
	}
	call.Reply(nil, true)
	if call.c != nil {
		call.c.emit(evTokenInfo, map[string]any{"expiresAt": exp.UnixMilli()})
	}
}

func cmdGetVersion(call *Call) {
	call.Reply(nil, call.srv.opts.Version, call.srv.adapter)
}

func cmdGetAdapterName(call *Call) { call.Reply(nil, call.srv.adapter) }

func cmdGetCurrentInstance(call *Call) { call.Reply(nil, call.srv.opts.Namespace) }

func cmdListPermissions(call *Call) {
	m := map[string]Perm{}
	for name, cmd := range commands {
		if cmd.Perm.Type != "" && cmd.Via == "" {
			m[name] = cmd.Perm
		}
	}
	call.Reply(m)
}

// cmdGetUserPermissions renders the subject as in protocol.md 2.4.
func cmdGetUserPermissions(call *Call) {
	sub := call.Subject()
	p := sub.Perms
	if sub.User == acl.Admin || sub.Admin {
		p = acl.All()
	}
	groups := sub.Groups
	if groups == nil {
		groups = []string{}
	}
	call.Reply(nil, map[string]any{
		"user":   sub.User,
		"groups": groups,
		"object": p.Object,
		"state":  p.State,
		"users":  p.Users,
		"file":   p.File,
		"other":  map[string]bool{"execute": p.Other.Execute, "http": p.Other.HTTP, "sendto": p.Other.SendTo},
	})
}

func cmdCheckFeature(call *Call) {
	f, _ := call.Args.Any(0).(string)
	call.Reply(nil, features[f])
}

func cmdLogout(call *Call) {
	lh, ok := call.srv.opts.Authenticator.(LogoutHandler)
	if !ok {
		call.Reply(errNoSession)
		return
	}
	if err := lh.Logout(call.sess); err != nil {
		call.Reply(err.Error())
		return
	}
	call.Reply()
}

func cmdClientError(call *Call) {
	call.srv.log.Error("client error", "conn", call.connID(), "error", call.Args.Any(0))
}

// cmdClientLog logs at the level given second; conn.js swaps the arguments
// (protocol.md B.4), which then lands at debug level like in the reference.
func cmdClientLog(call *Call) {
	l := call.srv.log
	text, level := call.Args.Any(0), call.Args.Any(1)
	switch level {
	case "error":
		l.Error("client log", "conn", call.connID(), "text", text)
	case "warn":
		l.Warn("client log", "conn", call.connID(), "text", text)
	case "info":
		l.Info("client log", "conn", call.connID(), "text", text)
	default:
		l.Debug("client log", "conn", call.connID(), "text", text)
	}
}
