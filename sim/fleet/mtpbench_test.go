//go:build scale

package fleet_test

// BenchmarkMTPFleet: request/response throughput, latency and the cost of
// a connection for each MTP, with real brickyard devices (fleet.NewReal)
// and a controller in this process (docs/scale.md, "Throughput per MTP"):
//
//	go test -tags scale -count=1 -timeout 60m -run '^$' -bench MTPFleet -benchtime 1x ./sim/fleet/
//
// Without the race detector: 10,000 agents are tens of thousands of
// goroutines, and the race detector dies past 8,128.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/fdlimit"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/mtp/stomp"
	"brickyard/mtp/websocket"
	"brickyard/sim/device"
	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// TestMain stops the RabbitMQ that the stomp-rabbitmq benchmarks start
// (mtptest starts one per test binary). It is the package's only
// TestMain, and exists with the scale tag only: a TestMain added to
// another file of this package must take over mtptest.StopRabbitMQ.
func TestMain(m *testing.M) {
	code := m.Run()
	mtptest.StopRabbitMQ()
	os.Exit(code)
}

const (
	mbCtrlID = "proto::controller"
	mbParam  = "Device.DeviceInfo.SoftwareVersion"
	// mbRate is the agents' power-ons per second.
	mbRate = 2000
	// mbRequests is the Gets per agent in one round (one b.N).
	mbRequests = 20
	// mbWindow is the Gets outstanding per agent at most; mbGlobal in
	// all. The global window keeps every broker queue far from its
	// limit (mochi's 8,192 packets per client, the controller's
	// subscription above all).
	mbWindow = 4
	mbGlobal = 2048
	// mbSenders is the controller's sending goroutines.
	mbSenders = 256
	// mbReserve is the open files of this process besides the agents'
	// sockets (as the scale test's).
	mbReserve = 256
	// Bounds.
	mbConnectWait = 180 * time.Second
	mbStall       = 15 * time.Second // no response for that long ends a round
	mbRoundWait   = 10 * time.Minute
	mbStopWait    = 60 * time.Second
)

// mbTransport is one MTP with its broker.
type mbTransport struct {
	name  string
	mtp   string // device.Config.MTP
	files int    // open files per agent in this process
	// start starts the broker, if any, then the controller's listener and
	// the agents' dialer.
	start func(b *testing.B, tag string, src *mtp.Sources, logf func(string, ...any)) mbEnv
}

// mbEnv is a started transport.
type mbEnv struct {
	dialer    mtp.Dialer
	listener  mtp.Listener
	stop      func()             // stops the broker (after the listener closed)
	brokerPID func() (int, bool) // a broker in its own process
}

var mbTransports = []mbTransport{
	{name: "websocket", mtp: "WebSocket", files: 2, start: func(b *testing.B, _ string, src *mtp.Sources, logf func(string, ...any)) mbEnv {
		l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: mbCtrlID, Logf: logf})
		if err != nil {
			b.Fatal(err)
		}
		d, err := websocket.NewDialer(websocket.Config{URL: l.(*websocket.Listener).URL(), ControllerID: mbCtrlID, Sources: src, Logf: logf})
		if err != nil {
			l.Close()
			b.Fatal(err)
		}
		return mbEnv{dialer: d, listener: l, stop: func() {}}
	}},
	{name: "mqtt-embedded", mtp: "MQTT", files: 2, start: func(b *testing.B, _ string, src *mtp.Sources, logf func(string, ...any)) mbEnv {
		br, err := mqtt.NewEmbeddedBroker("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		if err := br.Start(); err != nil {
			b.Fatal(err)
		}
		return mbMQTT(b, mqtt.Config{Broker: br.URL(), ControllerID: mbCtrlID, Sources: src, Logf: logf},
			func() { _ = br.Stop() }, nil)
	}},
	{name: "mqtt-mosquitto", mtp: "MQTT", files: 1, start: func(b *testing.B, _ string, src *mtp.Sources, logf func(string, ...any)) mbEnv {
		m := mtptest.NewMosquitto(b)
		return mbMQTT(b, mqtt.Config{Broker: "tcp://" + m.Addr, ControllerID: mbCtrlID, Sources: src, Logf: logf},
			m.Stop, mosquittoPID)
	}},
	{name: "stomp-embedded", mtp: "STOMP", files: 2, start: func(b *testing.B, tag string, src *mtp.Sources, logf func(string, ...any)) mbEnv {
		br, err := stomp.NewEmbeddedBroker("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		return mbSTOMP(b, stomp.Config{Addr: br.Addr(), Sources: src, Logf: logf}, tag, func() { _ = br.Close() }, nil)
	}},
	{name: "stomp-rabbitmq", mtp: "STOMP", files: 1, start: func(b *testing.B, tag string, src *mtp.Sources, logf func(string, ...any)) mbEnv {
		// RabbitMQ's start binds its Erlang distribution port on every
		// address, which fails on a port that an earlier fleet's
		// connection (from another 127.x source) still holds in
		// TIME_WAIT: wait those 60 s out before the first start.
		if !mbRabbitUp && !mbLastStop.IsZero() {
			if wait := 61*time.Second - time.Since(mbLastStop); wait > 0 {
				b.Logf("waiting %v for the earlier fleets' ports to leave TIME_WAIT before RabbitMQ starts", wait.Round(time.Second))
				time.Sleep(wait)
			}
		}
		addr := mtptest.StartRabbitMQ(b) // shared by the binary; TestMain stops it
		mbRabbitUp = true
		return mbSTOMP(b, stomp.Config{Addr: addr, Login: "guest", Passcode: "guest", Sources: src, Logf: logf},
			tag, func() {}, mbRabbitPID)
	}},
}

func mbMQTT(b *testing.B, cfg mqtt.Config, stop func(), pid func() (int, bool)) mbEnv {
	// The controller subscribes before any agent connects: an agent's
	// mqtt_connect Record published before that is lost.
	l, err := mqtt.NewListener(cfg)
	if err != nil {
		stop()
		b.Fatal(err)
	}
	d, err := mqtt.NewDialer(cfg)
	if err != nil {
		l.Close()
		stop()
		b.Fatal(err)
	}
	return mbEnv{dialer: d, listener: l, stop: stop, brokerPID: pid}
}

func mbSTOMP(b *testing.B, cfg stomp.Config, tag string, stop func(), pid func() (int, bool)) mbEnv {
	// Destinations of this run's own: RabbitMQ is shared by the binary.
	cfg.ControllerID = mbCtrlID
	cfg.AgentDest = "/queue/mb-" + tag + "-agent-{eid}"
	cfg.ControllerDest = "/queue/mb-" + tag + "-controller"
	l, err := stomp.NewListener(cfg)
	if err != nil {
		stop()
		b.Fatal(err)
	}
	d, err := stomp.NewDialer(cfg)
	if err != nil {
		l.Close()
		stop()
		b.Fatal(err)
	}
	return mbEnv{dialer: d, listener: l, stop: stop, brokerPID: pid}
}

// mbRuns counts the fleets started, so that each gets source addresses of
// its own (127.0.<20+n>.1-4): the ports a fleet leaves in TIME_WAIT do not
// crowd the next one.
var mbRuns int

// mbLastStop is when the last fleet stopped; mbRabbitUp says that this
// binary's RabbitMQ has started.
var (
	mbLastStop time.Time
	mbRabbitUp bool
)

// BenchmarkMTPFleet runs, for each MTP and broker, N real devices (1,000
// and 10,000; BRICKYARD_MTPBENCH_AGENTS="n,m" for others), each on its own
// connection, and a controller in this process behind the transport's
// mtp.Listener. Once every agent is connected the controller sends each
// mbRequests Gets of Device.DeviceInfo.SoftwareVersion, at most mbWindow
// outstanding per agent and mbGlobal in all, and reports the responses per
// second, the latency, and what an idle connected agent costs this
// process (and an external broker). Where N agents do not fit under the
// open-file limit (2 files per agent with both ends in this process) it
// runs the largest round hundred that fits and names the sub-benchmark
// after it.
func BenchmarkMTPFleet(b *testing.B) {
	sizes := []int{1000, 10000}
	if v := os.Getenv("BRICKYARD_MTPBENCH_AGENTS"); v != "" {
		sizes = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("BRICKYARD_MTPBENCH_AGENTS=%q: want positive numbers, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	// Raise the soft limit to the hard one before any broker starts: a
	// broker inherits it.
	if _, err := fdlimit.Raise(); err != nil {
		b.Logf("fdlimit.Raise: %v", err)
	}
	for _, tr := range mbTransports {
		b.Run(tr.name, func(b *testing.B) {
			for _, want := range sizes {
				n, why := mbFit(want, tr.files)
				if n == 0 {
					b.Run(fmt.Sprintf("agents=%d", want), func(b *testing.B) { b.Skip(why) })
					continue
				}
				b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
					if n != want {
						b.Logf("%d agents do not fit: %s; running %d", want, why, n)
					}
					mbRun(b, tr, n)
				})
			}
		})
	}
}

// mbFit is how many of want agents of files open files each fit in this
// process now: want, or the largest round hundred that fits, with the
// reason.
func mbFit(want, files int) (int, string) {
	soft, _, err := fdlimit.Limit()
	if err != nil {
		return want, ""
	}
	open, _ := fdlimit.Count()
	p := fdlimit.Plan{Agents: want, PerAgent: files, Reserve: mbReserve, Open: open, Limit: int(min(soft, 1<<30))}
	fits, ok := p.Fit()
	if ok {
		return want, ""
	}
	return fits / 100 * 100, p.Err().Error()
}

// mbRun is one fleet of agents over tr: connect, b.N rounds of Gets,
// stop.
func mbRun(b *testing.B, tr mbTransport, agents int) {
	if err := fdlimit.Check(agents, tr.files, mbReserve); err != nil {
		b.Skip(err)
	}
	board, schema := fleet.Factory(b, "uboot-nor")
	mbRuns++
	tag := fmt.Sprintf("%d-%d", os.Getpid(), mbRuns)
	src, err := mtp.ParseSources(fmt.Sprintf("127.0.%d.1-127.0.%d.4", 20+mbRuns, 20+mbRuns))
	if err != nil {
		b.Fatal(err)
	}

	// Transport reports: all are counted, the first few kept and logged
	// on one line (a benchmark's log is cut after ten lines).
	var (
		reports  atomic.Int64
		reportMu sync.Mutex
		kept     []string
	)
	logf := func(format string, args ...any) {
		if reports.Add(1) <= 5 {
			reportMu.Lock()
			kept = append(kept, fmt.Sprintf(format, args...))
			reportMu.Unlock()
		}
	}
	logReports := func() {
		reportMu.Lock()
		defer reportMu.Unlock()
		if n := reports.Load(); n > 0 {
			b.Logf("transport reports: %d, the first: %s", n, strings.Join(kept, " | "))
		}
	}

	runtime.GC()
	gStart := runtime.NumGoroutine()
	env := tr.start(b, tag, src, logf)
	var ctrl *mbCtrl
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	ran := make(chan error, 1)
	started := false
	torn := false
	teardown := func() {
		if torn {
			return
		}
		torn = true
		cancelRun()
		if started {
			select {
			case err := <-ran:
				if err != nil {
					b.Errorf("Run: %v", err)
				}
			case <-time.After(mbStopWait):
				b.Errorf("Run did not return %v after its context ended", mbStopWait)
			}
		}
		if ctrl != nil {
			ctrl.stop(b)
		} else {
			env.listener.Close()
		}
		env.stop()
		mbLastStop = time.Now()
		logReports()
		mbNoLeaks(b, gStart)
	}
	defer teardown()

	debug.FreeOSMemory()
	s0 := mbTake(env.brokerPID)

	ids := make([]string, agents)
	index := make(map[string]int, agents)
	obs := &mbObserver{index: index, up: make([]atomic.Bool, agents)}
	r, err := fleet.NewReal(fleet.RealConfig{
		Seed: 369, ControllerID: mbCtrlID, Schema: schema,
		Boards: []fleet.BoardGroup{{Name: "uboot-nor", Factory: board, Count: agents}},
		Dialer: env.dialer, ConnectRate: mbRate, ConnectJitter: 100 * time.Millisecond,
		Device:  func(_ int, c *device.Config) { c.MTP = tr.mtp },
		Observe: fleet.Observer{Link: obs.link},
	})
	if err != nil {
		b.Fatal(err)
	}
	for n := range ids {
		ids[n] = r.ID(n)
		index[ids[n]] = n
	}
	ctrl = newMBCtrl(env.listener, ids, index)

	start := time.Now()
	started = true
	go func() { ran <- r.Run(runCtx) }()

	// Every agent is up (its device saw the session open) and the
	// controller holds one session for each.
	state := func() string {
		return fmt.Sprintf("%d of %d agents up (%d link failures, %d sessions lost); controller: %s; transport reports %d",
			obs.count.Load(), agents, obs.fails.Load(), obs.downs.Load(), ctrl.summary(), reports.Load())
	}
	for deadline := start.Add(mbConnectWait); obs.count.Load() != int64(agents) || ctrl.up.Load() != int64(agents); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("not every agent connected within %v: %s", mbConnectWait, state())
		}
	}
	connected := time.Since(start)
	// The handshakes' goroutines return, the dust settles.
	time.Sleep(time.Second)
	debug.FreeOSMemory()
	s1 := mbTake(env.brokerPID)
	b.Logf("%d agents connected in %v (power-ons at %d/s); %s", agents, connected.Round(time.Millisecond), mbRate, state())

	var all mbRound
	b.ResetTimer()
	for i := range b.N {
		rd := ctrl.round(i, mbRequests, mbWindow, mbGlobal)
		all.add(rd)
		if rd.stalled != "" {
			b.Logf("round %d: %s", i, rd.stalled)
		}
	}
	b.StopTimer()
	debug.FreeOSMemory()
	s2 := mbTake(env.brokerPID)

	want := int64(b.N) * int64(agents) * mbRequests
	slices.Sort(all.lat)
	pct := func(p float64) float64 {
		if len(all.lat) == 0 {
			return 0
		}
		return float64(all.lat[int(p*float64(len(all.lat)-1))]) / float64(time.Millisecond)
	}
	rate := 0.0
	if all.elapsed > 0 {
		rate = float64(all.got) / all.elapsed.Seconds()
	}
	per := func(a, b0 uint64) float64 { return (float64(a) - float64(b0)) / float64(agents) }

	b.ReportMetric(float64(agents), "agents")
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(want-all.got), "lost")
	b.ReportMetric(connected.Seconds(), "connect-s")
	b.ReportMetric(per(s1.heap, s0.heap), "heap-B/agent")
	b.ReportMetric(per(s1.stack, s0.stack), "stack-B/agent")
	b.ReportMetric(per(s1.rss, s0.rss), "rss-B/agent")
	b.ReportMetric(float64(s1.goroutines-s0.goroutines)/float64(agents), "goroutines/agent")
	b.ReportMetric(float64(s1.files-s0.files)/float64(agents), "files/agent")
	if s1.brokerOK && s0.brokerOK {
		b.ReportMetric(per(s1.brokerRSS, s0.brokerRSS), "broker-rss-B/agent")
	}
	b.Logf("requests: %d wanted, %d sent, %d answered (%d send errors, %d duplicate, %d without the value) in %v: %.0f/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
		want, all.sent, all.got, all.sendErrs, all.dups, all.bad, all.elapsed.Round(time.Millisecond), rate, pct(0.5), pct(0.9), pct(0.99), pct(1))
	b.Logf("idle, connected, per agent: heap %.1f KiB, stacks %.1f KiB, RSS %.1f KiB, %.2f goroutines (%d → %d), %.2f open files (%d → %d)",
		per(s1.heap, s0.heap)/1024, per(s1.stack, s0.stack)/1024, per(s1.rss, s0.rss)/1024,
		float64(s1.goroutines-s0.goroutines)/float64(agents), s0.goroutines, s1.goroutines,
		float64(s1.files-s0.files)/float64(agents), s0.files, s1.files)
	b.Logf("after the rounds, per agent: heap %.1f KiB, stacks %.1f KiB, RSS %.1f KiB; process RSS %.0f MiB, peak %.0f MiB",
		per(s2.heap, s0.heap)/1024, per(s2.stack, s0.stack)/1024, per(s2.rss, s0.rss)/1024, float64(s2.rss)/(1<<20), float64(s2.hwm)/(1<<20))
	if s1.brokerOK {
		b.Logf("broker process: RSS %.1f MiB → %.1f MiB (%.1f KiB per agent), %d → %d open files; after the rounds RSS %.1f MiB",
			float64(s0.brokerRSS)/(1<<20), float64(s1.brokerRSS)/(1<<20), per(s1.brokerRSS, s0.brokerRSS)/1024, s0.brokerFiles, s1.brokerFiles, float64(s2.brokerRSS)/(1<<20))
	}
	b.Logf("at the end: %s; the fleet ran %v", state(), time.Since(start).Round(time.Millisecond))
	teardown()
}

// ---- the controller ----

// mbCtrl accepts the agents' sessions (one goroutine each, which reads
// the session) and sends the rounds of Gets.
type mbCtrl struct {
	l     mtp.Listener
	ids   []string
	index map[string]int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []mtp.Conn // the newest session per agent

	live     []atomic.Int32
	up       atomic.Int64 // agents with a live session
	sessions atomic.Int64 // accepted
	extra    atomic.Int64 // a second live session for an agent
	foreign  atomic.Int64 // sessions of unknown agents
	other    atomic.Int64 // Records that answer no Get of the current round
	ph       atomic.Pointer[mbPhase]
	acceptEr atomic.Pointer[string]
}

func newMBCtrl(l mtp.Listener, ids []string, index map[string]int) *mbCtrl {
	c := &mbCtrl{l: l, ids: ids, index: index, conns: make([]mtp.Conn, len(ids)), live: make([]atomic.Int32, len(ids))}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Go(func() {
		for {
			conn, err := l.Accept(c.ctx)
			if err != nil {
				if c.ctx.Err() == nil {
					s := err.Error()
					c.acceptEr.Store(&s)
				}
				return
			}
			c.wg.Go(func() { c.serve(conn) })
		}
	})
	return c
}

func (c *mbCtrl) serve(conn mtp.Conn) {
	defer conn.Close()
	a, ok := c.index[conn.Info().Peer]
	if !ok {
		c.foreign.Add(1)
		return
	}
	c.sessions.Add(1)
	c.mu.Lock()
	c.conns[a] = conn
	c.mu.Unlock()
	switch c.live[a].Add(1) {
	case 1:
		c.up.Add(1)
	default:
		c.extra.Add(1)
	}
	defer func() {
		if c.live[a].Add(-1) == 0 {
			c.up.Add(-1)
		}
		c.mu.Lock()
		if c.conns[a] == conn {
			c.conns[a] = nil
		}
		c.mu.Unlock()
	}()
	codec := usp.Codec{LocalID: mbCtrlID}
	for {
		rec, err := conn.Recv(c.ctx)
		if err != nil {
			return
		}
		now := time.Now()
		ph := c.ph.Load()
		in, err := codec.Open(rec)
		if ph == nil || err != nil || in.Msg == nil {
			c.other.Add(1) // the binding's Connect Record, among others
			continue
		}
		id := in.Msg.GetHeader().GetMsgId()
		gr := in.Msg.GetBody().GetResponse().GetGetResp()
		rest, ours := strings.CutPrefix(id, ph.prefix)
		n, err := strconv.Atoi(rest)
		if gr == nil || !ours || err != nil || n < 0 || n >= ph.perAgent {
			c.other.Add(1)
			continue
		}
		ph.answer(a, n, now, mbHasValue(gr))
	}
}

// mbHasValue: the GetResp carries the one parameter asked for.
func mbHasValue(gr *pb.GetResp) bool {
	rs := gr.GetReqPathResults()
	if len(rs) != 1 || rs[0].GetErrCode() != 0 || len(rs[0].GetResolvedPathResults()) != 1 {
		return false
	}
	return rs[0].GetResolvedPathResults()[0].GetResultParams()["SoftwareVersion"] != ""
}

func (c *mbCtrl) conn(a int) mtp.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns[a]
}

// mbPhase is one round of Gets.
type mbPhase struct {
	prefix   string
	perAgent int
	start    time.Time
	total    int64

	sentAt []atomic.Int64 // agent·perAgent + n: since start, +1 (0: not sent)
	recvAt []atomic.Int64 // the same for the response
	next   []atomic.Int32 // per agent: the next request number
	ready  chan int32     // one entry per request an agent may have outstanding
	tokens chan struct{}  // the global window

	got, sent, sendErrs, dups, bad atomic.Int64
	last                           atomic.Int64 // since start: the latest response
	done                           chan struct{}
}

func (ph *mbPhase) answer(a, n int, now time.Time, ok bool) {
	at := int64(now.Sub(ph.start)) + 1
	if !ph.recvAt[a*ph.perAgent+n].CompareAndSwap(0, at) {
		ph.dups.Add(1)
		return
	}
	if !ok {
		ph.bad.Add(1)
	}
	select {
	case <-ph.tokens:
	default:
	}
	for l := ph.last.Load(); at > l && !ph.last.CompareAndSwap(l, at); l = ph.last.Load() {
	}
	select {
	case ph.ready <- int32(a): // never blocks: see round
	default:
	}
	if ph.got.Add(1) == ph.total {
		close(ph.done)
	}
}

// mbRound is what rounds measured.
type mbRound struct {
	sent, got, sendErrs, dups, bad int64
	elapsed                        time.Duration
	lat                            []time.Duration
	stalled                        string
}

func (r *mbRound) add(o mbRound) {
	r.sent += o.sent
	r.got += o.got
	r.sendErrs += o.sendErrs
	r.dups += o.dups
	r.bad += o.bad
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
}

// round sends every agent perAgent Gets, at most window outstanding per
// agent and global in all, and waits for the answers: all of them, or
// until none came for mbStall, or mbRoundWait.
//
// An agent holds window entries in ready or outstanding at any time (a
// sender takes an entry and sends; the answer puts it back), so ready,
// sized agents·window, never blocks the sessions' readers; the senders
// alone wait, for the global window.
func (c *mbCtrl) round(i, perAgent, window, global int) mbRound {
	agents := len(c.ids)
	ph := &mbPhase{prefix: fmt.Sprintf("mb%d-", i), perAgent: perAgent, total: int64(agents * perAgent),
		sentAt: make([]atomic.Int64, agents*perAgent), recvAt: make([]atomic.Int64, agents*perAgent),
		next: make([]atomic.Int32, agents), ready: make(chan int32, agents*window),
		tokens: make(chan struct{}, global), done: make(chan struct{})}
	for range window {
		for a := range agents {
			ph.ready <- int32(a)
		}
	}
	codec := usp.Codec{LocalID: mbCtrlID}
	ctx, cancel := context.WithTimeout(c.ctx, mbRoundWait)
	defer cancel()
	ph.start = time.Now()
	c.ph.Store(ph)
	var senders sync.WaitGroup
	for range mbSenders {
		senders.Go(func() {
			for {
				var a int32
				select {
				case a = <-ph.ready:
				case <-ctx.Done():
					return
				}
				n := int(ph.next[a].Add(1)) - 1
				if n >= perAgent {
					continue
				}
				select {
				case ph.tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				conn := c.conn(int(a))
				rec, err := codec.Seal(c.ids[a], usp.NewRequest(ph.prefix+strconv.Itoa(n), &pb.Get{ParamPaths: []string{mbParam}}))
				if conn == nil || err != nil {
					ph.sendErrs.Add(1)
					<-ph.tokens
					continue
				}
				ph.sentAt[int(a)*perAgent+n].Store(int64(time.Since(ph.start)) + 1)
				if err := conn.Send(ctx, rec); err != nil {
					ph.sendErrs.Add(1)
					select {
					case <-ph.tokens:
					default:
					}
					continue
				}
				ph.sent.Add(1)
			}
		})
	}
	var stalled string
	progress, lastGot := time.Now(), int64(0)
	tick := time.NewTicker(100 * time.Millisecond)
wait:
	for {
		select {
		case <-ph.done:
			break wait
		case <-ctx.Done():
			stalled = fmt.Sprintf("not every answer within %v", mbRoundWait)
			break wait
		case <-tick.C:
			if g := ph.got.Load(); g != lastGot {
				progress, lastGot = time.Now(), g
			} else if time.Since(progress) > mbStall {
				stalled = fmt.Sprintf("no answer for %v: %d of %d answered, %d sent, %d send errors, %d outstanding",
					mbStall, g, ph.total, ph.sent.Load(), ph.sendErrs.Load(), len(ph.tokens))
				break wait
			}
		}
	}
	tick.Stop()
	cancel()
	senders.Wait()
	out := mbRound{sent: ph.sent.Load(), got: ph.got.Load(), sendErrs: ph.sendErrs.Load(), dups: ph.dups.Load(),
		bad: ph.bad.Load(), elapsed: time.Duration(ph.last.Load()), stalled: stalled}
	out.lat = make([]time.Duration, 0, out.got)
	for k := range ph.recvAt {
		if r, s := ph.recvAt[k].Load(), ph.sentAt[k].Load(); r != 0 && s != 0 {
			out.lat = append(out.lat, time.Duration(r-s))
		}
	}
	return out
}

func (c *mbCtrl) summary() string {
	s := fmt.Sprintf("%d agents with a live session, %d sessions accepted, %d second sessions, %d foreign, %d other Records",
		c.up.Load(), c.sessions.Load(), c.extra.Load(), c.foreign.Load(), c.other.Load())
	if e := c.acceptEr.Load(); e != nil {
		s += "; Accept: " + *e
	}
	if ml, ok := c.l.(*mqtt.Listener); ok {
		st := ml.Stats()
		s += fmt.Sprintf("; mqtt: %d Records, %d dropped, %d malformed, %d foreign", st.Records, st.Dropped, st.Malformed, st.Foreign)
	}
	return s
}

// stop ends the controller: the listener closes, and every goroutine it
// started has ended (bounded).
func (c *mbCtrl) stop(b *testing.B) {
	c.cancel()
	c.l.Close()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(mbStopWait):
		b.Errorf("the controller's goroutines did not end %v after it stopped", mbStopWait)
	}
}

// ---- the agents' side ----

// mbObserver counts the agents whose session is up, as their devices see it.
type mbObserver struct {
	index map[string]int
	up    []atomic.Bool
	count atomic.Int64
	fails atomic.Int64
	downs atomic.Int64
}

func (o *mbObserver) link(id string, ev fleet.LinkEvent, _ error, _ time.Time) {
	a, ok := o.index[id]
	if !ok {
		return
	}
	switch ev {
	case fleet.LinkUp:
		if !o.up[a].Swap(true) {
			o.count.Add(1)
		}
	case fleet.LinkDown:
		o.downs.Add(1)
		if o.up[a].Swap(false) {
			o.count.Add(-1)
		}
	case fleet.LinkFail:
		o.fails.Add(1)
	}
}

// ---- figures ----

// mbSample is the process's (and an external broker's) figures at one
// moment.
type mbSample struct {
	heap, stack, rss, hwm uint64
	goroutines, files     int
	brokerRSS             uint64
	brokerFiles           int
	brokerOK              bool
}

func mbTake(brokerPID func() (int, bool)) mbSample {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := mbSample{heap: m.HeapInuse, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
	s.files, _ = fdlimit.Count()
	s.rss, s.hwm = mbProcMem("self")
	if brokerPID != nil {
		if pid, ok := brokerPID(); ok {
			s.brokerRSS, _ = mbProcMem(strconv.Itoa(pid))
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				s.brokerFiles = len(ents)
			}
			s.brokerOK = s.brokerRSS > 0
		}
	}
	return s
}

// mbProcMem is VmRSS and VmHWM of /proc/<pid>/status, in bytes.
func mbProcMem(pid string) (rss, hwm uint64) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		for key, dst := range map[string]*uint64{"VmRSS:": &rss, "VmHWM:": &hwm} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				*dst = kb * 1024
			}
		}
	}
	return rss, hwm
}

// mbRabbitPID finds the Erlang VM of the RabbitMQ server this process
// started: mtptest names its node rabbit-<our pid>-<port> in the
// environment (rabbitmq-plugins and rabbitmqctl run a VM of their own,
// without "-s rabbit boot").
func mbRabbitPID() (int, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	node := fmt.Sprintf("RABBITMQ_NODENAME=rabbit-%d-", os.Getpid())
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		exe, _, _ := strings.Cut(string(cmd), "\x00")
		if !strings.HasSuffix(exe, "beam.smp") || !strings.Contains(string(cmd), "\x00rabbit\x00boot\x00") {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && strings.Contains(string(env), node) {
			return pid, true
		}
	}
	return 0, false
}

// mbNoLeaks waits (bounded) until the goroutines are back to n, give or
// take a few, and fails with the largest groups by creator otherwise.
func mbNoLeaks(b *testing.B, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > n+5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	g := runtime.NumGoroutine()
	if g <= n+5 {
		return
	}
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	by := map[string]int{}
	for st := range strings.SplitSeq(string(buf), "\n\n") {
		_, creator, ok := strings.Cut(st, "\ncreated by ")
		if !ok {
			creator = "?"
		}
		creator, _, _ = strings.Cut(creator, "\n")
		by[creator]++
	}
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, v := range by {
		top = append(top, kv{k, v})
	}
	slices.SortFunc(top, func(x, y kv) int { return y.v - x.v })
	var lines []string
	for _, e := range top[:min(len(top), 8)] {
		lines = append(lines, fmt.Sprintf("%6d created by %s", e.v, e.k))
	}
	b.Errorf("%d goroutines left (before the broker and the fleet: %d):\n%s", g, n, strings.Join(lines, "\n"))
}
