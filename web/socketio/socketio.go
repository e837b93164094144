// Package socketio embeds brokerd's own browser implementation of the
// socket.io-client API subset that ioBroker pages use (socket.io.js), served
// wherever a page asks for a path containing "socket.io.js".
package socketio

import _ "embed"

// JS is the library.
//
//go:embed socket.io.js
var JS []byte
