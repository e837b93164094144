package files

import "testing"

func TestDetectMime(t *testing.T) {
	tests := []struct {
		name   string
		text   bool
		mime   string
		binary bool
	}{
		{"a.html", true, "text/html", false},
		{"a.htm", true, "text/html", false},
		{"a.css", true, "text/css", false},
		{"a.js", true, "application/javascript", false},
		{"a.mjs", true, "application/javascript", true},
		{"a.cjs", true, "application/node", true},
		{"a.json", true, "application/json", false},
		{"a.JSON", false, "application/json", false},
		{"a.map", true, "application/json", true},
		{"a.svg", true, "image/svg+xml", false},
		{"a.svgz", true, "image/svg+xml", true},
		{"a.txt", false, "text/plain", false},
		{"a.ini", true, "text/plain", false},
		{"a.log", true, "text/plain", false},
		{"a.md", true, "text/markdown", false},
		{"a.csv", true, "text/csv", false},
		{"a.yml", true, "text/yaml", false},
		{"a.yaml", true, "text/yaml", false},
		{"a.jsx", true, "text/jsx", false},
		{"a.less", true, "text/less", false},
		{"a.scss", true, "text/x-scss", false},
		{"a.ics", true, "text/calendar", false},
		{"a.vcf", true, "text/x-vcard", false},
		{"a.manifest", true, "text/cache-manifest", false},
		{"a.appcache", true, "text/cache-manifest", false},
		{"a.xml", true, "application/xml", true},
		{"a.xhtml", true, "application/xhtml+xml", true},
		{"a.webmanifest", true, "application/manifest+json", true},
		{"a.png", false, "image/png", true},
		{"a.jpg", false, "image/jpeg", true},
		{"a.jpeg", false, "image/jpeg", true},
		{"a.jpe", false, "image/jpeg", true},
		{"a.gif", false, "image/gif", true},
		{"a.bmp", false, "image/bmp", true},
		{"a.webp", false, "image/webp", true},
		{"a.avif", false, "image/avif", true},
		{"a.tif", false, "image/tiff", true},
		{"a.tiff", false, "image/tiff", true},
		{"a.heic", false, "image/heic", true},
		{"a.ico", false, "image/vnd.microsoft.icon", true},
		{"a.woff", false, "font/woff", true},
		{"a.woff2", false, "font/woff2", true},
		{"a.ttf", false, "font/ttf", true},
		{"a.otf", false, "font/otf", true},
		{"a.eot", false, "application/vnd.ms-fontobject", true},
		{"a.pdf", false, "application/pdf", true},
		{"a.zip", false, "application/zip", true},
		{"a.gz", false, "application/gzip", true},
		{"a.tar", false, "application/x-tar", true},
		{"a.7z", false, "application/x-7z-compressed", true},
		{"a.wasm", false, "application/wasm", true},
		{"a.mp3", false, "audio/mpeg", true},
		{"a.wav", false, "audio/wave", true},
		{"a.ogg", false, "audio/ogg", true},
		{"a.m4a", false, "audio/mp4", true},
		{"a.flac", false, "audio/x-flac", true},
		{"a.aac", false, "audio/x-aac", true},
		{"a.mp4", false, "video/mp4", true},
		{"a.webm", false, "video/webm", true},
		{"a.ts", true, "video/mp2t", true},
		{"a.sh", true, "application/x-sh", true},
		{"a.bin", true, "application/octet-stream", true},
		{"a.php", true, "application/x-httpd-php", true},
		{"a.jsonld", true, "application/ld+json", true},
		{"a.geojson", true, "application/geo+json", true},
		{"a.doc", false, "application/msword", true},
		{"a.docx", false, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"a.xls", false, "application/vnd.ms-excel", true},
		{"a.xlsx", false, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true},
		{"a.rtf", false, "application/rtf", true},
		// unknown or missing extension: decided by how the data was sent
		{"a.tsx", true, "text/plain", false},
		{"a.jsonl", false, "application/octet-stream", true},
		{"a.py", true, "text/plain", false},
		{"a.dat", false, "application/octet-stream", true},
		{"README", true, "text/plain", false},
		{"README", false, "application/octet-stream", true},
		{"dir.d/README", true, "text/plain", false},
		{".htaccess", false, "application/octet-stream", true},
		{"a.", true, "text/plain", false},
		{"main/vis-views.json", true, "application/json", false},
	}
	for _, tt := range tests {
		mime, bin := DetectMime(tt.name, tt.text)
		if mime != tt.mime || bin != tt.binary {
			t.Errorf("DetectMime(%q, %v) = %q, %v; want %q, %v", tt.name, tt.text, mime, bin, tt.mime, tt.binary)
		}
	}
}

func TestMimeTable(t *testing.T) {
	// mime-types 2.1.35 resolves 1180 extensions from mime-db 1.52.0.
	if mimeDBVersion != "1.52.0" || len(mimeTypes) != 1180 {
		t.Fatalf("mime table: mime-db %s with %d extensions, want 1.52.0 with 1180", mimeDBVersion, len(mimeTypes))
	}
}
