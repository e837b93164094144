// Command lamp is a simulated dimmable lamp written with the brokerd adapter
// SDK: it connects as instance lamp.0 (by default), creates its objects on
// first start, confirms every command with ack=true and answers the sendTo
// commands "status" and "toggle". See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/brokerd/brokerd/adapter"
)

// Relative ids of the lamp's states (the SDK prefixes the instance).
const (
	idOn         = "lamp1.on"
	idBrightness = "lamp1.brightness"
	idConnection = "info.connection"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lamp:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("lamp", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8084", "brokerd Socket.IO URL")
	instance := fs.String("instance", "lamp.0", "instance namespace to act for")
	user := fs.String("user", "", "user name (when brokerd has auth enabled)")
	pass := fs.String("pass", "", "password of -user (or env LAMP_PASS)")
	token := fs.String("token", "", "access token instead of -user/-pass (or env LAMP_TOKEN)")
	eio := fs.Int("eio", 4, "Engine.IO version, 3 or 4")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *pass == "" {
		*pass = os.Getenv("LAMP_PASS")
	}
	if *token == "" {
		*token = os.Getenv("LAMP_TOKEN")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	a, err := adapter.New(adapter.Options{URL: *url, Instance: *instance, User: *user, Pass: *pass, Token: *token, EIO: *eio, Logger: log})
	if err != nil {
		return err
	}
	l := &lamp{a: a, log: log, brightness: 100}
	a.OnCommand(l.command)
	a.OnMessage(l.message)
	a.OnConnect(func(ctx context.Context) {
		if err := a.SetState(ctx, idConnection, true, true); err != nil {
			log.Warn("set info.connection", "err", err)
		}
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while connecting
		}
		return err
	}
	if err := l.setup(ctx); err != nil && ctx.Err() == nil {
		a.Close()
		return err
	}
	log.Info("lamp running", "instance", a.Namespace())
	<-ctx.Done()
	log.Info("shutting down")
	// Last words while still connected; bounded so a dead broker cannot hang us.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.SetState(sctx, idConnection, false, true); err != nil {
		log.Warn("set info.connection", "err", err)
	}
	return a.Close()
}

// lamp is the simulated device.
type lamp struct {
	a   *adapter.Adapter
	log *slog.Logger

	mu         sync.Mutex
	on         bool
	brightness float64
}

// objects are created on first start (missing ones only).
func objects(ns string) []struct {
	id  string
	obj adapter.Object
} {
	return []struct {
		id  string
		obj adapter.Object
	}{
		{"", adapter.Object{Type: "meta", Common: map[string]any{"name": ns, "type": "meta.user"}}},
		{"lamp1", adapter.Object{Type: "device", Common: map[string]any{"name": "Lamp 1"}}},
		{idOn, adapter.Object{Type: "state", Common: map[string]any{
			"name": "Lamp 1 on", "type": "boolean", "role": "switch", "read": true, "write": true, "def": false}}},
		{idBrightness, adapter.Object{Type: "state", Common: map[string]any{
			"name": "Lamp 1 brightness", "type": "number", "role": "level.dimmer", "read": true, "write": true,
			"min": 0, "max": 100, "unit": "%", "def": 100}}},
		{"info", adapter.Object{Type: "channel", Common: map[string]any{"name": "Information"}}},
		{idConnection, adapter.Object{Type: "state", Common: map[string]any{
			"name": "Connected to the lamp", "type": "boolean", "role": "indicator.connected", "read": true, "write": false, "def": false}}},
	}
}

// setup creates missing objects and restores the lamp from the stored values
// (or publishes the defaults on first start).
func (l *lamp) setup(ctx context.Context) error {
	created := 0
	for _, o := range objects(l.a.Namespace()) {
		existing, err := l.a.GetObject(ctx, o.id)
		if err != nil {
			return fmt.Errorf("get object %s: %w", l.a.ID(o.id), err)
		}
		if existing != nil {
			continue
		}
		if err := l.a.SetObject(ctx, o.id, o.obj); err != nil {
			return fmt.Errorf("create object %s: %w", l.a.ID(o.id), err)
		}
		created++
	}
	if created > 0 {
		l.log.Info("created objects", "count", created)
	}
	on, err := l.a.GetState(ctx, idOn)
	if err != nil {
		return err
	}
	bri, err := l.a.GetState(ctx, idBrightness)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if on != nil {
		l.on = on.Bool()
	}
	if f, ok := bri.Float(); ok {
		l.brightness = clampBrightness(f)
	}
	cur, b := l.on, l.brightness
	l.mu.Unlock()
	// Publish the device's actual values as confirmed.
	if err := l.a.SetState(ctx, idOn, cur, true); err != nil {
		return err
	}
	return l.a.SetState(ctx, idBrightness, b, true)
}

// clampBrightness limits a brightness to 0…100, rounded to one decimal.
func clampBrightness(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	f = math.Max(0, math.Min(100, f))
	return math.Round(f*10) / 10
}

// command executes a write with ack=false and confirms the resulting value.
func (l *lamp) command(ctx context.Context, id string, st *adapter.State) {
	var val any
	switch l.a.RelID(id) {
	case idOn:
		l.mu.Lock()
		l.on = st.Bool()
		val = l.on
		l.mu.Unlock()
	case idBrightness:
		f, ok := st.Float()
		l.mu.Lock()
		if ok {
			l.brightness = clampBrightness(f)
		} else {
			l.log.Warn("brightness is not a number; keeping the current value", "id", id, "val", st.String())
		}
		val = l.brightness
		l.mu.Unlock()
	default:
		l.log.Debug("ignoring write", "id", id)
		return
	}
	l.log.Info("command", "id", id, "requested", st.String(), "confirmed", val)
	if err := l.a.SetState(ctx, id, val, true); err != nil {
		l.log.Error("confirm", "id", id, "err", err)
	}
}

// message answers sendTo("lamp.0", "status"|"toggle", …).
func (l *lamp) message(ctx context.Context, m adapter.Message) any {
	switch m.Command {
	case "status":
		l.mu.Lock()
		defer l.mu.Unlock()
		return map[string]any{"on": l.on, "brightness": l.brightness}
	case "toggle":
		l.mu.Lock()
		l.on = !l.on
		on, b := l.on, l.brightness
		l.mu.Unlock()
		l.log.Info("toggle", "from", m.From, "on", on)
		if err := l.a.SetState(ctx, idOn, on, true); err != nil {
			return err
		}
		return map[string]any{"on": on, "brightness": b}
	}
	return fmt.Errorf("unknown command %q (known: status, toggle)", m.Command)
}
