package transport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
)

// APIPrefix is the root of the REST and plain WebSocket API.
const APIPrefix = "/api/v1/"

// route is one REST/WebSocket route. The table is the only place routes
// are registered, so the OpenAPI test can walk it.
type route struct {
	pattern string // method and path as http.ServeMux takes it
	handler func(s *Server) http.HandlerFunc
}

// apiRoutes are the routes under /api/v1/. Every handler goes through
// Server.Invoke, i.e. the dispatch table's argument and permission check.
var apiRoutes = []route{
	{"GET /api/v1/openapi.json", func(s *Server) http.HandlerFunc { return serveOpenAPI }},
	{"GET /api/v1/states", (*Server).restGetStates},
	{"GET /api/v1/states/{id}", (*Server).restGetState},
	{"PUT /api/v1/states/{id}", (*Server).restSetState},
	{"POST /api/v1/states/{id}", (*Server).restSetState},
	{"DELETE /api/v1/states/{id}", (*Server).restDelState},
	{"GET /api/v1/objects", (*Server).restGetObjects},
	{"GET /api/v1/objects/{id}", (*Server).restGetObject},
	{"PUT /api/v1/objects/{id}", (*Server).restSetObject},
	{"DELETE /api/v1/objects/{id}", (*Server).restDelObject},
	{"GET /api/v1/files", (*Server).restListNamespaces},
	{"GET /api/v1/files/{ns}/{path...}", (*Server).restGetFile},
	{"PUT /api/v1/files/{ns}/{path...}", (*Server).restPutFile},
	{"DELETE /api/v1/files/{ns}/{path...}", (*Server).restDelFile},
	{"GET /api/v1/ws/states", (*Server).wsStates},
	{"GET /api/v1/ws/objects", (*Server).wsObjects},
	{"GET /api/v1/ws/system/stats", (*Server).wsStats},
}

// RegisterAPI mounts the REST API and plain WebSocket streams under
// /api/v1/, the file web server under /files/ and the configured WebMounts.
func (s *Server) RegisterAPI(mux *http.ServeMux) {
	for _, rt := range apiRoutes {
		mux.HandleFunc(rt.pattern, s.limited(rt.handler(s)))
	}
	mux.HandleFunc("GET /files/{ns}/{path...}", s.limited(s.serveWebFiles("")))
	for prefix, ns := range s.opts.WebMounts {
		mux.HandleFunc("GET "+prefix+"{path...}", s.limited(s.serveWebFiles(ns)))
	}
}

// errNotFound answers missing states and objects.
var errNotFound = errors.New(errNotExists)

// errTooLarge answers bodies above MaxMessageSize.
var errTooLarge = errors.New("request body too large")

// errBadPath refuses file paths that try to leave their namespace.
var errBadPath = &argError{"invalid path"}

// httpStatus maps an error of the gate, a handler or a store to a status code.
func httpStatus(err error) int {
	var (
		arg    *argError
		idErr  *objects.IDError
		valErr *objects.ValidationError
		stErr  *states.ValidationError
		vwErr  *objects.ViewError
		patErr *pattern.InvalidError
		limErr *limitError
	)
	switch {
	case errors.As(err, &limErr):
		return limErr.status
	case errors.Is(err, ErrInvalidLogin), errors.Is(err, ErrSessionExpired), errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrPermission), errors.Is(err, objects.ErrPermission), errors.Is(err, files.ErrPermission),
		errors.Is(err, objects.ErrNotDeletable), errors.Is(err, objects.ErrNonEdit):
		return http.StatusForbidden
	case errors.Is(err, errNotFound), errors.Is(err, files.ErrNotExists), errors.Is(err, files.ErrNotMeta):
		return http.StatusNotFound
	case errors.Is(err, errTooLarge), errors.Is(err, files.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &arg), errors.As(err, &idErr), errors.As(err, &valErr), errors.As(err, &stErr), errors.As(err, &vwErr),
		errors.As(err, &patErr), errors.Is(err, pattern.ErrEmptyPattern),
		errors.Is(err, objects.ErrEmptyID), errors.Is(err, objects.ErrNullObject), errors.Is(err, objects.ErrNoObject),
		errors.Is(err, objects.ErrTypeMissing), errors.Is(err, objects.ErrInvalidAliasID), errors.Is(err, objects.ErrAliasOnAlias),
		errors.Is(err, files.ErrEmptyID), errors.Is(err, files.ErrInvalidParameter):
		return http.StatusBadRequest
	case err.Error() == errDBClosed:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers {"error": "…"} with the status of err.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpStatus(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer, Basic realm="brokerd"`)
	}
	if status >= 500 {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// errUnauthenticated is any refusal of the Authenticator.
var errUnauthenticated = errors.New("authentication required")

// authenticateHTTP identifies the caller of a REST or WebSocket request with
// the same Authenticator as the Socket.IO handshake: Bearer token, query
// token, access_token cookie (with its Origin rule), query user+pass, and
// Basic credentials (handed over as the handshake payload {user, pass}).
// Without an Authenticator every caller is admin.
func (s *Server) authenticateHTTP(r *http.Request) (Session, error) {
	if s.opts.Authenticator == nil {
		return StaticSession{adminSubject()}, nil
	}
	h := &Handshake{Query: r.URL.Query(), Header: r.Header.Clone(), RemoteAddr: r.RemoteAddr, Request: r}
	if u, p, ok := r.BasicAuth(); ok {
		h.Auth = map[string]any{"user": u, "pass": p}
	}
	sess, err := s.opts.Authenticator.Authenticate(h)
	if err == nil && (sess == nil || sess.Subject() == nil) {
		err = ErrInvalidLogin
	}
	if err != nil {
		s.log.Info("api request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		if !errors.Is(err, ErrInvalidLogin) {
			err = errors.Join(errUnauthenticated, err)
		}
		return nil, err
	}
	return sess, nil
}

// invokeFor authenticates r and runs one command; it writes the error
// response itself and returns ok=false then.
func (s *Server) invokeFor(w http.ResponseWriter, r *http.Request, sess Session, name string, args ...any) ([]any, bool) {
	ack, err := s.Invoke(r.Context(), sess, name, args)
	if err == nil {
		err = AckError(ack)
	}
	if err != nil {
		if errors.Is(err, ErrPermission) {
			s.log.Info("permission denied", "conn", "api", "user", sess.Subject().User, "cmd", name)
		}
		s.writeError(w, r, err)
		return nil, false
	}
	return ack, true
}

// api wraps a REST handler with authentication.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, sess Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.authenticateHTTP(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, sess)
	}
}

// readBody reads at most MaxMessageSize bytes.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > s.opts.MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errTooLarge, r.ContentLength, s.opts.MaxMessageSize)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxMessageSize+1))
	if err != nil {
		return nil, &argError{"cannot read body: " + err.Error()}
	}
	if int64(len(b)) > s.opts.MaxMessageSize {
		return nil, fmt.Errorf("%w (limit %d bytes)", errTooLarge, s.opts.MaxMessageSize)
	}
	return b, nil
}

// ackArg returns ack argument i.
func ackArg(ack []any, i int) any {
	if i < len(ack) {
		return ack[i]
	}
	return nil
}

// isNull reports a null ack value (nil or a JSON null).
func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case json.RawMessage:
		return len(bytes.TrimSpace(x)) == 0 || string(bytes.TrimSpace(x)) == "null"
	}
	return false
}

// splitList splits a comma-separated and/or repeated query parameter.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) restGetStates() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		q := r.URL.Query()
		ids, pat := splitList(q["ids"]), q.Get("pattern")
		var arg any
		switch {
		case len(ids) > 0 && pat != "":
			s.writeError(w, r, &argError{"give either pattern or ids, not both"})
			return
		case len(ids) > 0:
			list := make([]any, len(ids))
			for i, id := range ids {
				list[i] = id
			}
			arg = list
		default:
			arg = pat // "" = every state
		}
		ack, ok := s.invokeFor(w, r, sess, "getStates", arg)
		if ok {
			writeJSON(w, http.StatusOK, ackArg(ack, 1))
		}
	})
}

func (s *Server) restGetState() http.HandlerFunc { return s.restGetOne("getState") }

// restGetOne answers GET of one state or object by id: the value, or 404
// when the command answers null.
func (s *Server) restGetOne(command string) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		ack, ok := s.invokeFor(w, r, sess, command, r.PathValue("id"))
		if !ok {
			return
		}
		if v := ackArg(ack, 1); !isNull(v) {
			writeJSON(w, http.StatusOK, v)
			return
		}
		s.writeError(w, r, errNotFound)
	})
}

func (s *Server) restSetState() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		body, err := s.readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			s.writeError(w, r, &argError{"the body must be a state {val, ack, q, expire, …} or a JSON value"})
			return
		}
		if !json.Valid(body) {
			s.writeError(w, r, &argError{"the body is not valid JSON"})
			return
		}
		id := r.PathValue("id")
		if _, ok := s.invokeFor(w, r, sess, "setState", id, json.RawMessage(body)); ok {
			writeJSON(w, http.StatusOK, map[string]string{"id": id})
		}
	})
}

func (s *Server) restDelState() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		if _, ok := s.invokeFor(w, r, sess, "delState", r.PathValue("id")); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func (s *Server) restGetObjects() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		q := r.URL.Query()
		pat := q.Get("pattern")
		if pat == "" {
			pat = "*"
		}
		var typ any
		if t := q.Get("type"); t != "" {
			typ = t
		}
		ack, ok := s.invokeFor(w, r, sess, "getForeignObjects", pat, typ)
		if ok {
			writeJSON(w, http.StatusOK, ackArg(ack, 1))
		}
	})
}

func (s *Server) restGetObject() http.HandlerFunc { return s.restGetOne("getObject") }

func (s *Server) restSetObject() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		body, err := s.readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var obj any
		if err := json.Unmarshal(body, &obj); err != nil {
			s.writeError(w, r, &argError{"the body is not valid JSON: " + err.Error()})
			return
		}
		id := r.PathValue("id")
		if _, ok := s.invokeFor(w, r, sess, "setObject", id, obj); ok {
			writeJSON(w, http.StatusOK, map[string]string{"id": id})
		}
	})
}

func (s *Server) restDelObject() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		opts := map[string]any{"recursive": r.URL.Query().Get("recursive") == "true"}
		if _, ok := s.invokeFor(w, r, sess, "delObject", r.PathValue("id"), opts); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func (s *Server) restListNamespaces() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		if ack, ok := s.invokeFor(w, r, sess, "readDir", "", ""); ok {
			writeJSON(w, http.StatusOK, ackArg(ack, 1))
		}
	})
}

// filePath validates the {ns}/{path...} of a request: a path that would
// leave its namespace (".." segments, encoded separators) is refused; the
// rest is canonicalised by files.Normalize.
func filePath(ns, name string) (string, string, error) {
	for _, seg := range strings.Split(strings.ReplaceAll(name, `\`, "/"), "/") {
		if seg == ".." {
			return "", "", errBadPath
		}
	}
	if strings.Contains(ns, "..") || strings.ContainsAny(ns, `/\`) {
		return "", "", errBadPath
	}
	nns, nname, err := files.Normalize(ns, name)
	if err != nil {
		if errors.Is(err, files.ErrNotExists) {
			return "", "", errBadPath
		}
		return "", "", err
	}
	if nns != ns {
		return "", "", errBadPath
	}
	return nns, nname, nil
}

func (s *Server) restGetFile() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		raw := r.PathValue("path")
		ns, name, err := filePath(r.PathValue("ns"), raw)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if name != "" && !strings.HasSuffix(raw, "/") {
			data, meta, err := s.readFileMeta(sess, ns, name)
			if err == nil {
				serveContent(w, r, name, data, meta)
				return
			}
			if !errors.Is(err, files.ErrNotExists) {
				s.writeError(w, r, err)
				return
			}
			// Not a file: maybe a folder.
		}
		ack, ok := s.invokeFor(w, r, sess, "readDir", ns, name)
		if !ok {
			return
		}
		entries, _ := ackArg(ack, 1).([]any)
		if len(entries) == 0 && name != "" && !s.isDir(sess, ns, name) {
			// readDir lists a missing folder as empty: nothing there.
			s.writeError(w, r, errNotFound)
			return
		}
		if entries == nil {
			entries = []any{}
		}
		writeJSON(w, http.StatusOK, entries)
	})
}

// isDir reports whether ns/name is a folder: its parent lists it as one
// (folders are listed regardless of the files' ACL; readDir's gate passed).
func (s *Server) isDir(sess Session, ns, name string) bool {
	if s.st.Files == nil {
		return false
	}
	parent, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent, base = name[:i], name[i+1:]
	}
	entries, err := s.st.Files.ReadDir(ns, parent, sess.Subject())
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.File == base && e.IsDir {
			return true
		}
	}
	return false
}

// readFileMeta is the readFile command for GET of a file (REST and the file
// web server): the same gate, then the same store read, which applies the
// file ACL. It keeps the file's meta, because readFile's ack
// (err, data, mimeType) has no modification time for Last-Modified.
func (s *Server) readFileMeta(sess Session, ns, name string) (data []byte, meta *files.Meta, err error) {
	if _, _, err := s.admit(sess, "readFile", []any{ns, name}); err != nil {
		return nil, nil, err
	}
	// Recorded like an invoked readFile, so /metrics still counts file reads.
	defer func(start time.Time) {
		s.opts.Metrics.Command("readFile", outcomeOf([]any{errText(err)}), time.Since(start))
	}(time.Now())
	if s.st.Files == nil {
		return nil, nil, errors.New(errDBClosed)
	}
	return s.st.Files.Read(ns, fileName(name), sess.Subject())
}

// serveContent answers with a file's content, its stored mime type, a
// content ETag and its modification time as Last-Modified; http.ServeContent
// handles Range and the conditional headers, If-None-Match taking precedence
// over If-Modified-Since (RFC 9110 13.2.2).
func serveContent(w http.ResponseWriter, r *http.Request, name string, data []byte, meta *files.Meta) {
	mime := ""
	var modified time.Time // zero: no Last-Modified
	if meta != nil {
		mime = meta.MimeType
		if meta.ModifiedAt > 0 {
			modified = time.UnixMilli(meta.ModifiedAt)
		}
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	w.Header().Set("Content-Type", mime)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, modified, bytes.NewReader(data))
}

func (s *Server) restPutFile() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		ns, name, err := filePath(r.PathValue("ns"), r.PathValue("path"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		body, err := s.readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// Text bodies are stored as text (mime detection of datamodel.md 7.4).
		var data any = body
		if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json") {
			data = string(body)
		}
		if _, ok := s.invokeFor(w, r, sess, "writeFile", ns, name, data); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func (s *Server) restDelFile() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request, sess Session) {
		ns, name, err := filePath(r.PathValue("ns"), r.PathValue("path"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if name == "" {
			s.writeError(w, r, &argError{"refusing to delete a whole namespace"})
			return
		}
		if _, ok := s.invokeFor(w, r, sess, "unlink", ns, name); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// serveWebFiles hosts the files store: GET /files/<ns>/<path> (ns "" takes
// the namespace from the URL) or a mount such as /vis/ → vis.0. Folders
// serve their index.html. The file ACL applies through readFile.
func (s *Server) serveWebFiles(mountNS string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ns := mountNS
		if ns == "" {
			ns = r.PathValue("ns")
		}
		raw := r.PathValue("path")
		ns, name, err := filePath(ns, raw)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sess, err := s.authenticateHTTP(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if name == "" || strings.HasSuffix(raw, "/") {
			name = strings.TrimSuffix(name, "/")
			if name != "" {
				name += "/"
			}
			name += "index.html"
		}
		data, meta, err := s.readFileMeta(sess, ns, name)
		if err == nil {
			serveContent(w, r, name, data, meta)
			return
		}
		if errors.Is(err, files.ErrNotExists) && !strings.HasSuffix(name, "index.html") {
			// A folder without the trailing slash: redirect so relative links work.
			if ex, e := s.Invoke(r.Context(), sess, "fileExists", []any{ns, name + "/index.html"}); e == nil && ackArg(ex, 1) == true {
				http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
				return
			}
		}
		s.writeError(w, r, err)
	}
}
