package transport

import (
	"os"

	"github.com/zishang520/socket.io/v3/pkg/log"
)

// init turns on the socket.io library's own debug log when DEBUG is set
// (e.g. DEBUG='engine*,socket.io*' go test ./transport/).
func init() {
	if os.Getenv("DEBUG") != "" {
		log.DEBUG.Store(true)
	}
}
