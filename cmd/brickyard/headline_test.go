//go:build scale

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/fdlimit"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// BenchmarkHeadline measures how many agents one box connects and answers
// a Get fan-out with: `brickyard fleet --workers W` of N MQTT agents (each
// on its own connection), spread over B mosquitto processes on this box
// (--mqtt A,B,…: the open-file limit binds a broker as it binds brickyard,
// about 20,000 clients each), and a lean controller in the benchmark's
// process subscribed on every broker (one MQTT 3.1.1 connection each, QoS
// 0). It reports the time until every agent has a session at the
// controller (power-ons at HEADLINE_RATE per second), then, for each of
// HEADLINE_ROUNDS fan-outs, the time from the first Get sent (one to
// every agent) to the last GetResp back and the latency percentiles; and
// the memory: the workers' resident sets per agent, the brokers', and the
// box's (MemTotal − MemAvailable, kernel included) per agent.
//
//	HEADLINE_AGENTS=100000 HEADLINE_BROKERS=7 HEADLINE_WORKERS=8 HEADLINE_RATE=2000 \
//	  go test -tags scale -run '^$' -bench '^BenchmarkHeadline$' -benchtime 1x -timeout 60m ./cmd/brickyard/
func BenchmarkHeadline(b *testing.B) {
	n := envInts(b, "HEADLINE_AGENTS", []int{100_000})[0]
	brokers := envInts(b, "HEADLINE_BROKERS", []int{(n + 14_999) / 15_000})[0]
	workers := envInts(b, "HEADLINE_WORKERS", []int{(n + 12_499) / 12_500})[0]
	rate := envInts(b, "HEADLINE_RATE", []int{2000})[0]
	rounds := envInts(b, "HEADLINE_ROUNDS", []int{3})[0]
	version := os.Getenv("HEADLINE_MQTT_VERSION")
	if version == "" {
		version = "5"
	}
	if _, err := fdlimit.Raise(); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "brickyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	used0 := memUsed(b)
	var addrs []string
	for range brokers {
		addrs = append(addrs, mtptest.NewMosquitto(b).Addr)
	}
	mosqRSS0 := childRSS(b, os.Getpid(), "mosquitto")

	// The controller: one listener per broker, a session per agent.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	conns := map[string]mtp.Conn{}
	var up atomic.Int64
	var wg sync.WaitGroup
	var ls []mtp.Listener
	for _, a := range addrs {
		l, err := mqtt.NewListener(mqtt.Config{Broker: "tcp://" + a, Version: mqtt.V311, QoS0: true, ControllerID: fbCtrl,
			ControllerTopic: "bench/controller", QueueLen: 16, Backlog: n})
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, l)
		wg.Go(func() {
			for {
				c, err := l.Accept(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				conns[c.Info().Peer] = c
				mu.Unlock()
				up.Add(1)
			}
		})
	}
	defer func() {
		cancel()
		for _, l := range ls {
			l.Close()
		}
		wg.Wait()
	}()

	metricsAddr := freeAddrB(b)
	cmd := exec.Command(bin, "--log-level", "warn", "fleet", "--mqtt", strings.Join(addrs, ","), "--controller-id", fbCtrl,
		"--controller-topic", "bench/controller", "--agent-topic", "bench/agent/{eid}", "--devices", strconv.Itoa(n),
		"--workers", strconv.Itoa(workers), "--mqtt-version", version, "--metrics-addr", metricsAddr, "--quiet",
		"--sources", "127.0.40.1-127.0.40.32", "--connect-rate", strconv.Itoa(rate))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stopFleet := func() {
		if cmd.Process == nil {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
		cmd.Process = nil
	}
	defer stopFleet()
	deadline := start.Add(30 * time.Minute)
	last := time.Now()
	for up.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d agents connected after 30 min\n%s", up.Load(), n, stderr.String())
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			b.Logf("%.0f s: %d agents connected", time.Since(start).Seconds(), up.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	connectAll := time.Since(start)
	b.Logf("%d agents connected in %.1f s (power-ons at %d/s: %.1f s of them)", n, connectAll.Seconds(), rate, float64(n)/float64(rate))

	time.Sleep(5 * time.Second) // the connect storm's garbage collected
	workerRSS := childRSS(b, cmd.Process.Pid, "")
	parentRSS := procRSS(b, cmd.Process.Pid)
	mosqRSS := childRSS(b, os.Getpid(), "mosquitto") - mosqRSS0
	used := memUsed(b) - used0
	b.Logf("memory: workers %.1f MiB (%.1f KiB per agent), parent %.1f MiB, brokers +%.1f MiB (%.2f KiB per agent), box +%.1f MiB (%.1f KiB per agent)",
		float64(workerRSS)/(1<<20), float64(workerRSS)/float64(n)/1024, float64(parentRSS)/(1<<20),
		float64(mosqRSS)/(1<<20), float64(mosqRSS)/float64(n)/1024, float64(used)/(1<<20), float64(used)/float64(n)/1024)

	mu.Lock()
	all := make([]mtp.Conn, 0, len(conns))
	for _, c := range conns {
		all = append(all, c)
	}
	mu.Unlock()
	codec := usp.Codec{LocalID: fbCtrl}
	for round := 1; round <= rounds; round++ {
		recs := make([][]byte, len(all))
		for i, c := range all {
			rec, err := codec.Seal(c.Info().Peer, usp.NewRequest("fan-"+strconv.Itoa(round), &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = rec
		}
		lat := make([]time.Duration, len(all))
		var answered atomic.Int64
		var rwg sync.WaitGroup
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
		t0 := time.Now()
		var lastAnswer atomic.Int64
		for i, c := range all {
			rwg.Go(func() {
				for {
					rec, err := c.Recv(rctx)
					if err != nil {
						return
					}
					in, err := codec.Open(rec)
					if err != nil || in.Msg.GetBody().GetResponse().GetGetResp() == nil || in.Msg.GetHeader().GetMsgId() != "fan-"+strconv.Itoa(round) {
						continue
					}
					d := time.Since(t0)
					lat[i] = d
					lastAnswer.Store(int64(d))
					if answered.Add(1) == int64(len(all)) {
						rcancel()
					}
					return
				}
			})
		}
		sent := make([]time.Duration, len(all))
		var swg sync.WaitGroup
		const senders = 256
		for s := range senders {
			swg.Go(func() {
				for i := s; i < len(all); i += senders {
					sent[i] = time.Since(t0)
					if err := all[i].Send(rctx, recs[i]); err != nil {
						return
					}
				}
			})
		}
		swg.Wait()
		sendAll := time.Since(t0)
		rwg.Wait()
		rcancel()
		var rtt []time.Duration
		for i, d := range lat {
			if d > 0 {
				rtt = append(rtt, d-sent[i])
			}
		}
		slices.Sort(rtt)
		pct := func(p int) time.Duration {
			if len(rtt) == 0 {
				return 0
			}
			return rtt[min(len(rtt)-1, (len(rtt)*p+99)/100-1)]
		}
		b.Logf("fan-out %d: %d of %d answered; sent in %.2f s, last answer %.2f s after the first Get; latency p50 %v p90 %v p99 %v max %v",
			round, answered.Load(), len(all), sendAll.Seconds(), time.Duration(lastAnswer.Load()).Seconds(),
			pct(50).Round(time.Millisecond), pct(90).Round(time.Millisecond), pct(99).Round(time.Millisecond), pct(100).Round(time.Millisecond))
		if round == rounds {
			b.ReportMetric(time.Duration(lastAnswer.Load()).Seconds(), "fanout-s")
			b.ReportMetric(float64(answered.Load()), "answered")
		}
	}
	b.ReportMetric(connectAll.Seconds(), "connect-s")
	b.ReportMetric(float64(workerRSS)/float64(n), "worker-rss-B/agent")
	b.ReportMetric(float64(used)/float64(n), "box-B/agent")
	b.ReportMetric(0, "ns/op")
	stopFleet()
	if s := stderr.String(); s != "" {
		b.Logf("the fleet's log:\n%s", s)
	}
}

func freeAddrB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// memUsed is the box's memory in use: MemTotal − MemAvailable, bytes.
func memUsed(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	v := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			v[strings.TrimSuffix(f[0], ":")] = n << 10
		}
	}
	return v["MemTotal"] - v["MemAvailable"]
}

// procRSS is process pid's resident set, bytes.
func procRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n << 10
		}
	}
	return 0
}

// childRSS is the summed resident set of the children of pid (of command
// comm, when not empty).
func childRSS(b *testing.B, pid int, comm string) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(stat[close+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) || (comm != "" && string(stat[open+1:close]) != comm) {
			continue
		}
		sum += procRSS(b, child)
	}
	return sum
}
