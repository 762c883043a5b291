package scenarios

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/fdlimit"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/stomp"
	"brickyard/mtp/websocket"
	"brickyard/scenarios/campaign"
	"brickyard/scenarios/fileserver"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
)

// runReal runs the scenario in real time: the embedded controller behind
// a real transport on loopback, its file server, and one goroutine per
// device. Run's goroutine owns everything started here and waits for all
// of it before returning.
func runReal(ctx context.Context, sc *Scenario, opt Options) (*report.Report, error) {
	// Every agent holds a connection; the controller's end of it is in
	// this process too unless the broker is another process.
	perAgent := 2
	if sc.Fleet.MTP != "websocket" && sc.Fleet.Broker != "embedded" {
		perAgent = 1
	}
	if err := checkFiles(sc, perAgent); err != nil {
		return nil, err
	}
	user, pass := sc.credentials()
	fcfg := fileserver.Config{Seed: sc.Seed, Username: user, Password: pass, Faults: sc.serverFaults()}
	// The devices of one process share a pool of downloadConns
	// connections to the file server: a device whose download finds them
	// all busy waits for one, as behind a saturated server, instead of
	// every download of a wave holding two more open files at once.
	pool := &http.Transport{MaxConnsPerHost: downloadConns, MaxIdleConnsPerHost: downloadConns, IdleConnTimeout: 30 * time.Second}
	fetcher := &fleet.HTTPFetcher{Timeout: sc.Server.DownloadTimeout, StallTimeout: sc.Server.StallTimeout,
		MaxActive: downloadConns, Client: &http.Client{Transport: pool}}
	defer pool.CloseIdleConnections()
	if sc.Server.TLS {
		tc, roots, err := fileserver.SelfSigned()
		if err != nil {
			return nil, err
		}
		fcfg.TLS = tc
		pool.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	fs, err := fileserver.New(fcfg)
	if err != nil {
		return nil, err
	}
	if err := fs.Start(); err != nil {
		return nil, err
	}
	defer fs.Close()
	b, err := sc.build(opt.Profiles, opt.ReadFile, fs.URL())
	if err != nil {
		return nil, err
	}
	for path, data := range b.files {
		fs.Add(path, data)
	}
	start := time.Now()
	lat := report.NewLatencySplit(start)
	msgs := map[string]int{}
	ccfg := sc.campaignConfig(b, start, opt, lat, msgs)
	ctrl, err := campaign.New(ccfg)
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(sc, opt.Logf)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	if opt.Metrics != nil {
		opt.Metrics.Dropped("agents", tr.drops.agents)
		opt.Metrics.Dropped("controller", tr.drops.controller)
	}

	br, err := sc.startBench(b, opt.Profiles)
	if err != nil {
		return nil, err
	}
	defer br.close()
	links := &linkCounts{lost: map[string]bool{}}
	rf, err := fleet.NewReal(fleet.RealConfig{
		Seed: sc.Seed, ControllerID: ControllerID, Boards: b.groups, IDFormat: b.ids.printf(),
		Device: sc.deviceConfig(b, tr.protocol), Plan: sc.plan(), Dialer: tr.dialer, Fetcher: fetcher,
		ConnectRate: sc.Fleet.ConnectRate, ConnectJitter: sc.Fleet.ConnectJitter,
		Log: opt.EventLog, Index: opt.Index, Observe: links.observer(opt.Metrics),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.source, err)
	}
	if err := br.serve(rf, len(b.devices)-len(sc.Bench), opt); err != nil {
		return nil, err
	}
	srv := &server{ctrl: ctrl, conns: map[string]mtp.Conn{}}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(3)
	go func() { defer wg.Done(); srv.accept(runCtx, tr.listener) }()
	go func() { defer wg.Done(); srv.tick(runCtx) }()
	go func() { defer wg.Done(); runErr = rf.Run(runCtx) }()

	rec := newRecorder(start, ctrl, len(b.devices))
	limit := start.Add(sc.Duration)
	interrupted := false
	tk := time.NewTicker(opt.ProgressEvery)
	var settle <-chan time.Time
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-settle:
			break loop
		case now := <-tk.C:
			srv.mu.Lock()
			rec.sample(now, opt.Index)
			p := progress(now.Sub(start), opt.Index, ctrl, false)
			campaignMetrics(opt.Metrics, ctrl)
			done := ctrl.Done()
			srv.mu.Unlock()
			if opt.Progress != nil {
				opt.Progress(p)
			}
			if done && settle == nil {
				settle = time.After(time.Second)
			}
			if !now.Before(limit) && settle == nil {
				interrupted = true
				break loop
			}
		}
	}
	tk.Stop()
	cancel()
	wg.Wait()
	tr.listener.Close()
	end := time.Now()
	rec.sample(end, opt.Index)
	if opt.Progress != nil {
		opt.Progress(progress(end.Sub(start), opt.Index, ctrl, true))
	}
	if opt.Stats != nil {
		st := fs.Stats()
		opt.Stats("fileserver_requests", st.Requests)
		opt.Stats("fileserver_bytes", st.BytesSent)
	}
	r := rec.report(sc, rf, ctrl, b, lat, msgs, end, interrupted)
	r.MTP = tr.protocol
	br.report(r, sc)
	for _, c := range []report.Count{{Name: "sessions lost", N: links.lostN}, {Name: "reconnects", N: links.reconnects}, {Name: "failed dials", N: links.fails}} {
		if c.N > 0 {
			r.Errors = append(r.Errors, c)
		}
	}
	r.Dropped = tr.drops.counts()
	r.Wall = r.Duration
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return r, runErr
	}
	return r, nil
}

// linkCounts counts the devices' sessions lost to the network or the
// peer, the failed attempts to open one, and the sessions opened again
// after either (reboots are neither).
type linkCounts struct {
	mu                       sync.Mutex
	lost                     map[string]bool // devices whose last session ended badly
	lostN, fails, reconnects int
}

func (l *linkCounts) observer(m Metrics) fleet.Observer {
	return fleet.Observer{Link: func(id string, ev fleet.LinkEvent, err error, _ time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case ev == fleet.LinkDown && err != nil:
			l.lostN++
			l.lost[id] = true
		case ev == fleet.LinkFail:
			l.fails++
			l.lost[id] = true
		case ev == fleet.LinkUp && l.lost[id]:
			delete(l.lost, id)
			l.reconnects++
			if m != nil {
				m.Reconnect()
			}
		}
	}}
}

// downloadConns is the size of the devices' shared connection pool to the
// file server.
const downloadConns = 256

// checkFiles fails when the fleet's connections will not fit the
// process's open-file limit, saying how many devices fit and what to do.
func checkFiles(sc *Scenario, perAgent int) error {
	reserve := 256 + 2*downloadConns // listeners, logs, the download pool (both ends)
	if fdlimit.Check(sc.Devices(), perAgent, reserve) == nil {
		return nil
	}
	soft, _, _ := fdlimit.Limit()
	open, _ := fdlimit.Count()
	p := fdlimit.Plan{Agents: sc.Devices(), PerAgent: perAgent, Reserve: reserve, Open: open, Limit: int(min(soft, 1<<40))}
	fits, _ := p.Fit()
	msg := fmt.Sprintf("%s: %d devices need about %d open files but this process may hold %d (ulimit -n); %d fit: run with --devices %d or fewer",
		sc.source, p.Agents, p.Need(), p.Limit, fits, fits)
	if perAgent == 2 {
		msg += ", or through a broker in its own process (fleet.mtp: mqtt, fleet.broker: 127.0.0.1:1883), where a device holds one file here"
	}
	return errors.New(msg)
}

// serverFaults decides the file server's fault of each request: a seeded
// draw against the scenario's cumulative shares.
func (sc *Scenario) serverFaults() func(*http.Request) fileserver.Fault {
	fs := sc.Server.Faults
	if len(fs) == 0 {
		return nil
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(sc.Seed, 0x66696c6573727672))
	return func(*http.Request) fileserver.Fault {
		mu.Lock()
		u := rng.Float64()
		mu.Unlock()
		for _, f := range fs {
			if u < f.Share {
				return fileserver.Fault{Rate: f.Rate, Truncate: f.Truncate, Corrupt: f.Corrupt, Status: f.Status, Stall: f.Stall}
			}
			u -= f.Share
		}
		return fileserver.Fault{}
	}
}

// server runs the campaign behind a listener: the campaign under mu, one
// goroutine per session, one for the Ticks. Records to an agent go out on
// its current session.
type server struct {
	ctrl  *campaign.Campaign
	mu    sync.Mutex // guards ctrl and conns
	conns map[string]mtp.Conn
	wake  chan struct{}
}

func (s *server) send(ctx context.Context, ss []fleet.Send) {
	for _, x := range ss {
		s.mu.Lock()
		c := s.conns[x.To]
		s.mu.Unlock()
		if c != nil {
			_ = c.Send(ctx, x.Data) // a broken session shows in its reader
		}
	}
}

func (s *server) accept(ctx context.Context, l mtp.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ctx, conn)
		}()
	}
}

func (s *server) session(ctx context.Context, conn mtp.Conn) {
	defer conn.Close()
	id := conn.Info().Peer
	s.mu.Lock()
	s.conns[id] = conn
	ss := s.ctrl.Connected(id, time.Now())
	s.mu.Unlock()
	s.send(ctx, ss)
	for {
		rec, err := conn.Recv(ctx)
		if err != nil {
			s.mu.Lock()
			if s.conns[id] == conn {
				delete(s.conns, id)
				s.ctrl.Disconnected(id, time.Now())
			}
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		ss := s.ctrl.Receive(id, rec, time.Now())
		s.mu.Unlock()
		s.send(ctx, ss)
	}
}

func (s *server) tick(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ss, next := s.ctrl.Tick(time.Now())
		s.mu.Unlock()
		s.send(ctx, ss)
		d := time.Second
		if !next.IsZero() {
			d = max(time.Millisecond, time.Until(next))
		}
		t.Reset(d)
	}
}

// transport is the controller's listener and the agents' dialer, and
// what each side dropped.
type transport struct {
	protocol string
	listener mtp.Listener
	dialer   mtp.Dialer
	close    func()
	drops    sideDrops
}

// sideDrops are the Records each side of a run received and did not
// deliver (mtp.Drops), for the report and the metrics.
type sideDrops struct {
	agents, controller *mtp.Drops
}

func newSideDrops(logf func(format string, args ...any)) sideDrops {
	warn := func(side string) func(mtp.DropCause, string, string) {
		return func(c mtp.DropCause, endpoint, detail string) {
			if logf != nil {
				logf("warn: the %s dropped a received Record (%s, at %s: %s); every drop is counted in the report", side, c, endpoint, detail)
			}
		}
	}
	return sideDrops{agents: &mtp.Drops{Warn: warn("agents")}, controller: &mtp.Drops{Warn: warn("controller")}}
}

// counts are the drops as report counts ("agents queue-full"), nil when
// nothing was dropped.
func (d sideDrops) counts() []report.Count {
	var out []report.Count
	for _, side := range []struct {
		name string
		d    *mtp.Drops
	}{{"agents", d.agents}, {"controller", d.controller}} {
		for _, c := range mtp.DropCauses() {
			if n := side.d.Count(c); n > 0 {
				out = append(out, report.Count{Name: side.name + " " + c.String(), N: int(n)})
			}
		}
	}
	slices.SortFunc(out, func(a, b report.Count) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// relisten keeps a brokered controller listening across broker restarts.
func relisten(listen func(context.Context) (mtp.Listener, error), logf func(string, ...any)) (mtp.Listener, error) {
	r, err := mtp.NewRelisten(context.Background(), listen)
	if err != nil {
		return nil, err
	}
	r.Logf = logf
	return r, nil
}

func newTransport(sc *Scenario, logf func(string, ...any)) (*transport, error) {
	f := sc.Fleet
	drops := newSideDrops(logf)
	switch f.MTP {
	case "websocket":
		l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: ControllerID, Drops: drops.controller})
		if err != nil {
			return nil, err
		}
		d, err := websocket.NewDialer(websocket.Config{URL: l.(*websocket.Listener).URL(), ControllerID: ControllerID, Drops: drops.agents})
		if err != nil {
			l.Close()
			return nil, err
		}
		return &transport{protocol: string(mtp.WebSocket), listener: l, dialer: d, close: func() { l.Close() }, drops: drops}, nil
	case "mqtt":
		addr, stopBroker := f.Broker, func() {}
		if addr == "embedded" {
			b, err := mqtt.NewEmbeddedBroker("127.0.0.1:0")
			if err == nil {
				err = b.Start()
			}
			if err != nil {
				return nil, fmt.Errorf("embedded MQTT broker: %w", err)
			}
			addr, stopBroker = b.URL(), func() { _ = b.Stop() }
		}
		cfg := mqtt.Config{Broker: addr, Version: mqtt.V5, ControllerID: ControllerID, Username: f.Username, Password: f.Password,
			Handover: mqtt.NewHandover()}
		// The controller subscribes before any agent connects: a broker
		// drops what arrives on a topic nobody is subscribed to. After a
		// broker restart it subscribes again and resumes its agents.
		lcfg := cfg
		lcfg.Drops = drops.controller
		l, err := relisten(func(context.Context) (mtp.Listener, error) { return mqtt.NewListener(lcfg) }, logf)
		if err != nil {
			stopBroker()
			return nil, fmt.Errorf("%s: fleet.broker %s: %w", sc.source, f.Broker, err)
		}
		cfg.Drops = drops.agents
		cfg.QoS0 = f.MQTTQoS != nil && *f.MQTTQoS == 0
		d, err := mqtt.NewDialer(cfg)
		if err != nil {
			l.Close()
			stopBroker()
			return nil, err
		}
		return &transport{protocol: string(mtp.MQTT), listener: l, dialer: d, close: func() { l.Close(); stopBroker() }, drops: drops}, nil
	case "stomp":
		addr, stopBroker := f.Broker, func() {}
		if addr == "embedded" {
			b, err := stomp.NewEmbeddedBroker("127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("embedded STOMP broker: %w", err)
			}
			addr, stopBroker = b.Addr(), func() { _ = b.Close() }
		}
		cfg := stomp.Config{Addr: addr, Login: f.Username, Passcode: f.Password, ControllerID: ControllerID,
			ControllerDest: "/queue/usp.controller", AgentDest: "/queue/usp.agent.{eid}",
			HeartBeatOut: 30 * time.Second, HeartBeatIn: 30 * time.Second}
		lcfg := cfg
		lcfg.Drops = drops.controller
		l, err := relisten(func(context.Context) (mtp.Listener, error) { return stomp.NewListener(lcfg) }, logf)
		if err != nil {
			stopBroker()
			return nil, fmt.Errorf("%s: fleet.broker %s: %w", sc.source, f.Broker, err)
		}
		cfg.Drops = drops.agents
		d, err := stomp.NewDialer(cfg)
		if err != nil {
			l.Close()
			stopBroker()
			return nil, err
		}
		return &transport{protocol: string(mtp.STOMP), listener: l, dialer: d, close: func() { l.Close(); stopBroker() }, drops: drops}, nil
	}
	return nil, fmt.Errorf("%s: fleet.mtp %q", sc.source, f.MTP)
}
