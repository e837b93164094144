package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebSection(t *testing.T) {
	p := write(t, `
web:
  mounts: [/vis/=vis.0, "/app/ = web.0"]
  max_streams: 7
  stats_interval: 1s
`)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Web.MountMap()
	if m["/vis/"] != "vis.0" || m["/app/"] != "web.0" || c.Web.MaxStreams != 7 || c.Web.StatsInterval.Std() != time.Second {
		t.Fatalf("web not loaded: %+v %v", c.Web, m)
	}
	c, err = Load("", []string{"BROKERD_WEB_MOUNTS=/vis/=vis.0,/x/=x.0"})
	if err != nil || len(c.Web.MountMap()) != 2 {
		t.Fatalf("env: %v %v", c.Web, err)
	}
}

func TestWebMountsRefused(t *testing.T) {
	for _, m := range []string{"vis", "/vis=vis.0", "vis/=vis.0", "/=vis.0", "/api/=vis.0", "/files/=x.0", "/socket.io/=x.0",
		"/vis/=", "/vis/=../x", "/vis/=a/b", "/a{b}/=x.0"} {
		_, err := Load("", []string{"BROKERD_WEB_MOUNTS=" + m})
		if err == nil || !strings.Contains(err.Error(), "web.mounts") {
			t.Errorf("%q: want a web.mounts error, got %v", m, err)
		}
	}
	if _, err := Load("", []string{"BROKERD_WEB_MAX_STREAMS=0"}); err == nil {
		t.Error("max_streams 0 accepted")
	}
}
