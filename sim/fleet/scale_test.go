//go:build scale

package fleet_test

// The scale test: `make scale` (go test -tags scale -count=1 -timeout 20m
// -run . ./sim/fleet/), without the race detector, which dies past 8,128
// live goroutines. docs/scale.md has the figures it logs.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	"brickyard/sim/device"
	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const (
	scaleCtrlID = "proto::controller"
	// scaleReserve is the open files of this process besides the agents'
	// sockets: the controller's broker connection, the Go runtime's
	// epoll and pipes, the test binary's own files, slack.
	scaleReserve = 256
	// scaleRate is the agents' power-ons per second at the start.
	scaleRate = 1000
	// Bounds of the waits.
	scaleConnectWait   = 120 * time.Second
	scaleSubscribeWait = 30 * time.Second
	scaleOutage        = time.Second // how long the broker is down; BRICKYARD_SCALE_OUTAGE
	scaleRecoverWait   = 120 * time.Second
	scaleProbeWait     = 60 * time.Second
	scaleStopWait      = 60 * time.Second
)

// TestScaleMQTTBrokerRestart: BRICKYARD_SCALE_AGENTS agents (default
// 5,000), each with its own MQTT connection to Debian's mosquitto, and the
// controller in this process behind an mqtt.Listener. Every agent
// connects; the broker is stopped and started again on the same port;
// every agent comes back after TR-369's randomized retry wait, spread over
// seconds (no thundering herd), and the controller ends with exactly one
// live session per agent, each answering a Get.
func TestScaleMQTTBrokerRestart(t *testing.T) {
	agents := 5000
	if v := os.Getenv("BRICKYARD_SCALE_AGENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("BRICKYARD_SCALE_AGENTS=%q: want a positive number", v)
		}
		agents = n
	}
	outage := scaleOutage
	if v := os.Getenv("BRICKYARD_SCALE_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			t.Fatalf("BRICKYARD_SCALE_OUTAGE=%q: want a duration", v)
		}
		outage = d
	}
	// One socket per agent here; the broker holds one more per agent in
	// its own process, under the same limit (it inherits the raised one:
	// fdlimit.Raise runs before the broker starts).
	if err := fdlimit.Check(agents, 1, scaleReserve); err != nil {
		t.Fatal(err)
	}
	broker := mtptest.NewMosquitto(t)
	checkBrokerLimit(t, agents)

	// Several source addresses (docs/scale.md): each (source, broker
	// address) pair has only the ephemeral port range, 28,232 ports; two
	// up to 20,000 agents, one more per 10,000.
	nsrc := max(2, (agents+9999)/10000)
	sources, err := mtp.ParseSources(fmt.Sprintf("127.0.1.1-127.0.1.%d", nsrc))
	if err != nil {
		t.Fatal(err)
	}
	var mqttReports atomic.Int64 // dropped Records, as mqtt reports them
	mcfg := mqtt.Config{
		Broker: "tcp://" + broker.Addr, ControllerID: scaleCtrlID, Sources: sources,
		Logf: func(format string, args ...any) {
			if mqttReports.Add(1) <= 20 {
				t.Logf(format, args...)
			}
		},
	}
	dialer, err := mqtt.NewDialer(mcfg)
	if err != nil {
		t.Fatal(err)
	}

	board, schema := fleet.Factory(t, "uboot-nor")
	runtime.GC()
	m0, s0 := heapInUse(), stackInUse()
	g0 := runtime.NumGoroutine()
	open0, _ := fdlimit.Count()

	logs := newLinkLog()
	r, err := fleet.NewReal(fleet.RealConfig{
		Seed: 369, ControllerID: scaleCtrlID, Schema: schema,
		Boards:      []fleet.BoardGroup{{Name: "uboot-nor", Factory: board, Count: agents}},
		Dialer:      dialer,
		ConnectRate: scaleRate, ConnectJitter: 100 * time.Millisecond,
		Device: func(_ int, c *device.Config) { c.MTP = "MQTT" },
		Log:    logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, r.Len())
	for n := range ids {
		ids[n] = r.ID(n)
	}
	runtime.GC()
	mCores := heapInUse()

	// Peak goroutines, sampled.
	var peakG atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	defer func() { stopSampling(); sampler.Wait() }()

	ctrl := newScaleCtrl(t, mcfg)
	defer ctrl.stop()
	// The controller subscribes before any agent connects: an agent's
	// mqtt_connect Record published before that finds no subscriber and
	// is lost, and an idle agent sends nothing else.
	for deadline := time.Now().Add(scaleSubscribeWait); !ctrl.listeningSince(time.Time{}); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the controller did not subscribe within %v: %s", scaleSubscribeWait, ctrl.summary(ids))
		}
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	start := time.Now()
	go func() { ran <- r.Run(runCtx) }()
	running := true
	stopRun := func() {
		if !running {
			return
		}
		running = false
		cancelRun()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(scaleStopWait):
			t.Errorf("Run did not return %v after its context ended", scaleStopWait)
		}
	}
	defer stopRun()

	waitFor := func(what string, bound time.Duration, cond func() bool, state func() string) time.Duration {
		t.Helper()
		t0 := time.Now()
		deadline := t0.Add(bound)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v: %s", what, bound, state())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(t0)
	}
	everyoneUp := func(since time.Time) func() bool {
		return func() bool {
			return logs.upCount() == len(ids) && ctrl.allLiveOnce(ids, since) && logs.allUpSince(ids, since)
		}
	}
	state := func() string {
		return fmt.Sprintf("%d of %d agents up; controller: %s; agents missing at the controller: %v",
			logs.upCount(), len(ids), ctrl.summary(ids), ctrl.missing(ids, 5))
	}

	// 1. Every agent connects, and the controller has one session for each.
	waitFor("every agent connected", scaleConnectWait, everyoneUp(time.Time{}), state)
	connectAll := time.Since(start)
	// The restart below hits an idle fleet: the Campaign's subscriptions
	// are all acknowledged.
	waitFor("every agent acknowledged the Campaign's subscriptions", scaleConnectWait, func() bool { return ctrl.settled(ids) }, state)
	settled := time.Since(start)
	runtime.GC()
	m1, s1 := heapInUse(), stackInUse()
	g1 := runtime.NumGoroutine()
	open1, _ := fdlimit.Count()
	t.Logf("%d agents connected in %v, their subscriptions acknowledged in %v (power-ons at %d/s: %v); controller: %s",
		len(ids), connectAll.Round(time.Millisecond), settled.Round(time.Millisecond), scaleRate, time.Duration(float64(len(ids))/scaleRate*float64(time.Second)), ctrl.summary(ids))
	t.Logf("heap in use: %.1f KiB per agent (%.1f KiB built, %.1f KiB more running and connected, the controller's state included); goroutine stacks %.1f KiB per agent; goroutines %d → %d (%.1f per agent); open files %d → %d (%.2f per agent)",
		perAgent(m1-m0, len(ids)), perAgent(mCores-m0, len(ids)), perAgent(m1-mCores, len(ids)), perAgent(s1-s0, len(ids)),
		g0, g1, float64(g1-g0)/float64(len(ids)), open0, open1, float64(open1-open0)/float64(len(ids)))
	if rss, fds, ok := brokerFigures(); ok {
		t.Logf("mosquitto: RSS %.1f MiB (%.1f KiB per agent), %d open files", float64(rss)/(1<<20), float64(rss)/1024/float64(len(ids)), fds)
	}

	// 2. The broker restarts on the same port. It is down for
	// scaleOutage (BRICKYARD_SCALE_OUTAGE): shorter than TR-369's minimum
	// retry wait (5 s), the controller, which tries again at once,
	// subscribes before any agent's first retry; longer, agents reconnect
	// first and their mqtt_connect Records find no subscriber, and the
	// controller's next Listener resumes them (mqtt.Handover).
	stopAt := time.Now()
	broker.Stop()
	time.Sleep(outage)
	broker.Start()
	startedAt := time.Now()
	checkBrokerLimit(t, agents)
	resub := waitFor("the controller subscribed again", scaleSubscribeWait, func() bool { return ctrl.listeningSince(startedAt) }, state)
	t.Logf("broker stopped, started again %v later; the controller subscribed again %v after the start",
		startedAt.Sub(stopAt).Round(time.Millisecond), resub.Round(time.Millisecond))

	// 3. Every agent is back: one live session each at the controller,
	// opened after the restart, none missing, none duplicated.
	recoverIn := waitFor("every agent back after the restart", scaleRecoverWait, everyoneUp(stopAt), state)
	recovered := time.Since(stopAt)
	// Still so a second later: no session flaps, no late duplicate.
	time.Sleep(time.Second)
	if !everyoneUp(stopAt)() {
		t.Fatalf("a second after recovery: %s", state())
	}
	open2, _ := fdlimit.Count()
	g2 := runtime.NumGoroutine()
	t.Logf("every agent back %v after the broker stopped (%v after the wait began); controller: %s; goroutines %d, open files %d (before the restart %d, %d)",
		recovered.Round(time.Millisecond), recoverIn.Round(time.Millisecond), ctrl.summary(ids), g2, open2, g1, open1)
	if open2 > open1+32 {
		t.Errorf("open files went from %d before the restart to %d after it: sessions leak", open1, open2)
	}

	logLossDetection(t, logs, ids, stopAt)

	// 4. Each session works both ways: the controller's Get reaches every
	// agent on its new session and the GetResp comes back.
	ctrl.probe(ids)
	probeIn := waitFor("every agent answered the controller's Get", scaleProbeWait, func() bool { return ctrl.probed(ids) }, func() string {
		return fmt.Sprintf("%s; %d probe sends failed", ctrl.summary(ids), ctrl.probeSendErrs.Load())
	})
	t.Logf("every agent answered a Get on its new session within %v", probeIn.Round(time.Millisecond))

	// 5. Reconnects: every agent reconnected at least once, spread over
	// time (the retry wait is randomized), and the controller's count
	// per agent agrees.
	checkReconnects(t, logs, ctrl, ids, stopAt)
	// 6. The waits follow TR-369's formula.
	checkRetryWaits(t, logs, ids)

	// 7. Everything stops: Run returns, the controller and its listener
	// close, the broker stops.
	stopRun()
	ctrl.stop()
	broker.Stop()
	stopSampling()
	sampler.Wait()
	t.Logf("peak goroutines %d (%.1f per agent); controller: %s; mqtt reported drops %d times",
		peakG.Load(), float64(peakG.Load())/float64(len(ids)), ctrl.summary(ids), mqttReports.Load())
	if e := ctrl.campErrors(); e != 0 {
		t.Errorf("the campaign controller counted %d errors", e)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > g0+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > g0+5 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left (before the fleet: %d):\n%s", g, g0, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// checkReconnects: every agent's first link-up after the broker stopped,
// as the agents log it and as the controller accepted it.
func checkReconnects(t *testing.T, logs *linkLog, ctrl *scaleCtrl, ids []string, stopAt time.Time) {
	t.Helper()
	var agentSide []time.Duration
	total := 0
	for _, id := range ids {
		ups := logs.ups(id)
		after := 0
		for _, at := range ups {
			if !at.Before(stopAt) {
				if after == 0 {
					agentSide = append(agentSide, at.Sub(stopAt))
				}
				after++
			}
		}
		if after == 0 {
			t.Errorf("%s: no link-up after the restart (link-ups %v)", id, ups)
		}
		total += after
		if a := ctrl.acceptsSince(id, stopAt); a < 1 {
			t.Errorf("%s: the controller accepted no session after the restart", id)
		}
		if c := ctrl.accepts(id); c < 2 {
			t.Errorf("%s: the controller accepted %d sessions in all, want at least 2", id, c)
		}
	}
	if len(agentSide) == 0 {
		return
	}
	slices.Sort(agentSide)
	pct := func(p float64) time.Duration {
		return agentSide[int(p*float64(len(agentSide)-1))].Round(time.Millisecond)
	}
	buckets := map[time.Duration]int{}
	peak := 0
	for _, d := range agentSide {
		b := d.Truncate(100 * time.Millisecond)
		buckets[b]++
		peak = max(peak, buckets[b])
	}
	t.Logf("reconnects after the broker stopped: %d (%.2f per agent); first link-up per agent p0 %v p10 %v p50 %v p90 %v p100 %v; %d 100-ms buckets, the fullest holds %d (%.1f%%)",
		total, float64(total)/float64(len(ids)), pct(0), pct(0.1), pct(0.5), pct(0.9), pct(1),
		len(buckets), peak, 100*float64(peak)/float64(len(agentSide)))
	// Loose on purpose: the retry wait spreads them over seconds; a
	// thundering herd would put most in one bucket.
	if len(agentSide) >= 10 {
		if spread := agentSide[len(agentSide)-1] - agentSide[0]; spread <= time.Second {
			t.Errorf("the reconnects are spread over %v only: a thundering herd", spread)
		}
		if peak*4 > len(agentSide) {
			t.Errorf("%d of %d reconnects in one 100-ms bucket: a thundering herd", peak, len(agentSide))
		}
	}
}

// logLossDetection logs how long after the broker stopped each agent
// noticed (its link-down).
func logLossDetection(t *testing.T, logs *linkLog, ids []string, stopAt time.Time) {
	t.Helper()
	var ds []time.Duration
	for _, id := range ids {
		for _, e := range logs.events(id) {
			if e.kind == kLinkDown && !e.at.Before(stopAt) {
				ds = append(ds, e.at.Sub(stopAt))
				break
			}
		}
	}
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	late := 0
	for _, d := range ds {
		if d > time.Second {
			late++
		}
	}
	pct := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1))].Round(time.Millisecond) }
	t.Logf("agents noticed the broker go after p50 %v p90 %v p99 %v p100 %v; %d of %d after more than a second",
		pct(0.5), pct(0.9), pct(0.99), pct(1), late, len(ds))
}

// checkRetryWaits reads each agent's attempts from the fleet's event log:
// after the session is lost ("disconnected") or an attempt fails
// ("link-fail"), attempt n ends (link-up or link-fail) no sooner than the
// lower end of usp.RetryWait's range n, and no later than its upper end
// plus the time a dial may take. Where the first retries are many, their
// position within [5 s, 10 s] must look uniform, loosely.
func checkRetryWaits(t *testing.T, logs *linkLog, ids []string) {
	t.Helper()
	const (
		early = 50 * time.Millisecond // the log's wall-clock stamps may step back a little
		late  = 11 * time.Second      // mqtt's DialTimeout (10 s), and a scheduling second
	)
	lo := func(n int) time.Duration { return rangeOf(n, false) }
	hi := func(n int) time.Duration { return rangeOf(n, true) }
	var first []float64 // retry 1: where in its range, 0..1 (a dial's time added)
	checked, bad := 0, 0
	perN := map[int]int{}
	for _, id := range ids {
		var from time.Time
		n := 0 // the next attempt is retry n; 0: not retrying
		for _, e := range logs.events(id) {
			switch e.kind {
			case kDisconnected:
				from, n = e.at, 1
			case kLinkFail, kLinkUp:
				if n > 0 {
					d := e.at.Sub(from)
					checked++
					perN[n]++
					if d < lo(n)-early || d > hi(n)+late {
						bad++
						if bad <= 10 {
							t.Errorf("%s: retry %d came %v after the loss or the failed attempt before it, want %v–%v (+ a dial)", id, n, d, lo(n), hi(n))
						}
					}
					if n == 1 {
						first = append(first, float64(d-lo(1))/float64(hi(1)-lo(1)))
					}
				}
				if e.kind == kLinkUp {
					n = 0
				} else {
					from, n = e.at, n+1
				}
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d retry waits out of their range in all", bad)
	}
	t.Logf("retry waits checked: %d (by retry number: %v)", checked, perN)
	if len(first) < 100 {
		return
	}
	slices.Sort(first)
	var q [4]int
	for _, u := range first {
		q[min(3, max(0, int(u*4)))]++
	}
	t.Logf("first retries within their range (0 = 5 s, 1 = 10 s): p10 %.2f p50 %.2f p90 %.2f; quarters %v",
		first[len(first)/10], first[len(first)/2], first[len(first)*9/10], q)
	for i, c := range q {
		if c*10 < len(first) { // uniform puts 25% in each quarter
			t.Errorf("first retries: %d of %d in quarter %d of the range: not uniform", c, len(first), i+1)
		}
	}
}

// rangeOf is the lower or upper end of TR-369's retry range n with the
// defaults the device uses: 5 s · 2^(n−1) … 5 s · 2^n, the 10th range
// repeated after it (usp.RetryWait).
func rangeOf(n int, upper bool) time.Duration {
	n = max(1, min(n, 10))
	if upper {
		n++
	}
	return usp.DefaultRetryMinimumWait * time.Duration(1<<(n-1)) * time.Duration(usp.DefaultRetryIntervalMultiplier) / 2000
}

// ---- the controller side ----

// scaleCtrl serves a fleet.Campaign behind an mqtt.Listener and makes a
// new Listener whenever the broker connection ends (reconnecting is the
// caller's job). It counts, per agent, the sessions accepted and the live
// ones.
type scaleCtrl struct {
	t   *testing.T
	cfg mqtt.Config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	camp      *fleet.Campaign
	live      map[string]int         // sessions whose Recv has not failed yet
	conns     map[string]mtp.Conn    // the newest live session
	acceptAt  map[string][]time.Time // when each session was accepted
	probes    map[string]int         // GetResp to the probe
	added     map[string]int         // AddResp: the Campaign's subscriptions acknowledged
	listeners int                    // Listeners made
	stats     mqtt.Stats             // of the closed Listeners
	cur       *mqtt.Listener         // the current one
	listenErr string                 // the last NewListener failure
	listenAt  time.Time              // when the current Listener subscribed

	probeSendErrs atomic.Int64
	stopOnce      sync.Once
}

func newScaleCtrl(t *testing.T, cfg mqtt.Config) *scaleCtrl {
	cfg.Handover = mqtt.NewHandover() // every Listener after an outage resumes the agents of the one before
	c := &scaleCtrl{t: t, cfg: cfg, camp: &fleet.Campaign{ID: cfg.ControllerID},
		live: map[string]int{}, conns: map[string]mtp.Conn{}, acceptAt: map[string][]time.Time{}, probes: map[string]int{}, added: map[string]int{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Go(c.run)
	return c
}

func (c *scaleCtrl) run() {
	for c.ctx.Err() == nil {
		ml, err := mqtt.NewListener(c.cfg)
		if err != nil {
			c.mu.Lock()
			c.listenErr = err.Error()
			c.mu.Unlock()
			select {
			case <-c.ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		l := ml.(*mqtt.Listener)
		c.mu.Lock()
		c.listeners++
		c.cur, c.listenErr, c.listenAt = l, "", time.Now()
		c.mu.Unlock()
		for {
			conn, err := l.Accept(c.ctx)
			if err != nil {
				break
			}
			c.wg.Go(func() { c.serve(conn) })
		}
		l.Close()
		c.mu.Lock()
		s := l.Stats()
		c.stats.Records += s.Records
		c.stats.Sessions += s.Sessions
		c.stats.Malformed += s.Malformed
		c.stats.Foreign += s.Foreign
		c.stats.Dropped += s.Dropped
		c.cur = nil
		c.mu.Unlock()
	}
}

func (c *scaleCtrl) serve(conn mtp.Conn) {
	defer conn.Close()
	id := conn.Info().Peer
	codec := usp.Codec{LocalID: c.cfg.ControllerID}
	c.mu.Lock()
	c.live[id]++
	c.conns[id] = conn
	c.acceptAt[id] = append(c.acceptAt[id], time.Now())
	ss := c.camp.Connected(id, time.Now())
	c.mu.Unlock()
	c.send(conn, id, ss)
	for {
		rec, err := conn.Recv(c.ctx)
		if err != nil {
			c.mu.Lock()
			c.live[id]--
			if c.conns[id] == conn {
				delete(c.conns, id)
			}
			c.camp.Disconnected(id, time.Now())
			c.mu.Unlock()
			return
		}
		in, err := codec.Open(rec)
		if err == nil && in.Msg != nil &&
			strings.HasPrefix(in.Msg.GetHeader().GetMsgId(), "probe-") && in.Msg.GetBody().GetResponse().GetGetResp() != nil {
			c.mu.Lock()
			c.probes[id]++
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		if err == nil && in.Msg.GetBody().GetResponse().GetAddResp() != nil {
			c.added[id]++
		}
		ss := c.camp.Receive(id, rec, time.Now())
		c.mu.Unlock()
		c.send(conn, id, ss)
	}
}

func (c *scaleCtrl) send(conn mtp.Conn, id string, ss []fleet.Send) {
	for _, s := range ss {
		if s.To == id {
			_ = conn.Send(c.ctx, s.Data) // a broken session ends Recv too
		}
	}
}

// probe sends every agent a Get on its newest session.
func (c *scaleCtrl) probe(ids []string) {
	codec := usp.Codec{LocalID: c.cfg.ControllerID}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, id := range ids {
		c.mu.Lock()
		conn := c.conns[id]
		c.mu.Unlock()
		if conn == nil {
			c.probeSendErrs.Add(1)
			continue
		}
		rec, err := codec.Seal(id, usp.NewRequest("probe-"+id, &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
		if err != nil {
			c.t.Fatal(err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := conn.Send(c.ctx, rec); err != nil {
				c.probeSendErrs.Add(1)
			}
		})
	}
	wg.Wait()
}

// settled: every agent acknowledged the Campaign's subscriptions (three
// Adds), so that no Record is in flight.
func (c *scaleCtrl) settled(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.added[id] < 3 {
			return false
		}
	}
	return true
}

func (c *scaleCtrl) probed(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.probes[id] == 0 {
			return false
		}
	}
	return true
}

// allLiveOnce: every agent has exactly one live session, and accepted one
// at or after since.
func (c *scaleCtrl) allLiveOnce(ids []string, since time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.live) < len(ids) {
		return false
	}
	for _, id := range ids {
		at := c.acceptAt[id]
		if c.live[id] != 1 || len(at) == 0 || at[len(at)-1].Before(since) {
			return false
		}
	}
	return true
}

// listeningSince: the controller has a Listener that subscribed at or
// after t.
func (c *scaleCtrl) listeningSince(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && !c.listenAt.Before(t)
}

func (c *scaleCtrl) missing(ids []string, most int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range ids {
		if c.live[id] != 1 {
			out = append(out, fmt.Sprintf("%s (live %d, accepted %d)", id, c.live[id], len(c.acceptAt[id])))
			if len(out) == most {
				break
			}
		}
	}
	return out
}

func (c *scaleCtrl) accepts(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acceptAt[id])
}

func (c *scaleCtrl) acceptsSince(id string, since time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, at := range c.acceptAt[id] {
		if !at.Before(since) {
			n++
		}
	}
	return n
}

func (c *scaleCtrl) campErrors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.camp.Errors
}

func (c *scaleCtrl) summary(ids []string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	one, many, accepted := 0, 0, 0
	for _, id := range ids {
		switch v := c.live[id]; {
		case v == 1:
			one++
		case v > 1:
			many++
		}
		accepted += len(c.acceptAt[id])
	}
	s := c.stats
	if c.cur != nil {
		cs := c.cur.Stats()
		s.Records += cs.Records
		s.Sessions += cs.Sessions
		s.Malformed += cs.Malformed
		s.Foreign += cs.Foreign
		s.Dropped += cs.Dropped
	}
	out := fmt.Sprintf("%d agents with one live session, %d with more; %d sessions accepted; %d listeners; records %d, malformed %d, foreign %d, dropped %d",
		one, many, accepted, c.listeners, s.Records, s.Malformed, s.Foreign, s.Dropped)
	if c.cur == nil && c.listenErr != "" {
		out += "; listener: " + c.listenErr
	}
	if c.cur != nil {
		out += "; listening since " + c.listenAt.Format("15:04:05.000")
	}
	return out
}

// stop ends the controller: its listener closes, and every goroutine it
// started has ended when stop returns (bounded).
func (c *scaleCtrl) stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		if c.cur != nil {
			c.cur.Close()
		}
		c.mu.Unlock()
		done := make(chan struct{})
		go func() { c.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(scaleStopWait):
			c.t.Errorf("the controller's goroutines did not end %v after it stopped", scaleStopWait)
		}
	})
}

// ---- the fleet's event log ----

type linkKind uint8

const (
	kLinkUp linkKind = iota + 1
	kLinkDown
	kLinkFail
	kConnected
	kDisconnected
)

var linkKinds = map[string]linkKind{"link-up": kLinkUp, "link-down": kLinkDown, "link-fail": kLinkFail,
	"connected": kConnected, "disconnected": kDisconnected}

type linkEvent struct {
	at   time.Time
	kind linkKind
}

// linkLog is the fleet's event log writer: it keeps, per agent, the lines
// about its session (the runner's link-up, link-down, link-fail and the
// core's connected, disconnected) and how many agents are up now.
type linkLog struct {
	mu   sync.Mutex
	devs map[string]*linkDev
	up   int
	bad  int
}

type linkDev struct {
	up  bool
	evs []linkEvent
}

func newLinkLog() *linkLog { return &linkLog{devs: map[string]*linkDev{}} }

// Write takes whole lines: the runner writes each line in one call.
func (l *linkLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	sc.Buffer(nil, len(p)+1)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if len(f) < 3 {
			l.bad++
			continue
		}
		k, ok := linkKinds[f[2]]
		if !ok {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000000000Z", f[0])
		if err != nil {
			l.bad++
			continue
		}
		d := l.devs[f[1]]
		if d == nil {
			d = &linkDev{}
			l.devs[f[1]] = d
		}
		d.evs = append(d.evs, linkEvent{at: at, kind: k})
		switch k {
		case kLinkUp:
			if !d.up {
				l.up++
			}
			d.up = true
		case kLinkDown:
			if d.up {
				l.up--
			}
			d.up = false
		}
	}
	return len(p), nil
}

func (l *linkLog) upCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// allUpSince: every agent is up, on a session it opened at or after since.
func (l *linkLog) allUpSince(ids []string, since time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		d := l.devs[id]
		if d == nil || !d.up {
			return false
		}
		for i := len(d.evs) - 1; i >= 0; i-- {
			if d.evs[i].kind == kLinkUp {
				if d.evs[i].at.Before(since) {
					return false
				}
				break
			}
		}
	}
	return true
}

func (l *linkLog) ups(id string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	if d := l.devs[id]; d != nil {
		for _, e := range d.evs {
			if e.kind == kLinkUp {
				out = append(out, e.at)
			}
		}
	}
	return out
}

func (l *linkLog) events(id string) []linkEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.devs[id]; d != nil {
		return slices.Clone(d.evs)
	}
	return nil
}

// ---- fixtures and figures ----

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func stackInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

func perAgent(bytes uint64, agents int) float64 {
	return float64(int64(bytes)) / 1024 / float64(agents)
}

// mosquittoPID finds the mosquitto this process started (Linux /proc).
func mosquittoPID() (int, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		rest := strings.Fields(s[j+1:]) // state, ppid, …
		if s[i+1:j] == "mosquitto" && len(rest) > 1 && rest[1] == strconv.Itoa(self) {
			return pid, true
		}
	}
	return 0, false
}

// brokerFigures: the broker's resident memory and open files.
func brokerFigures() (rss uint64, fds int, ok bool) {
	pid, ok := mosquittoPID()
	if !ok {
		return 0, 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb * 1024
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return rss, 0, rss > 0
	}
	return rss, len(ents), true
}

// checkBrokerLimit fails when the broker may not hold a connection per
// agent: it inherits this process's soft limit of open files at start.
func checkBrokerLimit(t *testing.T, agents int) {
	t.Helper()
	pid, ok := mosquittoPID()
	if !ok {
		return // not Linux, or not found: the connects would tell
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return
			}
			soft, err := strconv.Atoi(f[0])
			if err != nil {
				return // unlimited
			}
			if err := (fdlimit.Plan{Agents: agents, PerAgent: 1, Reserve: 64, Limit: soft}).Err(); err != nil {
				t.Fatalf("mosquitto (pid %d): %v", pid, err)
			}
			return
		}
	}
}
