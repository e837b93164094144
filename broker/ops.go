package broker

import (
	"net/http"
	"net/http/pprof"

	"github.com/brokerd/brokerd/acl"
)

// opsRoutes mounts /metrics (Prometheus) and /debug/pprof/ (administrators only).
func (b *Broker) opsRoutes() {
	b.mux.Handle("GET /metrics", b.metrics.Handler())
	admin := b.adminOnly
	b.mux.Handle("/debug/pprof/", admin(http.HandlerFunc(pprof.Index)))
	b.mux.Handle("/debug/pprof/cmdline", admin(http.HandlerFunc(pprof.Cmdline)))
	b.mux.Handle("/debug/pprof/profile", admin(http.HandlerFunc(pprof.Profile)))
	b.mux.Handle("/debug/pprof/symbol", admin(http.HandlerFunc(pprof.Symbol)))
	b.mux.Handle("/debug/pprof/trace", admin(http.HandlerFunc(pprof.Trace)))
}

// adminOnly lets a request through when it carries the credentials of an
// administrator (Bearer token, access_token cookie, user/pass), or when auth
// is disabled (brokerd then only listens on loopback unless told otherwise).
func (b *Broker) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var payload map[string]any
		if u, p, ok := r.BasicAuth(); ok {
			payload = map[string]any{"user": u, "pass": p}
		}
		id, err := b.auth.Authenticate(r, payload)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="brokerd"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if sub := id.Subject; sub == nil || !(sub.Admin || sub.User == acl.Admin) {
			http.Error(w, "permissionError", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
