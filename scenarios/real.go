package scenarios

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/mtp/fdlimit"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/stomp"
	"brickyard/mtp/websocket"
	"brickyard/scenarios/campaign"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/fileserver"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
)

// runReal runs the scenario in real time: the embedded controller behind
// a real transport on loopback, its file server, and one goroutine per
// device, in this process or in opt.Hosts. Run's goroutine owns
// everything started here and waits for all of it before returning.
func runReal(ctx context.Context, sc *Scenario, opt Options) (*report.Report, error) {
	hosts := opt.Hosts
	if hosts != nil && (len(sc.Bench) > 0 || len(opt.Bench) > 0) {
		return nil, errors.New("bench boards join a run in one process: not with workers")
	}
	perAgent := sc.filesPerAgent()
	if hosts != nil { // the agents' ends are elsewhere
		perAgent--
	}
	if err := checkFiles(sc, sc.Devices(), perAgent); err != nil {
		return nil, err
	}
	user, pass := sc.credentials()
	fcfg := fileserver.Config{Seed: sc.Seed, Username: user, Password: pass, Faults: sc.serverFaults()}
	var roots *x509.CertPool
	if sc.Server.TLS {
		tc, r, err := fileserver.SelfSigned()
		if err != nil {
			return nil, err
		}
		fcfg.TLS, roots = tc, r
	}
	fetcher, pool := sc.fetcher(roots)
	defer pool.CloseIdleConnections()
	fs, err := fileserver.New(fcfg)
	if err != nil {
		return nil, err
	}
	if err := fs.Start(); err != nil {
		return nil, err
	}
	defer fs.Close()
	if opt.Metrics != nil {
		opt.Metrics.FileServer(fs.Stats)
	}
	b, err := sc.build(opt.Profiles, opt.ReadFile, fs.URL())
	if err != nil {
		return nil, err
	}
	for path, data := range b.files {
		fs.Add(path, data)
	}
	start := time.Now()
	opt.Live.Begin(start)
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

	links := &linkCounts{lost: map[string]bool{}}
	var rf *fleet.Real
	var br *benchRun
	var res *HostsResult
	var runDevices func(context.Context) error
	if hosts == nil {
		br, err = sc.startBench(b, opt.Profiles)
		if err != nil {
			return nil, err
		}
		defer br.close()
		rf, err = fleet.NewReal(fleet.RealConfig{
			Seed: sc.Seed, ControllerID: ControllerID, Boards: b.groups, IDFormat: b.ids.printf(),
			Device: sc.deviceConfig(b, tr.protocol, tr.ca), Plan: sc.plan(), Dialer: tr.dialer, Fetcher: fetcher,
			PowerOnAt: sc.powerOnAt(b.ids.printf(), 0), Diurnal: sc.Fleet.Diurnal.DiurnalOf(),
			Log: opt.EventLog, LogFormat: opt.EventLogFormat, Index: opt.Index, Observe: links.observer(opt.Metrics, opt.Live),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.source, err)
		}
		if err := br.serve(rf, len(b.devices)-len(sc.Bench), opt); err != nil {
			return nil, err
		}
		runDevices = rf.Run
	} else {
		ep := Endpoint{MTP: sc.Fleet.MTP, Address: tr.address, FileServer: fs.URL(), FileServerCA: certPEM(fcfg.TLS)}
		if tr.ca != nil {
			key, err := tr.ca.KeyPEM()
			if err != nil {
				return nil, err
			}
			ep.CA, ep.CAKey = tr.ca.CertPEM(), key
		}
		runDevices = func(ctx context.Context) error {
			var err error
			res, err = hosts.Run(ctx, ep, opt.Index, opt.Metrics)
			return err
		}
	}
	srv := &server{ctrl: ctrl, conns: map[string]mtp.Conn{}}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(3)
	go func() { defer wg.Done(); srv.accept(runCtx, tr.listener) }()
	go func() { defer wg.Done(); srv.tick(runCtx) }()
	devicesGone := make(chan struct{}) // the devices' runner returned before it was told to
	go func() { defer wg.Done(); runErr = runDevices(runCtx); close(devicesGone) }()
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
		case <-devicesGone: // the processes holding them are gone: nothing more will happen
			interrupted = true
			break loop
		case now := <-tk.C:
			srv.mu.Lock()
			rec.sample(now, opt.Index)
			p := progress(now.Sub(start), opt.Index, ctrl, false)
			campaignMetrics(opt.Metrics, ctrl)
			done := ctrl.Done()
			srv.mu.Unlock()
			tell(opt, p)
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
	tell(opt, progress(end.Sub(start), opt.Index, ctrl, true))
	if opt.Stats != nil {
		st := fs.Stats()
		opt.Stats("fileserver_requests", st.Requests)
		opt.Stats("fileserver_bytes", st.BytesSent)
	}
	var v view = rf
	linkErrs, dropped := links.counts(), tr.drops.counts()
	if hosts != nil {
		if res == nil { // the hosts could not run the devices at all
			return nil, runErr
		}
		rv, err := newRowsView(sc, b, res)
		if err != nil {
			return nil, errors.Join(runErr, err)
		}
		v = rv
		linkErrs, dropped = AddCounts(linkErrs, res.Errors), AddCounts(dropped, res.Dropped)
	}
	r := rec.report(sc, v, ctrl, b, lat, msgs, end, interrupted)
	r.MTP = tr.protocol
	br.report(r, sc)
	r.Errors = append(r.Errors, linkErrs...)
	r.Dropped = dropped
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

// counts are the link counts as report counts, the ones that happened.
func (l *linkCounts) counts() []report.Count {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []report.Count
	for _, c := range []report.Count{{Name: "sessions lost", N: l.lostN}, {Name: "reconnects", N: l.reconnects}, {Name: "failed dials", N: l.fails}} {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// observer counts the devices' sessions, and hands what they do to m and
// live (either may be nil).
func (l *linkCounts) observer(m Metrics, live *dashboard.Live) fleet.Observer {
	return fleet.Observer{Event: deviceEvents(m, live), Record: recordHook(live), Link: func(id string, ev fleet.LinkEvent, err error, at time.Time) {
		live.Link(id, ev, err, at)
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case ev == fleet.LinkDown && err != nil:
			l.lostN++
			l.lost[id] = true
			if m != nil {
				m.SessionLost()
			}
		case ev == fleet.LinkFail:
			l.fails++
			l.lost[id] = true
			if m != nil {
				m.DialFailure()
			}
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

// filesPerAgent is what one device costs a process holding the whole run
// in open files: its connection, and the controller's end of it too
// unless the broker is another process.
func (sc *Scenario) filesPerAgent() int {
	if sc.Fleet.MTP != "websocket" && sc.Fleet.Broker != "embedded" {
		return 1
	}
	return 2
}

// FitWorkers is how many processes a real-time run of sc needs for its
// devices' connections: 1 when this process holds them all (or when the
// controller's ends alone would not fit, which Run's error explains),
// else enough worker processes, each a shard of the devices, with the
// controller's ends of their connections in this one.
func (sc *Scenario) FitWorkers() int {
	per := sc.filesPerAgent()
	if sc.Clock != "real" || checkFiles(sc, sc.Devices(), per) == nil || checkFiles(sc, sc.Devices(), per-1) != nil {
		return 1
	}
	soft, _, _ := fdlimit.Limit()
	p := fdlimit.Plan{Agents: sc.Devices(), PerAgent: 1, Reserve: fileReserve + 64, Limit: int(min(soft, 1<<40))}
	return max(2, p.Shards())
}

// fileReserve is the open files a run's process keeps for other things
// than its devices' connections: listeners, logs, the download pool (both
// ends).
const fileReserve = 256 + 2*downloadConns

// checkFiles fails when the fleet's connections will not fit the
// process's open-file limit, saying how many devices fit and what to do.
func checkFiles(sc *Scenario, devices, perAgent int) error {
	reserve := fileReserve
	if fdlimit.Check(devices, perAgent, reserve) == nil {
		return nil
	}
	soft, _, _ := fdlimit.Limit()
	open, _ := fdlimit.Count()
	p := fdlimit.Plan{Agents: devices, PerAgent: perAgent, Reserve: reserve, Open: open, Limit: int(min(soft, 1<<40))}
	fits, _ := p.Fit()
	msg := fmt.Sprintf("%s: %d devices need about %d open files but this process may hold %d (ulimit -n); %d fit: run with --devices %d or fewer, or the devices in worker processes (--workers)",
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

// transport is the controller's listener and the agents' dialer, what
// each side dropped, and the address agents dial (the listener's URL or
// the broker's).
type transport struct {
	protocol string
	address  string
	ca       *certs.CA // fleet.tls: the run's CA
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
	var l mtp.Listener
	addr, stopBroker := f.Broker, func() {}
	var ca *certs.CA
	switch f.MTP {
	case "websocket":
		lcfg := websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: ControllerID, Drops: drops.controller}
		if f.TLS {
			var err error
			if lcfg.TLS, ca, err = controllerTLS(f.DeviceCerts); err != nil {
				return nil, fmt.Errorf("%s: fleet.tls: %w", sc.source, err)
			}
			lcfg.URL, lcfg.CheckIdentity = "wss://127.0.0.1:0/usp", f.DeviceCerts
		}
		wl, err := websocket.NewListener(lcfg)
		if err != nil {
			return nil, err
		}
		l, addr = wl, wl.(*websocket.Listener).URL()
	case "mqtt":
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
		// The controller subscribes before any agent connects: a broker
		// drops what arrives on a topic nobody is subscribed to. After a
		// broker restart it subscribes again and resumes its agents.
		lcfg := mqttConfig(sc, addr)
		lcfg.Handover, lcfg.Drops = mqtt.NewHandover(), drops.controller
		ml, err := relisten(func(context.Context) (mtp.Listener, error) { return mqtt.NewListener(lcfg) }, logf)
		if err != nil {
			stopBroker()
			return nil, fmt.Errorf("%s: fleet.broker %s: %w", sc.source, f.Broker, err)
		}
		l = ml
	case "stomp":
		if addr == "embedded" {
			b, err := stomp.NewEmbeddedBroker("127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("embedded STOMP broker: %w", err)
			}
			addr, stopBroker = b.Addr(), func() { _ = b.Close() }
		}
		lcfg := stompConfig(sc, addr)
		lcfg.Drops = drops.controller
		sl, err := relisten(func(context.Context) (mtp.Listener, error) { return stomp.NewListener(lcfg) }, logf)
		if err != nil {
			stopBroker()
			return nil, fmt.Errorf("%s: fleet.broker %s: %w", sc.source, f.Broker, err)
		}
		l = sl
	default:
		return nil, fmt.Errorf("%s: fleet.mtp %q", sc.source, f.MTP)
	}
	d, err := agentDialer(sc, addr, drops.agents, ca)
	if err != nil {
		l.Close()
		stopBroker()
		return nil, err
	}
	return &transport{protocol: protocolOf(sc), address: addr, ca: ca, listener: l, dialer: d,
		close: func() { l.Close(); stopBroker() }, drops: drops}, nil
}

// runCAValidity is how long the CA of a run's fleet.tls (and the
// certificates it issues) is valid.
const runCAValidity = 30 * 24 * time.Hour

// controllerTLS is the embedded controller's TLS (fleet.tls): a CA made
// for the run, and a certificate of it naming ControllerID for 127.0.0.1;
// with deviceCerts the controller requires each device's certificate of
// that CA.
func controllerTLS(deviceCerts bool) (*tls.Config, *certs.CA, error) {
	ca, err := certs.New("brickyard run CA", time.Now(), runCAValidity)
	if err != nil {
		return nil, nil, err
	}
	srv, err := ca.ServerCertificate(ControllerID, "127.0.0.1")
	if err != nil {
		return nil, nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{*srv}, MinVersion: tls.VersionTLS12}
	if deviceCerts {
		tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool()
	}
	return tc, ca, nil
}

// agentDialer opens the agents' sessions to the controller at addr (its
// WebSocket URL, or the broker's address), counting what they drop in
// drops. With ca (fleet.tls) the devices trust it alone and check that
// the controller's certificate names ControllerID; with
// fleet.device_certs each presents its own certificate of ca.
func agentDialer(sc *Scenario, addr string, drops *mtp.Drops, ca *certs.CA) (mtp.Dialer, error) {
	switch sc.Fleet.MTP {
	case "websocket":
		cfg := websocket.Config{URL: addr, ControllerID: ControllerID, Drops: drops}
		if ca != nil {
			cfg.TLS, cfg.CheckIdentity = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, true
			if sc.Fleet.DeviceCerts {
				cfg.Certificate = ca.Certificate
			}
		}
		return websocket.NewDialer(cfg)
	case "mqtt":
		cfg := mqttConfig(sc, addr)
		cfg.Drops = drops
		cfg.QoS0 = sc.Fleet.MQTTQoS != nil && *sc.Fleet.MQTTQoS == 0
		return mqtt.NewDialer(cfg)
	case "stomp":
		cfg := stompConfig(sc, addr)
		cfg.Drops = drops
		return stomp.NewDialer(cfg)
	}
	return nil, fmt.Errorf("%s: fleet.mtp %q", sc.source, sc.Fleet.MTP)
}

// mqttConfig is both sides' MQTT session settings, broker at addr.
func mqttConfig(sc *Scenario, addr string) mqtt.Config {
	return mqtt.Config{Broker: addr, Version: mqtt.V5, ControllerID: ControllerID, Username: sc.Fleet.Username, Password: sc.Fleet.Password}
}

// stompConfig is both sides' STOMP session settings, broker at addr.
func stompConfig(sc *Scenario, addr string) stomp.Config {
	return stomp.Config{Addr: addr, Login: sc.Fleet.Username, Passcode: sc.Fleet.Password, ControllerID: ControllerID,
		ControllerDest: "/queue/usp.controller", AgentDest: "/queue/usp.agent.{eid}",
		HeartBeatOut: 30 * time.Second, HeartBeatIn: 30 * time.Second}
}
