package hoststats

import (
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

// DefaultInterval is how often the host states are updated, as in ioBroker.
const DefaultInterval = 15 * time.Second

// Options configure a Publisher.
type Options struct {
	Objects objects.Store
	States  states.Store
	// Hostname names the host object system.host.<Hostname>.
	Hostname string
	// Interval between updates (0 = DefaultInterval). alive expires after
	// two intervals, so it turns null when the broker stops updating.
	Interval time.Duration
	Proc     Proc
	Logger   *slog.Logger
}

// Publisher keeps system.host.<hostname>.{cpu,mem,freemem,load,uptime,alive} current.
type Publisher struct {
	o      Options
	prefix string // system.host.<hostname>
	cpu    *CPUMeter
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// stateDef is one host state object.
type stateDef struct {
	name, typ, role, unit string
}

// defs are the published states, in ioBroker's naming.
var defs = map[string]stateDef{
	"cpu":     {"CPU usage", "number", "value", "%"},
	"mem":     {"Memory usage", "number", "value", "%"},
	"freemem": {"Available memory", "number", "value", "MB"},
	"load":    {"Load average 1min", "number", "value", ""},
	"uptime":  {"Host uptime", "number", "value", "seconds"},
	"alive":   {"Host alive", "boolean", "indicator.state", ""},
}

// Names returns the state names below system.host.<hostname>.
func Names() []string { return []string{"alive", "cpu", "freemem", "load", "mem", "uptime"} }

// New creates a publisher; Start begins publishing.
func New(o Options) (*Publisher, error) {
	if o.Objects == nil || o.States == nil {
		return nil, errors.New("hoststats: Objects and States are required")
	}
	if o.Hostname == "" {
		return nil, errors.New("hoststats: Hostname is required")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{o: o, prefix: "system.host." + o.Hostname, stop: make(chan struct{}), done: make(chan struct{})}
	p.cpu = o.Proc.HostCPUMeter()
	p.cpu.MinWindow = 0
	return p, nil
}

// Start creates the missing objects, publishes once and then on every interval.
func (p *Publisher) Start() error {
	if err := p.ensureObjects(); err != nil {
		return err
	}
	p.cpu.Percent() // prime
	p.publish()
	go p.loop()
	return nil
}

// Close stops updating and sets alive to false.
func (p *Publisher) Close() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.set("alive", false, 0)
	})
}

func (p *Publisher) loop() {
	defer close(p.done)
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.publish()
		}
	}
}

func (p *Publisher) write() objects.WriteOptions {
	return objects.WriteOptions{From: p.prefix, User: acl.Admin}
}

// ensureObjects creates the host object (when the data directory was made on
// another host name) and the state objects that are missing.
func (p *Publisher) ensureObjects() error {
	if _, _, ok := p.o.Objects.GetRaw(p.prefix); !ok {
		host := objects.Object{"type": "host", "common": map[string]any{"name": p.prefix, "hostname": p.o.Hostname,
			"title": "brokerd", "type": "brokerd"}, "native": map[string]any{}}
		if _, err := p.o.Objects.Set(p.prefix, host, p.write()); err != nil {
			return err
		}
	}
	for _, n := range Names() {
		id := p.prefix + "." + n
		if _, _, ok := p.o.Objects.GetRaw(id); ok {
			continue
		}
		d := defs[n]
		common := map[string]any{"name": d.name, "type": d.typ, "role": d.role, "read": true, "write": false}
		if d.unit != "" {
			common["unit"] = d.unit
		}
		obj := objects.Object{"type": "state", "common": common, "native": map[string]any{},
			"acl": map[string]any{"owner": acl.Admin, "ownerGroup": acl.AdminGroup, "object": float64(0x644), "state": float64(0x644)}}
		if _, err := p.o.Objects.Set(id, obj, p.write()); err != nil {
			return err
		}
	}
	return nil
}

// round2 keeps two decimals, as ioBroker shows them.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

func (p *Publisher) publish() {
	if v, ok := p.cpu.Percent(); ok {
		p.set("cpu", round2(v), 0)
	}
	if m, err := p.o.Proc.Memory(); err == nil {
		p.set("mem", round2(m.UsedPercent()), 0)
		p.set("freemem", math.Round(float64(m.Available)/(1<<20)), 0)
	}
	if l, err := p.o.Proc.Load(); err == nil {
		p.set("load", round2(l[0]), 0)
	}
	if u, err := p.o.Proc.Uptime(); err == nil {
		p.set("uptime", math.Round(u.Seconds()), 0)
	}
	p.set("alive", true, 2*p.o.Interval)
}

func (p *Publisher) set(name string, val any, expire time.Duration) {
	ack := true
	w := states.Write{Val: val, HasVal: true, Ack: &ack, From: p.prefix}
	if expire > 0 {
		ms := max(expire.Milliseconds(), 1000)
		w.ExpireMS = &ms
	}
	if _, err := p.o.States.Set(p.prefix+"."+name, w); err != nil {
		p.o.Logger.Warn("cannot write host state", "id", p.prefix+"."+name, "err", err)
	}
}
