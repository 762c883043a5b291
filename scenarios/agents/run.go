// Package agents runs a fleet of simulated devices against a USP
// controller that is not brickyard's: brickyard fleet's engine. It takes
// a Config (every setting of the command, from flags, the configuration
// file or BRICKYARD_FLEET_* variables), resolves it into a Spec (Resolve:
// boards and counts, endpoint IDs, the shard, faults, keys, where the
// controller is), builds the factory boards (Build), and runs the devices
// (Run) over the chosen MTP until the context ends or the Spec's duration
// is over, counting every Record the devices exchange (messages by type,
// the controller's response latency as the devices measured it,
// reconnects, dropped Records) and filling a report.Report from what the
// devices did and what they saw.
//
// Run's goroutine owns every goroutine it starts (the fleet runner's
// device goroutines, the transport's) and returns after all of them ended.
package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"brickyard/boards/bench"
	"brickyard/mtp/fdlimit"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/scenarios/trace"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// filesPerAgent is what one agent holds open in this process: its socket
// to the controller or broker.
const filesPerAgent = 1

// fileReserve is the open files kept for the rest of the process: the
// metrics listener, the event log, image downloads in flight, the runtime.
const fileReserve = 128

// Options are what Run needs besides the Spec.
type Options struct {
	Log      *zap.Logger      // required
	Index    *index.Index     // kept current; nil: a private one
	Metrics  *metrics.Metrics // nil: none
	EventLog io.Writer        // the fleet's event log (lines written one at a time); nil: none
	// Progress, if set, is called about every second and once at the end.
	Progress func(Progress)
	// Bench are real boards (the configuration's bench.boards) that join
	// the fleet after its simulated devices, one device each of board
	// group bench/NAME (docs/bench.md). An unsharded fleet only: their
	// endpoint IDs follow the simulated devices'.
	Bench []bench.Spec
	// PDUAddr, if set, serves the bench boards' power there in
	// pdudaemon's URL form, as PDU PDUHostname (bench.ServeLab).
	PDUAddr, PDUHostname string
	// Live, if set, follows the fleet for the dashboard: its devices'
	// Records, sessions and events, and a Sample every second.
	Live *dashboard.Live
	// Trace, if set, gets every Record its devices receive and send
	// (OpenTrace makes it from --trace).
	Trace *trace.Writer
	// Start, if set, is the run's start for its report and latencies
	// (default: when Run starts the devices): the shards of one fleet
	// share their parent's, so that their reports merge span for span.
	Start time.Time
}

// Result is a finished run: its report, and what the summary shows beside
// it.
type Result struct {
	Report *report.Report
	real   *fleet.Real
	tf     *traffic
	tr     *transport
	sp     *Spec
}

// Run runs the fleet until ctx ends (the report is then marked
// interrupted) or the Spec's duration is over. The error is for what
// kept the fleet from starting or broke it; the Result is nil only then.
func Run(ctx context.Context, sp *Spec, b *Built, opt Options) (*Result, error) {
	if sp.transport == "" {
		return nil, errors.New("agents: no controller to run against (--ws-url, --mqtt or --stomp)")
	}
	lo, hi := sp.shardRange()
	if err := fdlimit.Check(hi-lo, filesPerAgent, fileReserve); err != nil {
		return nil, fmt.Errorf("--devices: %w", err)
	}
	tr, err := sp.dialer(opt.Log)
	if err != nil {
		return nil, err
	}
	idx := opt.Index
	if idx == nil {
		if idx, err = index.New(); err != nil {
			return nil, err
		}
	}
	if opt.Metrics != nil {
		opt.Metrics.Dropped("agents", tr.drops)
	}
	cfg := sp.realConfig(b, tr, idx)
	if len(opt.Bench) == 0 { // bench boards take their part of the plan in this process (unsharded)
		if cfg.Faults, err = sp.shardFaults(); err != nil {
			return nil, err
		}
	}
	cfg.Log = opt.EventLog // fleet.Real writes it a line at a time, under its own lock
	cfg.LogFormat = sp.eventLogFormat
	if len(opt.Bench) > 0 && sp.shardN > 1 {
		return nil, errors.New("bench.boards: bench boards join an unsharded fleet (their IDs follow the simulated devices')")
	}
	var benches []*bench.Board
	var names, consoles []string
	for _, s := range opt.Bench {
		bc, err := s.Config(sp.profiles, b.keys)
		if err != nil {
			return nil, fmt.Errorf("bench.boards: %w", err)
		}
		h, err := bench.Open(ctx, bc)
		if err != nil {
			return nil, fmt.Errorf("bench.boards: %s: %w", s.Name, err)
		}
		defer h.Close()
		cfg.Boards = append(cfg.Boards, fleet.BoardGroup{Name: "bench/" + s.Name, Board: h.Board(), Count: 1})
		benches, names, consoles = append(benches, h), append(names, s.Name), append(consoles, s.Console)
		opt.Log.Info("bench board", zap.String("name", s.Name), zap.String("port", s.Port), zap.String("board", h.Board().ID),
			zap.String("serial", h.Hello().Serial))
	}
	tf := newTraffic(sp.controllerID, sp.responseTimeout, opt.Log, opt.Metrics)
	tf.live = opt.Live
	cfg.Observe = tf.observer()
	if t := opt.Trace; t != nil {
		count := cfg.Observe.Record
		cfg.Observe.Record = func(id string, in bool, rec []byte, at time.Time) {
			count(id, in, rec, at)
			t.Record(id, in, rec, at)
		}
	}
	rf, err := fleet.NewReal(cfg)
	if err != nil {
		return nil, err
	}
	if len(benches) > 0 {
		first := rf.Len() - len(benches)
		lab, err := bench.ServeLab(benches, names, consoles, opt.PDUAddr, opt.PDUHostname,
			func(i int, on bool) error { return rf.SwitchPower(first+i, on) })
		if err != nil {
			return nil, err
		}
		defer lab.Close()
		for _, a := range lab.Addrs {
			opt.Log.Info("bench: " + a)
		}
	}
	// Every device in the index from the start (off, disconnected), so
	// that the display and the metrics count the whole fleet at once.
	all := make([]index.Device, rf.Len())
	for n := range all {
		all[n] = rf.Record(n)
	}
	if err := idx.PutAll(all); err != nil {
		return nil, err
	}
	fetchClient := cfg.Fetcher.(*fleet.HTTPFetcher).Client
	defer fetchClient.CloseIdleConnections()
	if sp.f.DNSServe != "" || sp.f.MDNS {
		lo, _ := sp.shardRange()
		ids, boards, serials := make([]string, rf.Len()), make([]string, rf.Len()), make([]string, rf.Len())
		for n := range ids {
			ids[n], boards[n], serials[n] = rf.ID(n), all[n].Board, sp.serials.ID(lo+n+1)
		}
		stop, warn, err := sp.advertise(opt.Log, ids, boards, serials)
		if err != nil {
			return nil, err
		}
		defer stop()
		for _, w := range warn {
			opt.Log.Warn(w)
		}
	}

	opt.Log.Info("fleet", zap.Int("devices", rf.Len()), zap.String("mtp", tr.protocol), zap.String("controller", tr.where),
		zap.String("controller_id", sp.controllerID), zap.String("first", rf.ID(0)), zap.String("last", rf.ID(rf.Len()-1)),
		zap.Uint64("seed", sp.seed), zap.Duration("duration", sp.duration))

	start := opt.Start
	if start.IsZero() {
		start = time.Now()
	}
	tf.startAt(start) // before the devices run: latencies over time count from here
	opt.Live.Begin(start)
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runErr error
	ran := make(chan struct{})
	go func() { defer close(ran); runErr = rf.Run(runCtx) }()

	var limit <-chan time.Time
	if sp.duration > 0 {
		tm := time.NewTimer(sp.duration)
		defer tm.Stop()
		limit = tm.C
	}
	samples := []sampleAt{{start, idx.Counts(index.ByOutcome)}}
	tk := time.NewTicker(time.Second)
	interrupted := false
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-limit:
			break loop
		case now := <-tk.C:
			tf.sweep(now)
			samples = appendSample(samples, sampleAt{now, idx.Counts(index.ByOutcome)})
			if opt.Progress != nil || opt.Live != nil {
				p := progressOf(now.Sub(start), idx, tf, false)
				opt.Live.Sample(p.Sample())
				if opt.Progress != nil {
					opt.Progress(p)
				}
			}
		}
	}
	tk.Stop()
	cancel()
	<-ran
	end := time.Now()
	tf.sweep(end)
	samples = append(samples, sampleAt{end, idx.Counts(index.ByOutcome)})
	if opt.Progress != nil || opt.Live != nil {
		p := progressOf(end.Sub(start), idx, tf, true)
		opt.Live.Sample(p.Sample())
		if opt.Progress != nil {
			opt.Progress(p)
		}
	}
	res := &Result{Report: buildReport(sp, tr, rf, tf, start, end, samples, interrupted), real: rf, tf: tf, tr: tr, sp: sp}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, runErr
	}
	return res, nil
}

// WriteSummary writes the end-of-run summary: outcomes by board, what
// the devices received and sent, sessions, the controller's latency as
// the devices measured it, problems and dropped Records.
func (r *Result) WriteSummary(w io.Writer) error {
	return writeSummary(w, r.Report, r.tf.stats(), r.tr.where, r.sp.controllerID)
}

// DumpModel writes the first device's data model as its controller would
// read it now.
func (r *Result) DumpModel(w io.Writer) error {
	rf := r.real
	return dumpModel(w, rf.Device(0), rf.ID(0), r.sp.controllerID, rf.Record(0).Board, r.tr.protocol, time.Now())
}
