package files

import "strings"

//go:generate sh -c "cd /tmp && npm pack mime-db@1.52.0"
//go:generate go run ./internal/mimegen -in /tmp/mime-db-1.52.0.tgz -o mimetable.go

// DetectMime returns the MIME type and binary flag of a file name
// (datamodel.md 7.4). The extension is the text after the last '.' of the
// base name, lower-cased (a leading dot alone is no extension, like Node's
// path.extname). Known extensions use the mime-db 1.52.0 table as resolved by
// mime-types 2.1.35; binary = the type is not text/* and the extension is not
// js, json or svg. Unknown or missing extensions: text/plain (not binary) when
// the data was sent as a string, else application/octet-stream (binary).
func DetectMime(name string, text bool) (mimeType string, binary bool) {
	ext := extension(name)
	mt, ok := mimeTypes[ext]
	if !ok || ext == "" {
		if text {
			return "text/plain", false
		}
		return "application/octet-stream", true
	}
	switch ext {
	case "js", "json", "svg":
		return mt, false
	}
	return mt, !strings.HasPrefix(mt, "text/")
}

func extension(name string) string {
	_, base := splitName(name)
	i := strings.LastIndexByte(base, '.')
	if i <= 0 {
		return ""
	}
	return strings.ToLower(base[i+1:])
}
