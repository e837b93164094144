// Package web holds the browser side of brokerd, embedded in the binary:
// conn.js (the servConn API ioBroker pages call, speaking Socket.IO itself
// when the page loaded no socket.io client) and the dashboard served at /.
package web

import "embed"

// FS holds conn.js and the dashboard (index.html, app.js, style.css) at its root.
//
//go:embed conn.js index.html app.js style.css
var FS embed.FS
