package transport

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// testHTTP and testDialer are the only HTTP clients of the transport tests:
// a request the server never answers fails the test after their timeout
// instead of blocking the whole run.
var (
	testHTTP   = &http.Client{Timeout: 10 * time.Second}
	testDialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
)
