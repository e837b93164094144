package broker

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/brokerd/brokerd/web/socketio"
)

// withSocketIOClient serves brokerd's socket.io.js for any GET whose path
// contains "socket.io.js", as ioBroker's socketio adapter does (protocol.md
// 1.2): pages load it from /socket.io/socket.io.js or a relative lib path.
func withSocketIOClient(next http.Handler, modified time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.Path, "socket.io.js") {
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeContent(w, r, "socket.io.js", modified, bytes.NewReader(socketio.JS))
			return
		}
		next.ServeHTTP(w, r)
	})
}
