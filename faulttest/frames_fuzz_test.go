package faulttest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
	"github.com/coder/websocket"
)

// Input format of FuzzFrames: the first byte picks the protocol (even: EIO3,
// odd: EIO4); the rest is split at '\n' into WebSocket messages, sent in
// order after the server's open packet. A message starting with '~' is sent
// as a binary message without the '~'. At most maxFrames are sent.
const maxFrames = 64

// fuzzEnv is the server and the healthy clients of one fuzz process.
type fuzzEnv struct {
	srv     *server
	healthy map[int]*sioclient.Conn // by EIO
	redials int
}

var (
	fuzzOnce sync.Once
	fuzzE    *fuzzEnv
)

// FuzzFrames feeds raw Engine.IO/Socket.IO frames to a live server and then
// checks that separate, long-lived clients (EIO3 and EIO4) still get
// getVersion answered: no input may take the daemon down. Seeds beyond
// these live in testdata/fuzz/FuzzFrames.
func FuzzFrames(f *testing.F) {
	for _, s := range []string{
		"\x01" + "40\n421[\"getVersion\"]",
		"\x00" + "421[\"getVersion\"]\n2",
		"\x01" + "40\n420[\"setState\",\"0_userdata.0.f\",{\"val\":1,\"ack\":true}]\n421[\"getState\",\"0_userdata.0.f\"]",
		"\x01" + "40\n451-[\"writeFile3\",\"0_userdata.0\",\"f.txt\",{\"_placeholder\":true,\"num\":0}]\n~abc",
		"\x00" + "451-[\"writeFile3\",\"0_userdata.0\",\"f.txt\",{\"_placeholder\":true,\"num\":0}]\n~\x04abc",
		"\x01" + "40\n420[\"subscribe\",\"*\"]\n421[\"setObject\",\"a.0.b\",{\"type\":\"state\",\"common\":{}}]",
		"\x01" + "40{\"token\":\"x\"}\n41\n40\n1",
		"\x00" + "421[\"getObjectView\",\"system\",\"state\",{\"startkey\":\"\",\"endkey\":\"\\u9999\"}]",
		"\x01" + "40\n4\n42\n43\n44\n45\n46\n4-1[\"x\"]\n49",
		"\x01" + "40\n453-0[\"x\"]\n~a\n~b",
		"\x00" + "2probe\n5\n6\n1",
	} {
		f.Add([]byte(s))
	}
	fuzzOnce.Do(func() {
		fuzzE = &fuzzEnv{srv: startServer(f), healthy: map[int]*sioclient.Conn{}}
	})
	e := fuzzE
	f.Cleanup(func() {
		for _, c := range e.healthy {
			c.Close()
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		eio := 3 + int(in[0]&1)
		e.sendRaw(t, eio, in[1:])
		for _, v := range []int{3, 4} {
			e.checkHealthy(t, v, in)
		}
	})
}

// sendRaw opens a raw WebSocket, reads the open packet, sends the frames,
// drains what comes back, and closes with a handshake (which the server
// answers only after it has read every frame before the close).
func (e *fuzzEnv) sendRaw(t *testing.T, eio int, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws://" + e.srv.Addr + "/socket.io/?transport=websocket&EIO=" + string(rune('0'+eio))
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial EIO%d: %v", eio, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20)
	typ, open, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || len(open) == 0 || open[0] != '0' {
		t.Fatalf("EIO%d open packet: %v %q", eio, err, open)
	}
	drained := make(chan struct{})
	go func() { // keep the server's writes flowing; ends when the connection does
		defer close(drained)
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	for i, fr := range bytes.Split(data, []byte("\n")) {
		if i == maxFrames {
			break
		}
		typ := websocket.MessageText
		if len(fr) > 0 && fr[0] == '~' {
			typ, fr = websocket.MessageBinary, fr[1:]
		}
		if err := ws.Write(ctx, typ, fr); err != nil {
			break // the server closed the connection: allowed
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")
	select {
	case <-drained:
	case <-ctx.Done():
		t.Fatalf("raw EIO%d connection did not end within 10 s", eio)
	}
}

// checkHealthy asks the long-lived client of that EIO for getVersion,
// dialling it first when it is missing or was closed.
func (e *fuzzEnv) checkHealthy(t *testing.T, eio int, in []byte) {
	c := e.healthy[eio]
	if c != nil {
		if err := getVersion(c, 5*time.Second); err == nil {
			return
		} else {
			t.Logf("healthy EIO%d client lost (%v); dialling again", eio, err)
		}
		c.Close()
		e.redials++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.srv.dial(ctx, eio)
	if err != nil {
		t.Fatalf("server no longer accepts EIO%d clients after %q: %v", eio, in, err)
	}
	e.healthy[eio] = c
	if err := getVersion(c, 5*time.Second); err != nil {
		t.Fatalf("server does not answer getVersion over EIO%d after %q: %v", eio, in, err)
	}
}
