// Package hoststats reads host and process figures from /proc (Linux) and
// publishes them as the system.host.<hostname>.* states an ioBroker host
// keeps: cpu, mem, freemem, load, uptime and alive. Other systems get no
// figures (reads fail) but nothing breaks.
package hoststats

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// ABI Go supports (reading it needs sysconf, i.e. cgo).
const clockTicks = 100

// Proc reads the files of one proc file system; the zero value reads /proc.
type Proc struct {
	// Root is the mount point ("" = /proc); tests point it at testdata.
	Root string
}

func (p Proc) read(name string) ([]byte, error) {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	return os.ReadFile(filepath.Join(root, name))
}

var errFormat = errors.New("hoststats: unexpected /proc format")

// HostCPU returns the busy and total jiffies of all CPUs (/proc/stat).
func (p Proc) HostCPU() (busy, total uint64, err error) {
	b, err := p.read("stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errFormat
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, errFormat
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// ProcessCPU returns the CPU time this process used (/proc/self/stat).
func (p Proc) ProcessCPU() (time.Duration, error) {
	b, err := p.read("self/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields restart after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errFormat
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3 (state); utime, stime are fields 14, 15
		return 0, errFormat
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errFormat
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// Memory is /proc/meminfo in bytes.
type Memory struct {
	Total     uint64
	Available uint64 // MemAvailable, or MemFree+Buffers+Cached on old kernels
}

// UsedPercent is the share of memory not available.
func (m Memory) UsedPercent() float64 {
	if m.Total == 0 {
		return 0
	}
	return 100 * float64(m.Total-min(m.Available, m.Total)) / float64(m.Total)
}

// Memory reads /proc/meminfo.
func (p Proc) Memory() (Memory, error) {
	b, err := p.read("meminfo")
	if err != nil {
		return Memory{}, err
	}
	kv := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		kv[k] = n
	}
	m := Memory{Total: kv["MemTotal"]}
	if m.Total == 0 {
		return Memory{}, errFormat
	}
	if a, ok := kv["MemAvailable"]; ok {
		m.Available = a
	} else {
		m.Available = kv["MemFree"] + kv["Buffers"] + kv["Cached"]
	}
	return m, nil
}

// Load returns the 1, 5 and 15 minute load averages (/proc/loadavg).
func (p Proc) Load() ([3]float64, error) {
	var out [3]float64
	b, err := p.read("loadavg")
	if err != nil {
		return out, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return out, errFormat
	}
	for i := range out {
		if out[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return out, errFormat
		}
	}
	return out, nil
}

// Uptime returns the host's uptime (/proc/uptime).
func (p Proc) Uptime() (time.Duration, error) {
	b, err := p.read("uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errFormat
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, errFormat
	}
	return time.Duration(s * float64(time.Second)), nil
}

// RSS returns the resident set size of this process (/proc/self/status VmRSS).
func (p Proc) RSS() (uint64, error) {
	b, err := p.read("self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				break
			}
			return n * 1024, nil
		}
	}
	return 0, errFormat
}

// CPUMeter turns cumulative CPU counters into a percentage over the time
// since the previous reading. Readings closer than MinWindow apart return
// the previous figure, so several callers share one meter.
type CPUMeter struct {
	read      func() (busy, total float64, err error)
	MinWindow time.Duration

	mu        sync.Mutex
	busy, tot float64
	primed    bool
	last      float64
	lastAt    time.Time
}

// HostCPUMeter measures the busy share of all CPUs (0–100).
func (p Proc) HostCPUMeter() *CPUMeter {
	return &CPUMeter{MinWindow: time.Second, read: func() (float64, float64, error) {
		b, t, err := p.HostCPU()
		return float64(b), float64(t), err
	}}
}

// ProcessCPUMeter measures this process like top: 100 = one CPU busy.
func (p Proc) ProcessCPUMeter() *CPUMeter {
	return &CPUMeter{MinWindow: time.Second, read: func() (float64, float64, error) {
		d, err := p.ProcessCPU()
		return d.Seconds(), float64(time.Now().UnixNano()) / 1e9, err
	}}
}

// Percent returns the busy percentage since the previous call; false when
// the figures are unavailable. The first call primes the meter and measures
// nothing, so it reports 0.
func (m *CPUMeter) Percent() (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.primed && now.Sub(m.lastAt) < m.MinWindow {
		return m.last, true
	}
	busy, tot, err := m.read()
	if err != nil {
		return 0, false
	}
	if m.primed && tot > m.tot {
		m.last = 100 * (busy - m.busy) / (tot - m.tot)
		m.last = max(0, m.last)
	}
	m.busy, m.tot, m.primed, m.lastAt = busy, tot, true, now
	return m.last, true
}
