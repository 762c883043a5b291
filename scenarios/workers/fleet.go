package workers

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"brickyard/mtp"
	"brickyard/scenarios/agents"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/scenarios/trace"
)

// ModeFleet is a worker running a shard of brickyard fleet (FleetStart);
// ModeRun (run.go) one holding a shard of brickyard run's devices.
const ModeFleet = "fleet"

// StartMsg is a worker's start message: its mode and that mode's settings.
type StartMsg struct {
	Mode  string      `json:"mode"`
	K     int         `json:"k"` // the worker's number, from 1
	N     int         `json:"n"` // of
	Fleet *FleetStart `json:"fleet,omitempty"`
	Run   *RunStart   `json:"run,omitempty"`
}

// FleetStart is a brickyard fleet worker's: the fleet's configuration
// (its Shard, Out and metrics set for this worker), the flags the user
// gave, and the fleet's start.
type FleetStart struct {
	Config agents.Config `json:"config"`
	Given  []string      `json:"given"`
	Start  time.Time     `json:"start"`
}

// FleetOptions are what RunFleet needs besides the fleet.
type FleetOptions struct {
	Spec Spec // the workers' binary, arguments and output; Handle and Exit are RunFleet's
	N    int  // workers: shards 1/N … N/N
	// Config is the fleet's configuration and Given the flags the user
	// gave (by flag name); each worker gets a copy with --shard K/N.
	Config agents.Config
	Given  []string
	Log    *zap.Logger
	// Dir holds the workers' reports and event logs (a temporary folder).
	Dir string
	// Progress, if set, sees the fleet: every worker's last progress
	// summed, about every second.
	Progress func(agents.Progress)
	// Metrics, if set, is the parent's aggregate endpoint: RunFleet gives
	// it the workers' endpoints (each worker serves its own on loopback).
	Metrics *metrics.Aggregate
	// EventLog, if set, is where the workers' event logs go at the end,
	// merged in time order.
	EventLog io.Writer
	// Trace, if set, is where the workers' traces (Config.Trace) go at
	// the end, merged in time order; each worker's is bounded by
	// Config.TraceMax.
	Trace io.Writer
	// StopGrace is how long the workers have to end once told to stop
	// before they are killed (default DefaultStopGrace).
	StopGrace time.Duration
}

// FleetResult is a fleet run in workers.
type FleetResult struct {
	Report *report.Report // merged; lost workers' devices are report.Lost
	Final  agents.Progress
	Lost   []string // "worker 2 (devices 101–200): killed by signal 9"
}

// RunFleet runs the fleet of sp in opt.N worker processes, shard k/N in
// worker k, until every worker has ended: at its --duration, or when ctx
// ends (each is then told to stop, and reports what it has). A worker
// that crashes or is killed is reported lost, its devices report.Lost.
// It returns the merged report; the error is for what kept the workers
// from starting or left nothing to merge.
func RunFleet(ctx context.Context, sp *agents.Spec, opt FleetOptions) (*FleetResult, error) {
	n := opt.N
	if n < 2 {
		return nil, fmt.Errorf("--workers: %d: a fleet in workers has at least 2", n)
	}
	if n > sp.Total() {
		return nil, fmt.Errorf("--workers: %d workers for %d devices: some would have none", n, sp.Total())
	}
	start := time.Now()
	var mu sync.Mutex
	progress := make([]agents.Progress, n)
	sources, err := mtp.ParseSources(opt.Config.Sources)
	if err != nil {
		return nil, fmt.Errorf("--sources: %w", err)
	}
	logs, traces := make([]string, n), make([]string, n)
	sv := supervisor{Spec: opt.Spec, N: n, Log: opt.Log, Grace: opt.StopGrace}
	sv.Start = func(k int) (Message, error) {
		c := opt.Config
		c.Shard = fmt.Sprintf("%d/%d", k, n)
		// Each worker its own source addresses when there are enough:
		// no two workers' connections then share a (source, destination)
		// pair's ports.
		c.Sources = sources.Part(k, n).String()
		c.Out = filepath.Join(opt.Dir, "shard-"+strconv.Itoa(k))
		c.Quiet, c.DumpModel, c.WriteKey, c.Pprof, c.MetricsExpose = true, false, "", false, false
		c.MetricsAddr, c.Dashboard, c.DashExpose, c.Linger = "", "", false, 0
		if opt.Metrics != nil {
			c.MetricsAddr = "127.0.0.1:0"
		}
		c.EventLog = ""
		if opt.EventLog != nil {
			logs[k-1] = filepath.Join(opt.Dir, "events-"+strconv.Itoa(k)+".log")
			c.EventLog = logs[k-1]
		}
		c.TraceFile = ""
		if opt.Trace != nil && c.Trace != "" {
			traces[k-1] = filepath.Join(opt.Dir, "trace-"+strconv.Itoa(k)+".jsonl")
			c.TraceFile = traces[k-1]
		} else {
			c.Trace = ""
		}
		given := slices.Clone(opt.Given)
		given = append(given, "shard")
		return NewMessage(KindStart, StartMsg{Mode: ModeFleet, K: k, N: n, Fleet: &FleetStart{Config: c, Given: given, Start: start}})
	}
	sv.Handle = func(k int, m Message) {
		switch m.T {
		case KindHello:
			helloMetrics(opt.Log, opt.Metrics, k, m)
		case KindProgress:
			var w agents.ProgressWire
			if m.Decode(&w) == nil {
				mu.Lock()
				progress[k-1] = w.Progress()
				mu.Unlock()
			}
		}
	}
	sv.Exit = func(k int) {
		if opt.Metrics != nil {
			opt.Metrics.SetSource(k, "")
		}
	}
	sv.Tick = func(running, ok, lost int) {
		if opt.Metrics != nil {
			opt.Metrics.Workers(running, ok, lost)
		}
		if opt.Progress != nil && running > 0 {
			mu.Lock()
			ps := slices.Clone(progress)
			mu.Unlock()
			opt.Progress(agents.SumProgress(ps))
		}
	}
	ends, err := sv.run(ctx)
	if err != nil {
		return nil, err
	}

	res := &FleetResult{}
	parts := make([]report.Part, 0, n)
	for k := 1; k <= n; k++ {
		sh := report.NewShard(k, n, sp.Total())
		e := ends[k-1]
		why := e.why()
		var r *report.Report
		if why == "" {
			var err error
			if r, err = readReport(e.done.Report); err != nil {
				why = "its report: " + err.Error()
			} else if e.done.Error != "" {
				opt.Log.Warn("worker ended with an error", zap.Int("worker", k), zap.String("error", e.done.Error))
			}
		}
		if r == nil {
			res.Lost = append(res.Lost, fmt.Sprintf("worker %d (devices %d–%d): %s", k, sh.First, sh.Last, why))
			parts = append(parts, report.Part{Source: "worker " + strconv.Itoa(k), Shard: sh, Lost: why, Devices: sp.ShardDevices(k, n)})
			progress[k-1].Final = true
			continue
		}
		parts = append(parts, report.Part{Source: "worker " + strconv.Itoa(k), Report: r})
	}
	res.Final = agents.SumProgress(progress)
	res.Final.Final = true
	if len(res.Lost) == n {
		return res, fmt.Errorf("every worker ended without a report: %s", joinLost(res.Lost))
	}
	m, err := report.Merge(parts)
	if err != nil {
		return res, err
	}
	m.Shard, m.LatencyState = nil, nil
	res.Report = m
	if opt.EventLog != nil {
		if err := MergeLogs(opt.EventLog, logs, sp.EventLogFormat()); err != nil {
			return res, fmt.Errorf("--event-log: %w", err)
		}
	}
	if opt.Trace != nil {
		if err := MergeLines(opt.Trace, traces, trace.StampWidth); err != nil {
			return res, fmt.Errorf("--trace: %w", err)
		}
	}
	return res, nil
}

// helloMetrics takes worker k's Hello: its metrics endpoint joins the
// aggregate.
func helloMetrics(log *zap.Logger, agg *metrics.Aggregate, k int, m Message) {
	var h Hello
	if m.Decode(&h) == nil && agg != nil && h.Metrics != "" {
		agg.SetSource(k, h.Metrics)
	}
	log.Debug("worker up", zap.Int("worker", k), zap.Int("pid", h.PID), zap.String("metrics", h.Metrics))
}

func joinLost(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

// maxWorkerReport bounds a worker's report.json.
const maxWorkerReport = 2 << 30

func readReport(path string) (*report.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return report.ReadJSON(io.LimitReader(f, maxWorkerReport))
}
