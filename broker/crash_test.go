package broker

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

// The crash test re-executes the test binary as a child that writes as fast
// as it can and prints every acknowledged write; the parent SIGKILLs it at a
// random moment, reopens the data directory and checks that every
// acknowledged write survived.
//
// To add a store, append a crashWorkload: run writes until killed and calls
// ack after each durable write, verify checks the reopened database.

const crashDirEnv = "BROKERD_CRASH_CHILD_DIR"

// crashCyclesEnv overrides the number of kill/reopen cycles of TestCrash.
const crashCyclesEnv = "BROKERD_CRASH_CYCLES"

// crashWorkload is one kind of data the child writes and the parent checks.
type crashWorkload struct {
	name string
	// run writes until the process dies, calling ack(key, seq) once the
	// write of seq (monotonic per key) is durable.
	run func(s *Stores, ack func(key string, seq int64)) error
	// verify is called on the reopened database with the highest acked seq
	// of every key.
	verify func(t *testing.T, s *Stores, acked map[string]int64)
}

var crashWorkloads = []crashWorkload{
	{name: "state", run: crashWriteStates, verify: crashVerifyStates},
	{name: "object", run: crashWriteObjects, verify: crashVerifyObjects},
	{name: "file", run: crashWriteFiles, verify: crashVerifyFiles},
}

const crashWriters, crashIDsPerWriter = 8, 4

// crashWriteStates: several goroutines, each owning a few ids whose values
// are per-id counters.
func crashWriteStates(s *Stores, ack func(string, int64)) error {
	return crashLoop(func(g, k int, seq int64) (string, error) {
		id := fmt.Sprintf("crash.0.w%d.s%d", g, k)
		t := true
		_, err := s.States.Set(id, states.Write{Val: float64(seq), HasVal: true, Ack: &t})
		return id, err
	}, ack)
}

// crashLoop runs crashWriters goroutines writing crashIDsPerWriter keys each
// with increasing sequence numbers until a write fails.
func crashLoop(write func(g, k int, seq int64) (string, error), ack func(string, int64)) error {
	errs := make(chan error, crashWriters)
	for g := range crashWriters {
		go func() {
			for seq := int64(1); ; seq++ {
				for k := range crashIDsPerWriter {
					key, err := write(g, k, seq)
					if err != nil {
						errs <- err
						return
					}
					ack(key, seq)
				}
			}
		}()
	}
	return <-errs
}

func crashVerifyStates(t *testing.T, s *Stores, acked map[string]int64) {
	for id, seq := range acked {
		st, ok := s.States.Get(id)
		if !ok {
			t.Errorf("acknowledged state %s (seq %d) lost", id, seq)
			continue
		}
		if v, _ := st.Val.(float64); int64(v) < seq {
			t.Errorf("state %s = %v, acknowledged %d", id, st.Val, seq)
		}
	}
}

func crashWriteObjects(s *Stores, ack func(string, int64)) error {
	return crashLoop(func(g, k int, seq int64) (string, error) {
		id := fmt.Sprintf("crash.0.w%d.o%d", g, k)
		_, err := s.Objects.Set(id, objects.Object{"type": "state", "common": map[string]any{"name": "c", "type": "number", "seq": seq}, "native": map[string]any{}}, objects.WriteOptions{User: "system.user.admin"})
		return id, err
	}, ack)
}

func crashVerifyObjects(t *testing.T, s *Stores, acked map[string]int64) {
	for id, seq := range acked {
		o, err := s.Objects.Get(id)
		if err != nil || o == nil {
			t.Errorf("acknowledged object %s (seq %d) lost: %v", id, seq, err)
			continue
		}
		c, _ := o["common"].(map[string]any)
		if v, _ := c["seq"].(float64); int64(v) < seq {
			t.Errorf("object %s seq %v, acknowledged %d", id, c["seq"], seq)
		}
	}
}

// crashWriteFiles writes files whose content is the sequence number repeated,
// so a torn write is detectable.
func crashWriteFiles(s *Stores, ack func(string, int64)) error {
	return crashLoop(func(g, k int, seq int64) (string, error) {
		name := fmt.Sprintf("w%d/f%d.txt", g, k)
		body := strings.Repeat(strconv.FormatInt(seq, 10)+"\n", 200)
		return name, s.Files.Write("0_userdata.0", name, []byte(body), true, files.WriteOptions{}, nil)
	}, ack)
}

func crashVerifyFiles(t *testing.T, s *Stores, acked map[string]int64) {
	for name, seq := range acked {
		data, _, err := s.Files.Read("0_userdata.0", name, nil)
		if err != nil {
			t.Errorf("acknowledged file %s (seq %d) lost: %v", name, seq, err)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 200 {
			t.Errorf("file %s torn: %d lines", name, len(lines))
			continue
		}
		got, _ := strconv.ParseInt(lines[0], 10, 64)
		for _, l := range lines {
			if l != lines[0] {
				t.Errorf("file %s torn: mixed content", name)
				break
			}
		}
		if got < seq {
			t.Errorf("file %s holds %d, acknowledged %d", name, got, seq)
		}
	}
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run as the child of TestCrash")
	}
	stores, err := OpenStores(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriterSize(os.Stdout, 64)
	emit := func(line string) {
		mu.Lock()
		out.WriteString(line)
		out.Flush() // every ack reaches the pipe before the next write starts
		mu.Unlock()
	}
	emit("ready\n")
	go func() { // never outlive a parent that failed to kill us
		time.Sleep(30 * time.Second)
		os.Exit(3)
	}()
	errs := make(chan error, len(crashWorkloads))
	for _, w := range crashWorkloads {
		go func() {
			errs <- w.run(stores, func(key string, seq int64) {
				emit("ack " + w.name + " " + key + " " + strconv.FormatInt(seq, 10) + "\n")
			})
		}()
	}
	err = <-errs
	emit(fmt.Sprintf("error %v\n", err))
	os.Exit(2)
}

func TestCrash(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("child")
	}
	runs, budget := 20, 90*time.Second
	if testing.Short() {
		runs = 5
	}
	// make soak: BROKERD_CRASH_CYCLES=100 (the budget grows with the count).
	if v := os.Getenv(crashCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive count", crashCyclesEnv, v)
		}
		runs, budget = n, time.Duration(n)*5*time.Second
	}
	deadline := time.Now().Add(budget)
	total := 0
	done := 0
	for i := range runs {
		if time.Now().After(deadline) {
			t.Logf("time budget used up after %d runs", i)
			break
		}
		n := crashOnce(t, i)
		total += n
		done++
		if t.Failed() {
			return
		}
	}
	if total == 0 {
		t.Fatal("the child never acknowledged a write")
	}
	if done < runs && os.Getenv(crashCyclesEnv) != "" {
		t.Fatalf("time budget used up after %d of %d runs", done, runs)
	}
	t.Logf("%d runs, %d acknowledged writes checked, none lost", done, total)
}

// crashOnce runs one child, kills it after 50-300 ms of writing and checks
// the reopened data. It returns the number of acknowledged writes.
func crashOnce(t *testing.T, run int) int {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	acked := map[string]map[string]int64{}
	n := 0
	record := func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "ack":
			seq, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				t.Fatalf("bad line %q", line)
			}
			if acked[f[1]] == nil {
				acked[f[1]] = map[string]int64{}
			}
			acked[f[1]][f[2]] = max(acked[f[1]][f[2]], seq)
			n++
		case len(f) > 0 && f[0] == "error":
			t.Fatalf("child: %s", line)
		}
	}

	select {
	case l, ok := <-lines:
		if !ok || l != "ready" {
			t.Fatalf("child did not start: %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not start")
	}
	kill := time.After(time.Duration(50+rand.IntN(251)) * time.Millisecond)
	for wait := true; wait; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited before it was killed")
			}
			record(l)
		case <-kill:
			wait = false
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for l := range lines { // acks already in the pipe were acknowledged too
		record(l)
	}
	cmd.Wait()
	killed = true

	stores, err := OpenStores(dir)
	if err != nil {
		t.Fatalf("run %d: reopen: %v", run, err)
	}
	defer stores.Close()
	for _, w := range crashWorkloads {
		w.verify(t, stores, acked[w.name])
	}
	return n
}
