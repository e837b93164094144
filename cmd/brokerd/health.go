package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/brokerd/brokerd/config"
)

// runHealth asks a running brokerd for /readyz; container health checks use
// it because the image carries no curl.
func runHealth(args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("health", "health [--url URL] [--config FILE]  (exit 0 when brokerd answers /readyz)", stderr)
	url := f.fs.String("url", "", "base URL (default: the first listen address of the configuration)")
	_, err := f.parseN(args, 0)
	if err != nil {
		return err
	}
	base := *url
	if base == "" {
		cfg, err := config.Load(*f.config, os.Environ())
		if err != nil {
			return err
		}
		host, port, _ := net.SplitHostPort(cfg.Listen[0])
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		scheme := "http"
		if cfg.TLSEnabled() {
			scheme = "https"
		}
		base = scheme + "://" + net.JoinHostPort(host, port)
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/readyz answered %s", base, resp.Status)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
