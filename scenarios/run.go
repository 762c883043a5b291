package scenarios

import (
	"brickyard/boards/bench"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"brickyard/boards/profile"
	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/scenarios/campaign"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/fileserver"
	"brickyard/scenarios/report"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// ControllerID is the embedded controller's Endpoint ID.
const ControllerID = "proto::brickyard-controller"

// Options are what a run needs besides its scenario.
type Options struct {
	Profiles profile.Set // board profiles; required
	// ReadFile reads image and key files; default a bounded os read that
	// refuses a file larger than its use allows (an image larger than the
	// board's slot, a key file over 64 KiB) before reading it.
	ReadFile func(name string, limit int64) ([]byte, error)

	// Progress, if set, is called about every ProgressEvery (wall time for
	// real-time runs, virtual time for virtual ones; default 1 s) and once
	// at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration

	Logf     func(format string, args ...any) // controller problems, one line each
	EventLog io.Writer                        // the fleet's event log; nil: none
	// EventLogFormat is its format: text (default) or JSON (docs/events.md).
	EventLogFormat fleet.LogFormat
	Metrics        Metrics      // nil: none
	Index          *index.Index // the fleet index to keep current; nil: a private one
	// Live, if set, follows the run for the dashboard: the devices'
	// Records, sessions and events, the controller's latencies, and a
	// Sample with every progress. A run in workers gives it what this
	// process sees: the samples and the controller's latencies.
	Live *dashboard.Live

	// Stats, if set, is called at the end of a real-time run with
	// counters of the transport and the file server, for logs.
	Stats func(name string, value int64)

	// Bench are real boards of the configuration (bench.boards) that join
	// the scenario's fleet, in its first wave, after its own bench boards.
	// PDUAddr, if set, serves every bench board's power to a lab's
	// pdudaemon in its URL form (bench.PDUHandler) on that loopback
	// address, as PDU PDUHostname, outlet N the N-th bench board.
	Bench       []bench.Spec
	PDUAddr     string
	PDUHostname string

	// Hosts, if set, runs a real-time run's devices in other processes
	// (shards.go); this process keeps the controller, the file server and
	// the transport. Not for the virtual clock, nor with bench boards.
	Hosts Hosts
}

// Metrics receives what a run measures as it goes (brickyard/scenarios/
// metrics implements it). Calls may come from many goroutines.
type Metrics interface {
	Message(direction, typ string)
	Latency(d time.Duration)
	Error(code uint32)
	Reconnect()
	DialFailure() // a device's attempt to open its session failed
	SessionLost() // the other side or the network ended a device's session
	// DeviceEvent is one line of a device's event log (faults,
	// downloads and updates are counted from them).
	DeviceEvent(id, kind, detail string, at time.Time)
	Campaign(wave int, planned, started, done int)
	Aborted(bool)
	// Dropped hands over one side's drop counter ("agents",
	// "controller"), read from then on.
	Dropped(side string, d *mtp.Drops)
	// FileServer hands over the run's firmware file server's counters,
	// read from then on (a real-time run's).
	FileServer(read func() fileserver.Stats)
}

// deviceEvents is the fleet's event hook of m and l: nil without either.
func deviceEvents(m Metrics, l *dashboard.Live) func(id, kind, detail string, at time.Time) {
	switch {
	case m != nil && l != nil:
		return func(id, kind, detail string, at time.Time) {
			m.DeviceEvent(id, kind, detail, at)
			l.Event(id, kind, detail, at)
		}
	case m != nil:
		return m.DeviceEvent
	case l != nil:
		return l.Event
	}
	return nil
}

// linkHook is l's Link: nil without a dashboard.
func linkHook(l *dashboard.Live) func(id string, ev fleet.LinkEvent, err error, at time.Time) {
	if l == nil {
		return nil
	}
	return l.Link
}

// recordHook is l's Record: nil without a dashboard.
func recordHook(l *dashboard.Live) func(id string, in bool, rec []byte, at time.Time) {
	if l == nil {
		return nil
	}
	return l.Record
}

// Progress is the fleet at one moment of a run.
type Progress struct {
	Elapsed  time.Duration
	Devices  int
	Outcomes map[string]int // by fleet outcome (pending while under way)
	Phases   map[string]int // by what devices are doing
	Conn     map[string]int // connected, connecting, disconnected
	Waves    []campaign.WaveStatus
	Aborted  string
	Final    bool
}

// Open reads a scenario by name: a file when the name looks like a path
// (a / or \\, a .yaml or .yml suffix) or a file of that name exists, a
// built-in scenario otherwise.
func Open(name string) (*Scenario, error) {
	if strings.ContainsAny(name, "/\\") || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		return Load(name)
	}
	if _, err := os.Stat(name); err == nil {
		return Load(name)
	}
	return Builtin(name)
}

// maxScenarioFile is the largest scenario file Load reads.
const maxScenarioFile = 4 << 20

// Load reads a scenario file from disk: relative paths in it (images,
// keys) are relative to its folder.
func Load(path string) (*Scenario, error) {
	data, err := readLimited(path, maxScenarioFile)
	if err != nil {
		return nil, err
	}
	sc, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	sc.dir = filepath.Dir(path)
	return sc, nil
}

// readLimited reads a file of at most limit bytes, refusing a larger one
// before reading it (and one that grows while it is read).
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", path, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", path, limit)
	}
	return data, nil
}

// view is what a report needs of a fleet runner.
type view interface {
	Len() int
	ID(n int) string
	Record(n int) index.Device
	Timeline(n int) []fleet.Step
	Faults(n int) faults.Faults
	Cuts(n int) []fleet.Cut
	Brick(n int) string
}

// Run runs the scenario. It returns the report even when ctx ends first
// (Interrupted set): whatever happened so far is in it. The error is for
// what kept the run from starting or broke it, not for expectations: see
// Report.Expectations and Failed.
func Run(ctx context.Context, sc *Scenario, opt Options) (*report.Report, error) {
	if opt.Profiles == nil {
		return nil, errors.New("scenarios: no board profiles")
	}
	if opt.ReadFile == nil {
		opt.ReadFile = readLimited
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	if opt.Index == nil {
		idx, err := index.New()
		if err != nil {
			return nil, err
		}
		opt.Index = idx
	}
	if len(opt.Bench) > 0 {
		cp := *sc
		cp.Bench = append([]BenchBoard(nil), sc.Bench...)
		for _, s := range opt.Bench {
			cp.Bench = append(cp.Bench, BenchBoard{Spec: s, Wave: 1})
		}
		c := &checker{sc: &cp}
		cp.validateBench(c)
		if err := c.err(); err != nil {
			return nil, fmt.Errorf("bench.boards: %w", err)
		}
		sc = &cp
	}
	if opt.PDUAddr != "" && !loopbackAddr(opt.PDUAddr) {
		return nil, fmt.Errorf("bench.pdu_addr %q: the power endpoint is served on loopback (127.0.0.0/8, ::1, localhost) with its port", opt.PDUAddr)
	}
	if opt.Hosts != nil && sc.Clock != "real" {
		return nil, fmt.Errorf("%s: devices in other processes are for real time: a virtual-time run holds its fleet in one process (100,000 devices in about 2.6 GB, docs/scale.md)", sc.source)
	}
	if sc.Clock == "real" {
		return runReal(ctx, sc, opt)
	}
	return runVirtual(ctx, sc, opt)
}

// deviceConfig sets what the scenario says of every device.
func (sc *Scenario) deviceConfig(b *built, mtp string, ca *certs.CA) func(n int, c *device.Config) {
	var cert *device.Certificate // what the devices show of their certificates (fleet.device_certs)
	if ca != nil && sc.Fleet.DeviceCerts {
		cert = DeviceCertificate(ca)
	}
	return func(n int, c *device.Config) {
		c.SerialNumber = b.serials.ID(n)
		c.MTP = mtp
		c.Cert = cert
		if sc.Device.Reboot > 0 {
			c.RebootDuration = sc.Device.Reboot
		}
		if sc.Device.Trial > 0 {
			c.TrialPeriod = sc.Device.Trial
		}
		c.RetryMinimumWait, c.RetryIntervalMultiplier = sc.Device.RetryMinWait, sc.Device.RetryMultiplier
		c.PeriodicJitter = sc.Device.PeriodicJitter
		c.Unknown = device.UnknownPolicy(sc.Device.UnknownControllers)
	}
}

// DeviceCertificate is what devices whose certificates ca issues show of
// them in Device.LocalAgent.Certificate.1 (the serial number derived from
// each one's Endpoint ID, so the row is right before the certificate is
// made).
func DeviceCertificate(ca *certs.CA) *device.Certificate {
	nb, na := ca.Validity()
	return &device.Certificate{Issuer: "CN=" + ca.Cert().Subject.CommonName, NotBefore: nb, NotAfter: na,
		SignatureAlgorithm: "ECDSA-SHA256", SerialNumber: certs.SerialString}
}

// campaignConfig is the embedded controller of the scenario.
func (sc *Scenario) campaignConfig(b *built, start time.Time, opt Options, lat *report.LatencySplit, msgs map[string]int) campaign.Config {
	cs := sc.Campaign
	cfg := campaign.Config{
		ID: ControllerID, Devices: b.devices, Waves: b.waves, Procedure: campaign.Procedure(cs.Procedure),
		Window: campaign.Window{Start: cs.Window.Start, End: cs.Window.End, Mode: cs.Window.Mode},
		Start:  start.Add(cs.Start), Pause: cs.Pause, RequestTimeout: cs.Timeout, Logf: opt.Logf,
		ObserveRequest: func(typ string, sent time.Time, d time.Duration) {
			lat.Observe(typ, sent, d)
			if opt.Metrics != nil {
				opt.Metrics.Latency(d)
			}
			opt.Live.Latency(typ, d)
		},
		ErrorCode: func(code uint32) {
			if opt.Metrics != nil {
				opt.Metrics.Error(code)
			}
		},
		Message: func(dir, typ string) {
			msgs[dir+" "+typ]++
			if opt.Metrics != nil {
				opt.Metrics.Message(dir, typ)
			}
		},
	}
	if cs.Retries != nil {
		cfg.Retries = *cs.Retries
		if cfg.Retries == 0 {
			cfg.Retries = -1
		}
	}
	if cs.Abort != nil {
		cfg.Abort = &campaign.Abort{FailureRate: cs.Abort.FailureRate, MinDevices: cs.Abort.MinDevices}
	}
	cfg.Username, cfg.Password = sc.credentials()
	cfg.Soak = cs.Soak
	if cfg.Soak == 0 { // the trial period and a margin: a bad image has rolled back by then
		trial := sc.Device.Trial
		if trial == 0 {
			trial = 5 * time.Minute
		}
		reboot := sc.Device.Reboot
		if reboot == 0 {
			reboot = 30 * time.Second
		}
		cfg.Soak = trial + reboot + 3*time.Second
	}
	return cfg
}

// credentials are the file server's Basic-auth user and password (empty
// when campaign.auth is false); the controller passes them in Download().
func (sc *Scenario) credentials() (user, pass string) {
	if a := sc.Campaign.Auth; a != nil && !*a {
		return "", ""
	}
	return "fleet", fmt.Sprintf("fw-%x", sc.Seed*0x9e3779b97f4a7c15)
}

func (sc *Scenario) plan() faults.Plan { return faults.Plan(sc.Faults) }

// progress makes a Progress from the index.
func progress(elapsed time.Duration, idx *index.Index, c *campaign.Campaign, final bool) Progress {
	return Progress{Elapsed: elapsed, Devices: idx.Len(), Outcomes: idx.Counts(index.ByOutcome),
		Phases: idx.Counts(index.ByPhase), Conn: idx.Counts(index.ByConn), Waves: c.Waves(), Aborted: c.Aborted(), Final: final}
}

// tell hands p to the progress display and the dashboard.
func tell(opt Options, p Progress) {
	if opt.Live != nil {
		ws := make([]dashboard.Wave, len(p.Waves))
		for i, w := range p.Waves {
			ws[i] = dashboard.Wave{Name: w.Name, Size: w.Size, Done: w.Done, Failed: w.Fail, Opened: w.Opened, Closed: w.Closed, Aborted: w.Aborted}
		}
		opt.Live.Sample(dashboard.Sample{Elapsed: p.Elapsed, Outcomes: p.Outcomes, Phases: p.Phases, Conn: p.Conn,
			Waves: ws, Aborted: p.Aborted, Final: p.Final})
	}
	if opt.Progress != nil {
		opt.Progress(p)
	}
}

func campaignMetrics(m Metrics, c *campaign.Campaign) {
	if m == nil {
		return
	}
	for i, w := range c.Waves() {
		started := 0
		if w.Opened {
			started = w.Size
		}
		m.Campaign(i+1, w.Size, started, w.Done)
	}
	m.Aborted(c.Aborted() != "")
}

// runVirtual runs the scenario on the virtual clock: deterministic.
func runVirtual(ctx context.Context, sc *Scenario, opt Options) (*report.Report, error) {
	b, err := sc.build(opt.Profiles, opt.ReadFile, "http://fw.brickyard.invalid")
	if err != nil {
		return nil, err
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opt.Live.Begin(start)
	lat := report.NewLatencySplit(start)
	msgs := map[string]int{}
	ctrl, err := campaign.New(sc.campaignConfig(b, start, opt, lat, msgs))
	if err != nil {
		return nil, err
	}
	images := make(map[string][]byte, len(b.files))
	for path, data := range b.files {
		images["http://fw.brickyard.invalid"+path] = data
	}
	v, err := fleet.NewVirtual(fleet.Config{
		Seed: sc.Seed, Start: start, Controller: ctrl, ControllerID: ControllerID, Boards: b.groups,
		IDFormat: b.ids.printf(), Device: sc.deviceConfig(b, "WebSocket", nil), Plan: sc.plan(), Images: images,
		ConnectRate: sc.Fleet.ConnectRate, ConnectJitter: sc.Fleet.ConnectJitter, Ramp: sc.Fleet.RampOf(), Diurnal: sc.Fleet.Diurnal.DiurnalOf(),
		Log: opt.EventLog, LogFormat: opt.EventLogFormat, Event: deviceEvents(opt.Metrics, opt.Live), Record: recordHook(opt.Live), Link: linkHook(opt.Live), Index: opt.Index, IndexEvery: opt.ProgressEvery,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.source, err)
	}
	rec := newRecorder(start, ctrl, len(b.devices))
	limit := start.Add(sc.Duration)
	interrupted, t := false, start
	for {
		t = t.Add(opt.ProgressEvery)
		if t.After(limit) {
			t = limit
		}
		if err := v.RunUntilCtx(ctx, t); err != nil {
			if ctx.Err() == nil {
				return nil, err
			}
			t, interrupted = v.Now(), true
			break
		}
		rec.sample(t, opt.Index)
		campaignMetrics(opt.Metrics, ctrl)
		tell(opt, progress(t.Sub(start), opt.Index, ctrl, false))
		if ctrl.Done() {
			// Let what is under way land: the last confirmations follow
			// the controller's last answers by a link delay.
			t = t.Add(5 * time.Second)
			if err := v.RunUntil(t); err != nil {
				return nil, err
			}
			break
		}
		if !t.Before(limit) || ctx.Err() != nil {
			interrupted = true
			break
		}
	}
	rec.sample(t, opt.Index)
	tell(opt, progress(t.Sub(start), opt.Index, ctrl, true))
	r := rec.report(sc, v, ctrl, b, lat, msgs, t, interrupted)
	r.MTP = "inproc"
	return r, nil
}
