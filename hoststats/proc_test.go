package hoststats

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProcFiles(t *testing.T) {
	p := Proc{Root: "testdata/proc"}
	busy, total, err := p.HostCPU()
	if err != nil || busy != 200 || total != 1000 {
		t.Fatalf("HostCPU: %d %d %v", busy, total, err)
	}
	cpu, err := p.ProcessCPU()
	if err != nil || cpu != 3*time.Second { // (250+50) ticks
		t.Fatalf("ProcessCPU: %v %v", cpu, err)
	}
	m, err := p.Memory()
	if err != nil || m.Total != 8000000*1024 || m.Available != 2000000*1024 || m.UsedPercent() != 75 {
		t.Fatalf("Memory: %+v %v", m, err)
	}
	l, err := p.Load()
	if err != nil || l != [3]float64{0.52, 0.41, 0.30} {
		t.Fatalf("Load: %v %v", l, err)
	}
	u, err := p.Uptime()
	if err != nil || u != 3600*time.Second+500*time.Millisecond {
		t.Fatalf("Uptime: %v %v", u, err)
	}
	rss, err := p.RSS()
	if err != nil || rss != 12345*1024 {
		t.Fatalf("RSS: %v %v", rss, err)
	}
	if _, err := (Proc{Root: t.TempDir()}).Memory(); err == nil {
		t.Fatal("missing file read")
	}
}

func TestCPUMeter(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu  100 0 100 800 0 0 0 0\n")
	m := Proc{Root: dir}.HostCPUMeter()
	m.MinWindow = 0
	if v, ok := m.Percent(); !ok || v != 0 {
		t.Fatalf("first reading: %v %v", v, ok)
	}
	write("cpu  150 0 150 900 0 0 0 0\n") // +100 busy of +200
	if v, ok := m.Percent(); !ok || v != 50 {
		t.Fatalf("50%% expected: %v", v)
	}
	m.MinWindow = time.Hour
	write("cpu  150 0 150 1900 0 0 0 0\n")
	if v, _ := m.Percent(); v != 50 {
		t.Fatalf("within MinWindow the last figure is kept: %v", v)
	}
}

func TestRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	var p Proc
	if _, _, err := p.HostCPU(); err != nil {
		t.Error(err)
	}
	if _, err := p.ProcessCPU(); err != nil {
		t.Error(err)
	}
	if m, err := p.Memory(); err != nil || m.Total == 0 {
		t.Error(m, err)
	}
	if rss, err := p.RSS(); err != nil || rss == 0 {
		t.Error(rss, err)
	}
}
