package transport

import (
	_ "embed"
	"net/http"
)

// openAPI describes the /api/v1/ routes (OpenAPI 3). It is written by hand;
// TestOpenAPIMatchesRoutes keeps it and apiRoutes in step both ways.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document served at /api/v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPI)
}
