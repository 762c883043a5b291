//go:build scale

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// BenchmarkFleetProcess measures what `brickyard fleet` costs as a process
// of its own, the way a controller team runs it: N MQTT agents in one
// brickyard fleet process, through Debian's mosquitto, driven by a lean
// controller in the benchmark's process (MQTT 3.1.1, QoS 0 requests: the
// driver's cost stays out of the agents' and is reported apart). Per
// configuration it reports, from the fleet's own Prometheus endpoint:
//
//   - the marginal memory of a live, connected, idle agent (RSS, heap,
//     stacks), as the slope between a fleet of FLEETBENCH_BASE
//     agents and one of N;
//   - goroutines per agent;
//   - the agents' CPU per answered Get of one path (one parameter by
//     default, FLEETBENCH_PATH) (process_cpu_seconds_total ÷ answers)
//     with W Gets in flight per agent, the answers per second, and the
//     parameters and bytes per answer (to read the CPU per parameter);
//   - the driver's own CPU per Get (getrusage of this process).
//
// Run it with make bench-fleet (docs/scale.md). Environment:
// FLEETBENCH_AGENTS (default 1,1000), FLEETBENCH_WINDOW
// (Gets in flight per agent, default 1,32), FLEETBENCH_QOS (the
// agents' QoS, default 1), FLEETBENCH_SECONDS (per load window,
// default 10), FLEETBENCH_PATH (the path each Get asks for, default
// Device.DeviceInfo.SoftwareVersion; Device. is the whole data model),
// FLEETBENCH_ARGS (more fleet flags, space-separated: the cost of
// --dashboard or --trace is the difference they make),
// FLEETBENCH_PROFILE (a folder: the fleet's CPU profile of
// every load window and its heap profile when idle are written there, as
// cpu-agents=N-window=W.pprof and heap-agents=N.pprof).
func BenchmarkFleetProcess(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "brickyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	agents := envInts(b, "FLEETBENCH_AGENTS", []int{1, 1000})
	windows := envInts(b, "FLEETBENCH_WINDOW", []int{1, 32})
	qos := envInts(b, "FLEETBENCH_QOS", []int{1})[0]
	secs := envInts(b, "FLEETBENCH_SECONDS", []int{10})[0]
	base := envInts(b, "FLEETBENCH_BASE", []int{100})[0]
	profDir := os.Getenv("FLEETBENCH_PROFILE")
	path := os.Getenv("FLEETBENCH_PATH")
	if path == "" {
		path = fbPath
	}
	m := mtptest.NewMosquitto(b)
	for _, n := range agents {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			var baseMem fbMem
			if n > base {
				fb := startFleetBench(b, bin, m.Addr, base, qos, true)
				baseMem = fb.idle(b)
				fb.stop(b)
			}
			fb := startFleetBench(b, bin, m.Addr, n, qos, true)
			defer fb.stop(b)
			mem := fb.idle(b)
			if profDir != "" {
				fb.profile(b, "heap", 0, filepath.Join(profDir, fmt.Sprintf("heap-agents=%d.pprof", n)))
			}
			// A parent benchmark's metrics are not printed: the idle
			// fleet's memory is a sub-benchmark of its own.
			b.Run("idle", func(b *testing.B) {
				if n > base {
					d := float64(n - base)
					b.ReportMetric(float64(mem.rss-baseMem.rss)/d, "rss-B/agent")
					b.ReportMetric(float64(mem.heap-baseMem.heap)/d, "heap-B/agent")
					b.ReportMetric(float64(mem.stack-baseMem.stack)/d, "stack-B/agent")
					b.ReportMetric(float64(mem.goroutines-baseMem.goroutines)/d, "goroutines/agent")
				}
				b.ReportMetric(0, "ns/op")
				b.Logf("%d agents idle: RSS %.1f MiB, heap %.1f MiB, stacks %.1f MiB, %d goroutines", n,
					float64(mem.rss)/(1<<20), float64(mem.heap)/(1<<20), float64(mem.stack)/(1<<20), mem.goroutines)
			})
			for _, w := range windows {
				b.Run(fmt.Sprintf("window=%d", w), func(b *testing.B) {
					for range b.N {
						prof := ""
						if profDir != "" {
							prof = filepath.Join(profDir, fmt.Sprintf("cpu-agents=%d-window=%d.pprof", n, w))
						}
						r := fb.load(b, path, w, time.Duration(secs)*time.Second, prof)
						if r.answers == 0 {
							b.Fatalf("%d agents, %d in flight each: no answer to a Get of %s in %.1f s", n, w, path, r.wall)
						}
						a := float64(r.answers)
						b.ReportMetric(r.agentCPU/a*1e6, "agent-µs/get")
						b.ReportMetric(r.driverCPU/a*1e6, "driver-µs/get")
						b.ReportMetric(a/r.wall, "gets/s")
						b.ReportMetric(float64(r.params)/a, "params/answer")
						b.ReportMetric(float64(r.bytes)/a, "B/answer")
						b.Logf("%d agents, %d in flight each, Get %s: %d answers in %.1f s, %.0f parameters and %.0f bytes each, agents %.1f µs CPU per Get, driver %.1f µs",
							n, w, path, r.answers, r.wall, float64(r.params)/a, float64(r.bytes)/a, r.agentCPU/a*1e6, r.driverCPU/a*1e6)
						if r.failed > 0 {
							b.Errorf("%d of the answers carried an error for %s", r.failed, path)
						}
					}
				})
			}
		})
	}
}

func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			b.Fatalf("%s=%q: want numbers, comma-separated", name, v)
		}
		out = append(out, n)
	}
	return out
}

const fbCtrl = "proto::fleetbench"

// fbPath is what a Get asks for unless FLEETBENCH_PATH says otherwise.
const fbPath = "Device.DeviceInfo.SoftwareVersion"

// fleetBench is one brickyard fleet process and its driver.
type fleetBench struct {
	cmd     *exec.Cmd
	base    string // the fleet's metrics (and pprof) server
	metrics string
	l       mtp.Listener
	n       int

	mu    sync.Mutex
	conns map[string]mtp.Conn
	wg    sync.WaitGroup
	ctx   context.Context
	stopC context.CancelFunc
	up    atomic.Int64
}

func startFleetBench(b *testing.B, bin, broker string, n, qos int, pprof bool) *fleetBench {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l, err := mqtt.NewListener(mqtt.Config{Broker: "tcp://" + broker, Version: mqtt.V311, QoS0: true, ControllerID: fbCtrl,
		ControllerTopic: "bench/controller", QueueLen: 1024, Backlog: max(1024, n)})
	if err != nil {
		b.Fatal(err)
	}
	fb := &fleetBench{base: "http://" + addr, metrics: "http://" + addr + "/metrics", l: l, n: n, conns: map[string]mtp.Conn{}}
	fb.ctx, fb.stopC = context.WithCancel(context.Background())
	fb.wg.Go(func() {
		for {
			c, err := l.Accept(fb.ctx)
			if err != nil {
				return
			}
			fb.mu.Lock()
			fb.conns[c.Info().Peer] = c
			fb.mu.Unlock()
			fb.up.Add(1)
		}
	})
	fb.cmd = exec.Command(bin, "--log-level", "warn", "fleet", "--mqtt", broker, "--controller-id", fbCtrl,
		"--controller-topic", "bench/controller", "--agent-topic", "bench/agent/{eid}", "--devices", strconv.Itoa(n),
		"--mqtt-qos", strconv.Itoa(qos), "--metrics-addr", addr, "--quiet", "--sources", "127.0.40.1-127.0.40.8",
		"--connect-rate", "2000")
	if pprof {
		fb.cmd.Args = append(fb.cmd.Args, "--pprof")
	}
	fb.cmd.Args = append(fb.cmd.Args, strings.Fields(os.Getenv("FLEETBENCH_ARGS"))...)
	fb.cmd.Stdout, fb.cmd.Stderr = io.Discard, os.Stderr // the summary at exit is not the benchmark's
	if err := fb.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for fb.up.Load() < int64(n) {
		if time.Now().After(deadline) {
			fb.stop(b)
			b.Fatalf("%d of %d agents connected after 5 min", fb.up.Load(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fb
}

func (fb *fleetBench) stop(b *testing.B) {
	if fb.cmd.Process != nil {
		_ = fb.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- fb.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = fb.cmd.Process.Kill()
			<-done
		}
		fb.cmd.Process = nil
	}
	fb.stopC()
	fb.l.Close()
	fb.wg.Wait()
}

// fbMem is the fleet process's memory, from its metrics.
type fbMem struct{ rss, heap, stack, goroutines int64 }

// idle waits for the fleet to settle (the handshakes' goroutines gone),
// has it collect its garbage, and reads its memory.
func (fb *fleetBench) idle(b *testing.B) fbMem {
	var m fbMem
	prev := int64(-1)
	for range 20 { // settled: two readings a second apart agree on the goroutines
		time.Sleep(time.Second)
		v := fb.scrape(b)
		m = fbMem{rss: int64(v["process_resident_memory_bytes"]), heap: int64(v["go_memstats_heap_inuse_bytes"]),
			stack: int64(v["go_memstats_stack_inuse_bytes"]), goroutines: int64(v["go_goroutines"])}
		if m.goroutines == prev {
			break
		}
		prev = m.goroutines
	}
	// Then the memory after a collection (a heap profile with gc=1 runs
	// one): what the agents hold, not garbage waiting for the next GC.
	resp, err := http.Get(fb.base + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	v := fb.scrape(b)
	m = fbMem{rss: int64(v["process_resident_memory_bytes"]), heap: int64(v["go_memstats_heap_inuse_bytes"]),
		stack: int64(v["go_memstats_stack_inuse_bytes"]), goroutines: int64(v["go_goroutines"])}
	return m
}

func (fb *fleetBench) scrape(b *testing.B) map[string]float64 {
	resp, err := http.Get(fb.metrics)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err == nil {
			out[name] = f
		}
	}
	return out
}

type fbResult struct {
	answers             int64
	params, bytes       int64 // over all answers: parameters in the GetResps, Record bytes
	failed              int64 // answers with an error for the path
	wall                float64
	agentCPU, driverCPU float64 // seconds
}

// load keeps w Gets of path in flight to every agent for d, and counts
// the answers and the parameters they carry.
func (fb *fleetBench) load(b *testing.B, path string, w int, d time.Duration, prof string) fbResult {
	fb.mu.Lock()
	conns := make([]mtp.Conn, 0, len(fb.conns))
	for _, c := range fb.conns {
		conns = append(conns, c)
	}
	fb.mu.Unlock()
	codec := usp.Codec{LocalID: fbCtrl}
	get := func(id string, n int) []byte {
		rec, err := codec.Seal(id, usp.NewRequest("g"+strconv.Itoa(n), &pb.Get{ParamPaths: []string{path}}))
		if err != nil {
			b.Fatal(err)
		}
		return rec
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var answers, params, bytes, failed atomic.Int64
	cpu0, ru0 := fb.scrape(b)["process_cpu_seconds_total"], rusage()
	start := time.Now()
	var wg sync.WaitGroup
	if prof != "" && d > 2*time.Second {
		// The profile covers the window but its first second (the
		// pipelines filling) and its last (the profile's own return).
		wg.Go(func() {
			t := time.NewTimer(time.Second)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fb.profile(b, "profile", int((d-2*time.Second)/time.Second), prof)
		})
	}
	for _, c := range conns {
		id := c.Info().Peer
		wg.Go(func() {
			for i := range w {
				if c.Send(ctx, get(id, i)) != nil {
					return
				}
			}
			for n := w; ctx.Err() == nil; n++ {
				rec, err := c.Recv(ctx)
				if err != nil {
					return
				}
				in, err := codec.Open(rec)
				resp := in.Msg.GetBody().GetResponse().GetGetResp()
				if err != nil || resp == nil {
					continue
				}
				answers.Add(1)
				bytes.Add(int64(len(rec)))
				np := 0
				for _, rp := range resp.GetReqPathResults() {
					if rp.GetErrCode() != 0 {
						failed.Add(1)
					}
					for _, res := range rp.GetResolvedPathResults() {
						np += len(res.GetResultParams())
					}
				}
				params.Add(int64(np))
				if c.Send(ctx, get(id, n)) != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	cpu1, ru1 := fb.scrape(b)["process_cpu_seconds_total"], rusage()
	// The in-flight answers of this window arrive now: drain them before
	// the next, so that they do not count twice.
	drain, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	for _, c := range conns {
		for {
			one, done := context.WithTimeout(drain, 50*time.Millisecond)
			_, err := c.Recv(one)
			done()
			if err != nil {
				break
			}
		}
	}
	return fbResult{answers: answers.Load(), params: params.Load(), bytes: bytes.Load(), failed: failed.Load(), wall: wall, agentCPU: cpu1 - cpu0, driverCPU: ru1 - ru0}
}

// profile fetches one of the fleet's pprof profiles into file.
func (fb *fleetBench) profile(b *testing.B, name string, seconds int, file string) {
	url := fb.base + "/debug/pprof/" + name
	if seconds > 0 {
		url += "?seconds=" + strconv.Itoa(seconds)
	}
	resp, err := http.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("%s: %s", url, resp.Status)
		return
	}
	f, err := os.Create(file)
	if err != nil {
		b.Error(err)
		return
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Error(err)
	}
	if err := f.Close(); err != nil {
		b.Error(err)
	}
}

// rusage is this process's user+system CPU time, in seconds.
func rusage() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
