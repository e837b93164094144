package transport

import (
	"encoding/base64"
	"errors"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/brokerd/brokerd/files"
)

func init() {
	af := []Param{{"adapter", KString, false}, {"fileName", KString, false}}
	register("readFile", &Command{Perm: Perm{"file", "read"}, Params: af, Ack: "(err, data, mimeType)",
		Doc: "text files as string, binary files as attachment", Handler: cmdReadFile})
	register("readFile64", &Command{Perm: Perm{"file", "read"}, Params: af, Ack: "(err, base64, mimeType)",
		Doc: "base64 content; JSON is URI-encoded first", Handler: cmdReadFile64})
	register("writeFile", &Command{Perm: Perm{"file", "write"},
		Params: []Param{{"adapter", KString, false}, {"fileName", KString, false}, {"data", KData, false}, {"options", KAny, true}},
		Ack:    "(err)", Doc: "store a string or binary attachment as sent", Handler: cmdWriteFile})
	register("writeFile64", &Command{Perm: Perm{"file", "write"},
		Params: []Param{{"adapter", KString, false}, {"fileName", KString, false}, {"data64", KString, true}, {"options", KAny, true}},
		Ack:    "(err)", Doc: "store decoded base64", Handler: cmdWriteFile64})
	register("unlink", &Command{Perm: Perm{"file", "delete"}, Params: []Param{{"adapter", KString, false}, {"name", KString, false}}, Ack: "(err)",
		Doc: "delete a file or a folder recursively", Handler: cmdUnlink})
	register("deleteFolder", &Command{Perm: Perm{"file", "delete"}, Via: "unlink", Params: []Param{{"adapter", KString, false}, {"name", KString, false}}, Ack: "(err)",
		Doc: "recursive delete", Handler: cmdUnlink})
	register("deleteFile", &Command{Perm: Perm{"file", "delete"}, Via: "unlink", Params: []Param{{"adapter", KString, false}, {"name", KString, false}}, Ack: "(err)",
		Doc: "delete one file", Handler: cmdDeleteFile})
	on := []Param{{"adapter", KString, false}, {"oldName", KString, false}, {"newName", KString, false}}
	register("rename", &Command{Perm: Perm{"file", "write"}, Params: on, Ack: "(err)",
		Doc: "rename file or folder; a missing source is not an error", Handler: cmdRename})
	register("renameFile", &Command{Perm: Perm{"file", "write"}, Via: "rename", Params: on, Ack: "(err)",
		Doc: "rename one file; Not exists when missing", Handler: cmdRenameFile})
	register("mkdir", &Command{Perm: Perm{"file", "write"}, Params: []Param{{"adapter", KString, false}, {"dirName", KString, false}}, Ack: "(err)",
		Doc: "create a folder", Handler: cmdMkdir})
	register("readDir", &Command{Perm: Perm{"file", "list"}, Params: []Param{{"adapter", KString, false}, {"dirName", KString, true}, {"options", KAny, true}},
		Ack: "(err, entry[])", Doc: "list a folder; adapter \"\" lists namespaces", Handler: cmdReadDir})
	register("chmodFile", &Command{Perm: Perm{"file", "write"}, Params: []Param{{"adapter", KString, false}, {"fileName", KString, false}, {"options", KAny, true}},
		Ack: "(err, entry[])", Doc: "options.mode (number or hex string) for a file or every file below a folder", Handler: cmdChmod})
	register("chownFile", &Command{Perm: Perm{"file", "write"}, Params: []Param{{"adapter", KString, false}, {"fileName", KString, false}, {"options", KAny, true}},
		Ack: "(err, entry[])", Doc: "options {owner, ownerGroup?}", Handler: cmdChown})
	register("fileExists", &Command{Perm: Perm{"file", "read"}, Params: af, Ack: "(err, bool)",
		Doc: "existence check", Handler: cmdFileExists})
}

// fileName strips the leading slash clients may send.
func fileName(s string) string { return strings.TrimPrefix(s, "/") }

func (s *Server) filesOr(call *Call) files.Store {
	if s.st.Files == nil {
		call.Fail(errors.New(errDBClosed))
	}
	return s.st.Files
}

func cmdReadFile(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	data, meta, err := s.st.Files.Read(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject())
	if err != nil {
		call.Fail(err)
		return
	}
	if meta != nil && meta.Binary {
		if data == nil {
			data = []byte{}
		}
		call.Reply(nil, data, meta.MimeType)
		return
	}
	mime := ""
	if meta != nil {
		mime = meta.MimeType
	}
	call.Reply(nil, string(data), mime)
}

func cmdReadFile64(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	name := fileName(call.Args.Str(1))
	data, meta, err := s.st.Files.Read(call.Args.Str(0), name, call.Subject())
	if err != nil {
		call.Reply(err.Error(), "", nil)
		return
	}
	mime := ""
	if meta != nil {
		mime = meta.MimeType
	}
	// protocol.md B.5: JSON is URI-encoded before base64
	if mime == "application/json" || mime == "application/json5" || strings.HasSuffix(name, ".json5") {
		data = []byte(encodeURIComponent(string(data)))
	}
	call.Reply(nil, base64.StdEncoding.EncodeToString(data), mime)
}

// encodeURIComponent escapes like JavaScript's function of that name.
func encodeURIComponent(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	for _, c := range []string{"!", "'", "(", ")", "*"} {
		e = strings.ReplaceAll(e, url.QueryEscape(c), c)
	}
	return e
}

// fileMode reads options.mode: a number, or a string parsed as hex.
func fileMode(opts any) (int, bool) {
	o, ok := opts.(map[string]any)
	if !ok {
		return 0, false
	}
	switch m := o["mode"].(type) {
	case float64:
		return int(m), true
	case string:
		v, err := strconv.ParseInt(strings.TrimPrefix(m, "0x"), 16, 64)
		return int(v), err == nil
	}
	return 0, false
}

func cmdWriteFile(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	data, text := call.Args.Data(2)
	mode, _ := fileMode(call.Args.Any(3))
	err := s.st.Files.Write(call.Args.Str(0), fileName(call.Args.Str(1)), data, text, files.WriteOptions{Mode: mode}, call.Subject())
	call.result(err)
}

func cmdWriteFile64(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	b64 := call.Args.Str(2)
	if b64 == "" {
		call.Fail(errors.New(errNoData))
		return
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		call.Fail(errors.New("Cannot convert data: " + err.Error()))
		return
	}
	mode, _ := fileMode(call.Args.Any(3))
	err = s.st.Files.Write(call.Args.Str(0), fileName(call.Args.Str(1)), data, false, files.WriteOptions{Mode: mode}, call.Subject())
	call.result(err)
}

func cmdUnlink(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	call.result(s.st.Files.Unlink(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject()))
}

func cmdDeleteFile(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	call.result(s.st.Files.DeleteFile(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject()))
}

func cmdRename(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	a := call.Args
	call.result(s.st.Files.Rename(a.Str(0), fileName(a.Str(1)), fileName(a.Str(2)), call.Subject()))
}

func cmdRenameFile(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	a := call.Args
	call.result(s.st.Files.RenameFile(a.Str(0), fileName(a.Str(1)), fileName(a.Str(2)), call.Subject()))
}

func cmdMkdir(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	call.result(s.st.Files.Mkdir(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject()))
}

func cmdReadDir(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	entries, err := s.st.Files.ReadDir(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject())
	if err != nil {
		call.Fail(err)
		return
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, entryJSON(e, false))
	}
	call.Reply(nil, out)
}

// entryJSON renders a readDir (or, withPath, a chmod/chown) entry as in protocol.md 9.
func entryJSON(e files.Entry, withPath bool) map[string]any {
	if e.IsDir {
		return map[string]any{"file": e.File, "stats": map[string]any{}, "isDir": true}
	}
	m := map[string]any{
		"file":       e.File,
		"stats":      map[string]any{"size": e.Size},
		"isDir":      false,
		"modifiedAt": e.ModifiedAt,
		"createdAt":  e.CreatedAt,
	}
	if e.ACL != nil {
		m["acl"] = map[string]any{
			"owner": e.ACL.Owner, "ownerGroup": e.ACL.OwnerGroup, "permissions": e.ACL.Permissions,
			"read": e.Read, "write": e.Write,
		}
	}
	if withPath {
		m["path"] = e.Path
	}
	return m
}

func entriesReply(call *Call, entries []files.Entry, err error) {
	if err != nil {
		call.Fail(err)
		return
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, entryJSON(e, true))
	}
	call.Reply(nil, out)
}

func cmdChmod(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	mode, ok := fileMode(call.Args.Any(2))
	if !ok {
		call.Fail(errors.New(errNoOptions))
		return
	}
	name := strings.TrimSuffix(fileName(call.Args.Str(1)), "*") // conn.js chmodProject sends "dir*"
	entries, err := s.st.Files.Chmod(call.Args.Str(0), path.Clean("/" + name)[1:], mode, call.Subject())
	entriesReply(call, entries, err)
}

func cmdChown(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	opts, ok := call.Args.Any(2).(map[string]any)
	owner, _ := opts["owner"].(string)
	if !ok || owner == "" {
		call.Fail(errors.New(errNoOptions))
		return
	}
	group, _ := opts["ownerGroup"].(string)
	entries, err := s.st.Files.Chown(call.Args.Str(0), fileName(call.Args.Str(1)), owner, group, call.Subject())
	entriesReply(call, entries, err)
}

func cmdFileExists(call *Call) {
	s := call.srv
	if s.filesOr(call) == nil {
		return
	}
	ok, err := s.st.Files.Exists(call.Args.Str(0), fileName(call.Args.Str(1)), call.Subject())
	if err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, ok)
}
