package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"brickyard/scenarios/report"
)

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// faultFile is a fault plan whose rules pick a share of the fleet: which
// devices they pick depends on the whole fleet, so a shard must take its
// part of the whole fleet's assignment.
func faultFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "faults.yaml")
	plan := "- kind: net-delay\n  share: 0.3\n  after: 1h\n  duration: 1m\n  delay: 1s\n- kind: power-at-uptime\n  share: 0.25\n  after: 2h\n"
	if err := os.WriteFile(p, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A fleet in three worker processes against a controller that is not
// brickyard's: one merged report with every device of the fleet, each
// with the faults one process gives it, every shard reported, the
// controller's requests all answered and counted once, and one metrics
// endpoint whose device counts are the whole fleet's.
func TestFleetWorkers_MergedReport(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, _ := startTestController(t, ctx, cancel)
	url, faults := l.URL(), faultFile(t)
	common := []string{"fleet", "--ws-url", url, "--controller-id", testCtrl, "--boards-mix", "uboot-nor=7,mcuboot-nrf52=5",
		"--faults", faults, "--seed", "5", "--periodic", "1s", "--quiet"}

	one := t.TempDir()
	runFleetFor(t, append(common, "--duration", "3s", "--out", one, "--workers", "1")...)
	whole := readReport(t, one)

	dir, metricsAddr := t.TempDir(), freeAddr(t)
	scraped := make(chan string, 1)
	go func() { // the parent's one endpoint, once every device is connected
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://" + metricsAddr + "/metrics")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), `brickyard_devices_by_conn{conn="connected"} 12`) {
					scraped <- string(body)
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		scraped <- ""
	}()
	out, _ := runFleetFor(t, append(common, "--duration", "6s", "--out", dir, "--workers", "3", "--metrics-addr", metricsAddr)...)
	r := readReport(t, dir)

	if r.Devices != 12 || len(r.Fleet) != 12 || r.Shard != nil || r.LatencyState != nil || r.Interrupted {
		t.Fatalf("merged: %d devices, %d rows, shard %v, interrupted %v", r.Devices, len(r.Fleet), r.Shard, r.Interrupted)
	}
	if len(r.Shards) != 3 {
		t.Fatalf("shards %+v", r.Shards)
	}
	for i, s := range r.Shards {
		if s.Index != i+1 || s.Count != 3 || s.Status != report.ShardOK || s.Devices != 4 {
			t.Errorf("shard %d: %+v", i+1, s)
		}
	}
	faulted := 0
	for i, d := range r.Fleet {
		w := whole.Fleet[i]
		if d.ID != w.ID || d.Board != w.Board || d.Faults != w.Faults || d.Version != "1.0.0" || d.Outcome != "pending" {
			t.Errorf("device %d: workers %+v, one process %+v", i, d, w)
		}
		if d.Faults != "" {
			faulted++
		}
	}
	if faulted == 0 {
		t.Error("no device has a fault: the check proves nothing")
	}
	if got := countOf(r.Messages, "received Get"); got != 12 {
		t.Errorf("received Get %d, want 12 (%v)", got, r.Messages)
	}
	if r.Latency.Count < 12 || len(r.LatencyByType) == 0 || len(r.LatencyOverTime) == 0 {
		t.Errorf("latency %+v", r.Latency)
	}
	if !strings.Contains(out, "merged from 3 shards, every one reported") || !strings.Contains(out, "12 devices against") {
		t.Errorf("summary:\n%s", out)
	}
	body := <-scraped
	for _, want := range []string{`brickyard_devices{board="mcuboot-nrf52"} 5`, `brickyard_devices{board="uboot-nor"} 7`, `brickyard_workers{state="running"} 3`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// workerPIDs are the processes this test process started as workers.
func workerPIDs(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if args := strings.Split(string(cmd), "\x00"); len(args) > 1 && args[1] == "worker" {
			out = append(out, pid)
		}
	}
	return out
}

// startFleet runs brickyard fleet with args in the background; wait
// returns its exit status and output.
func startFleet(t *testing.T, ctx context.Context, args ...string) (wait func() (int, string, string)) {
	t.Helper()
	clearEnv(t)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errb) }()
	return func() (int, string, string) {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-time.After(90 * time.Second):
			t.Fatal("brickyard fleet did not end")
			return 0, "", ""
		}
	}
}

// waitWorkers waits until n workers of this process run and have
// connected every device (the progress line says so), and returns them.
func waitWorkers(t *testing.T, n int, progress func() string, want string) []int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if pids := workerPIDs(t); len(pids) == n && strings.Contains(progress(), want) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d workers with %q did not show up", n, want)
	return nil
}

// A worker killed mid-run: the parent reports it, its devices are in the
// merged report as lost, the other workers' as they were, and the exit
// status says workers were lost.
func TestFleetWorkers_KilledWorker(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, _ := startTestController(t, ctx, cancel)
	dir := t.TempDir()
	tail := newProgressTail()
	defer tail.w.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	wait := startFleetTo(t, runCtx, tail.w, "fleet", "--ws-url", l.URL(), "--controller-id", testCtrl,
		"--devices", "9", "--workers", "3", "--out", dir, "--sources", "127.0.41.1-127.0.41.6")
	pids := waitWorkers(t, 3, tail.Last, "connected 9/9")
	// Each worker dials from its own part of --sources: two addresses of
	// the six, none shared.
	owner := map[string]int{}
	for _, pid := range pids {
		srcs := socketSources(t, pid, "127.0.41.")
		if len(srcs) != 3 {
			t.Fatalf("worker %d: %d connections from 127.0.41.x, want its 3 devices': %v", pid, len(srcs), srcs)
		}
		for _, a := range srcs {
			if o, ok := owner[a]; ok && o != pid {
				t.Fatalf("source %s used by workers %d and %d", a, o, pid)
			}
			owner[a] = pid
		}
	}
	if len(owner) != 6 {
		t.Fatalf("sources in use %v, want all six", owner)
	}
	victim := secondStarted(t, pids)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, victim)
	stop() // the others stop and report
	code, out, errOut := wait()
	if code != 1 || !strings.Contains(errOut, "1 of 3 workers lost") || !strings.Contains(errOut, "killed by signal 9") {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	r := readReport(t, dir)
	if r.Devices != 9 || countOf(r.Outcomes, report.Lost) != 3 || !r.Interrupted {
		t.Fatalf("devices %d, outcomes %v, interrupted %v", r.Devices, r.Outcomes, r.Interrupted)
	}
	lost := 0
	for _, s := range r.Shards {
		if s.Status == report.ShardLost {
			lost++
			if !strings.Contains(s.Detail, "killed by signal 9") {
				t.Errorf("lost shard %+v", s)
			}
			for _, d := range r.Fleet {
				n, _ := strconv.Atoi(strings.TrimPrefix(d.ID, "os::00256D-SIM"))
				if (n >= s.First && n <= s.Last) != (d.Outcome == report.Lost) {
					t.Errorf("device %s: %s (lost shard %d–%d)", d.ID, d.Outcome, s.First, s.Last)
				}
			}
		}
	}
	if lost != 1 || !strings.Contains(out, "1 LOST") {
		t.Fatalf("%d lost shards: %+v\n%s", lost, r.Shards, out)
	}
}

// startFleetTo is startFleet with the standard error also copied to w.
func startFleetTo(t *testing.T, ctx context.Context, w io.Writer, args ...string) (wait func() (int, string, string)) {
	t.Helper()
	clearEnv(t)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, io.MultiWriter(&errb, w)) }()
	return func() (int, string, string) {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-time.After(90 * time.Second):
			t.Fatal("brickyard fleet did not end")
			return 0, "", ""
		}
	}
}

// secondStarted is the PID of pids whose process started second (worker
// 2: the parent starts them in order).
func secondStarted(t *testing.T, pids []int) int {
	t.Helper()
	type proc struct {
		pid   int
		start uint64
	}
	var ps []proc
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		start, _ := strconv.ParseUint(f[19], 10, 64) // starttime, field 22 of stat
		ps = append(ps, proc{pid, start})
	}
	slices.SortFunc(ps, func(a, b proc) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.pid, b.pid)) })
	return ps[1].pid
}

// progressTail is a writer that keeps the last line written to it.
type progressTail struct {
	w     *io.PipeWriter
	lines chan string
	last  string
}

func newProgressTail() *progressTail {
	pr, pw := io.Pipe()
	p := &progressTail{w: pw, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, pr)
	}()
	return p
}

// Last is the last line written so far (it may lag a few lines).
func (p *progressTail) Last() string {
	for {
		select {
		case s := <-p.lines:
			p.last = s
		default:
			return p.last
		}
	}
}

// waitGone waits until process pid is gone (reaped by its parent).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d did not go", pid)
}

// An interrupt stops every worker; each reports what it has, and the
// merged report says it was interrupted.
func TestFleetWorkers_Interrupt(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tail := newProgressTail()
	defer tail.w.Close()
	wait := startFleetTo(t, ctx, tail.w, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", testCtrl,
		"--devices", "4", "--workers", "2", "--out", dir)
	waitWorkers(t, 2, tail.Last, "connecting 4")
	cancel()
	code, out, errOut := wait()
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	r := readReport(t, dir)
	if !r.Interrupted || r.Devices != 4 || len(r.Shards) != 2 || r.Shards[0].Status != report.ShardOK || r.Shards[1].Status != report.ShardOK {
		t.Fatalf("interrupted %v, %d devices, shards %+v", r.Interrupted, r.Devices, r.Shards)
	}
	if pids := workerPIDs(t); len(pids) != 0 {
		t.Fatalf("workers left: %v", pids)
	}
}

// socketSources lists the local addresses (with prefix) of process pid's
// established IPv4 TCP sockets, one entry per socket.
func socketSources(t *testing.T, pid int, prefix string) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
			continue
		}
		hexAddr, _, _ := strings.Cut(f[1], ":")
		v, err := strconv.ParseUint(hexAddr, 16, 32)
		if err != nil {
			continue
		}
		// The kernel prints the address's four bytes read as one word
		// in the machine's byte order.
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(v))
		ip := netip.AddrFrom4(b).String()
		if strings.HasPrefix(ip, prefix) {
			out = append(out, ip)
		}
	}
	return out
}

// A fleet larger than the open-file limit lets one process hold runs,
// without --workers, in as many workers as it needs: here 300 devices
// under a limit of 400 files (one process would need about 440) in two.
// It runs until the controller has every device's answer, then is
// interrupted.
func TestFleetWorkers_AsManyAsTheLimitNeeds(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit") // util-linux
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, tc := startTestController(t, ctx, cancel)
	dir := t.TempDir()
	clearEnv(t) // the process inherits the environment
	cmd := exec.CommandContext(ctx, prlimit, "--nofile=400:400", exe, "pod", "fleet", "--ws-url", l.URL(),
		"--controller-id", testCtrl, "--devices", "300", "--connect-rate", "1000", "--quiet", "--out", dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answered := func() int { tc.mu.Lock(); defer tc.mu.Unlock(); return len(tc.versions) }
	deadline := time.Now().Add(60 * time.Second)
	for answered() < 300 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt) // prlimit runs the command in its own process
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	if n := answered(); n != 300 {
		t.Fatalf("the controller heard %d of 300 devices\n%s", n, errOut.String())
	}
	r := readReport(t, dir)
	if r.Devices != 300 || len(r.Fleet) != 300 || len(r.Shards) != 2 {
		t.Fatalf("%d devices, %d rows, shards %+v\n%s", r.Devices, len(r.Fleet), r.Shards, out.String())
	}
	for i, s := range r.Shards {
		if s.Index != i+1 || s.Count != 2 || s.Status != report.ShardOK || s.Devices != 150 {
			t.Errorf("shard %d: %+v", i+1, s)
		}
	}
	if got := countOf(r.Messages, "received Get"); got != 300 {
		t.Errorf("received Get %d, want 300 (%v)", got, r.Messages)
	}
	if !strings.Contains(out.String(), "merged from 2 shards, every one reported") {
		t.Errorf("summary:\n%s", out.String())
	}
}
