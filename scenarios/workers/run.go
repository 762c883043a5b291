package workers

import (
	"brickyard/sim/fleet"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"brickyard/mtp"
	"brickyard/scenarios"
	"brickyard/scenarios/fileserver"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/sim/index"
)

// ModeRun is a worker holding a shard of brickyard run's devices
// (RunStart) against the parent's embedded controller.
const ModeRun = "run"

// RunStart is a run worker's start: the scenario as the parent holds it,
// the board profiles file, where the parent's controller and file server
// are, and where the worker writes what it ends with.
type RunStart struct {
	Scenario scenarios.Ref      `json:"scenario"`
	Boards   string             `json:"boards,omitempty"`
	Endpoint scenarios.Endpoint `json:"endpoint"`
	Out      string             `json:"out"`                 // a folder of the worker's: rows.json
	EventLog string             `json:"event_log,omitempty"` // a file, if the run keeps an event log
	// EventLogFormat is its format: text ("") or json.
	EventLogFormat string `json:"event_log_format,omitempty"`
}

// RunProgress is what a run worker says about every second: its devices
// that changed since it last said (as the fleet index holds them), and the
// reconnections since then.
type RunProgress struct {
	Devices      []index.Device `json:"devices,omitempty"`
	Reconnects   int            `json:"reconnects,omitempty"`
	DialFailures int            `json:"dial_failures,omitempty"`
	Losses       int            `json:"session_losses,omitempty"`
	Events       []DeviceEvent  `json:"events,omitempty"` // the lines metrics.Counted counts
}

// DeviceEvent is one line of a device's event log.
type DeviceEvent struct {
	ID     string    `json:"id"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// maxProgressDevices bounds the devices of one progress message (a frame
// stays far under MaxFrame); more go in several.
const maxProgressDevices = 20_000

// RunHosts holds brickyard run's devices in N worker processes of this
// binary, shard k/N in worker k (scenarios.Hosts): each worker builds its
// shard from the scenario as the parent does and dials the parent's
// transport; the parent's fleet index mirrors the workers' devices.
type RunHosts struct {
	Spec     Spec
	N        int
	Scenario scenarios.Ref // the run's, as the parent holds it
	Boards   string        // the board profiles file, if any
	Log      *zap.Logger
	Dir      string    // the workers' rows and event logs (a temporary folder)
	EventLog io.Writer // if set, the workers' event logs merged in time order at the end
	// EventLogFormat is their format.
	EventLogFormat fleet.LogFormat
	// StopGrace is how long the workers have to end once told to stop
	// before they are killed (default DefaultStopGrace).
	StopGrace time.Duration

	lost []string
}

// Lost says, after Run, which workers were lost and why.
func (h *RunHosts) Lost() []string { return h.lost }

var _ scenarios.Hosts = (*RunHosts)(nil)

// Run implements scenarios.Hosts: it runs the workers until ctx ends, then
// tells them to stop and takes every worker's rows. A worker that crashed,
// was killed or left no rows is lost: its devices have no row.
func (h *RunHosts) Run(ctx context.Context, ep scenarios.Endpoint, idx *index.Index, m scenarios.Metrics) (*scenarios.HostsResult, error) {
	sc, err := scenarios.FromRef(h.Scenario)
	if err != nil {
		return nil, err
	}
	total, n := sc.Devices(), h.N
	if n < 2 || n > total {
		return nil, fmt.Errorf("--workers: %d workers for %d devices: want 2 to %d", n, total, total)
	}
	logs := make([]string, n)
	sv := supervisor{Spec: h.Spec, N: n, Log: h.Log, Grace: h.StopGrace}
	sv.Start = func(k int) (Message, error) {
		rs := RunStart{Scenario: h.Scenario, Boards: h.Boards, Endpoint: ep, Out: filepath.Join(h.Dir, "worker-"+strconv.Itoa(k))}
		if h.EventLog != nil {
			logs[k-1] = filepath.Join(h.Dir, "events-"+strconv.Itoa(k)+".log")
			rs.EventLog = logs[k-1]
			if h.EventLogFormat == fleet.LogJSON {
				rs.EventLogFormat = "json"
			}
		}
		return NewMessage(KindStart, StartMsg{Mode: ModeRun, K: k, N: n, Run: &rs})
	}
	sv.Handle = func(k int, msg Message) {
		switch msg.T {
		case KindHello:
			helloMetrics(h.Log, nil, k, msg)
		case KindProgress:
			var p RunProgress
			if err := msg.Decode(&p); err != nil {
				h.Log.Warn("a worker's progress", zap.Int("worker", k), zap.Error(err))
				return
			}
			if err := idx.PutAll(p.Devices); err != nil {
				h.Log.Warn("a worker's devices", zap.Int("worker", k), zap.Error(err))
			}
			if m != nil {
				for range p.Reconnects {
					m.Reconnect()
				}
				for range p.DialFailures {
					m.DialFailure()
				}
				for range p.Losses {
					m.SessionLost()
				}
				for _, e := range p.Events {
					m.DeviceEvent(e.ID, e.Kind, e.Detail, e.At)
				}
			}
		}
	}
	ends, err := sv.run(ctx)
	if err != nil {
		return nil, err
	}
	res := &scenarios.HostsResult{Rows: make([]scenarios.DeviceRow, total)}
	for k := 1; k <= n; k++ {
		first, last := report.ShardRange(k, n, total)
		e := ends[k-1]
		why := e.why()
		if why == "" {
			sr, err := readRows(e.done.Report)
			switch {
			case err != nil:
				why = "its devices: " + err.Error()
			case len(sr.Rows) != last-first+1:
				why = fmt.Sprintf("its devices: %d rows for %d devices", len(sr.Rows), last-first+1)
			default:
				copy(res.Rows[first-1:], sr.Rows)
				res.Errors = scenarios.AddCounts(res.Errors, sr.Errors)
				res.Dropped = scenarios.AddCounts(res.Dropped, sr.Dropped)
				if e.done.Error != "" {
					h.Log.Warn("worker ended with an error", zap.Int("worker", k), zap.String("error", e.done.Error))
				}
			}
		}
		if why != "" {
			res.Lost = append(res.Lost, fmt.Sprintf("worker %d (devices %d–%d): %s", k, first, last, why))
		}
	}
	h.lost = res.Lost
	if h.EventLog != nil {
		if err := MergeLogs(h.EventLog, logs, h.EventLogFormat); err != nil {
			return res, fmt.Errorf("--event-log: %w", err)
		}
	}
	if len(res.Lost) == n {
		return res, fmt.Errorf("every worker ended without its devices: %s", joinLost(res.Lost))
	}
	return res, nil
}

// maxRows bounds a worker's rows.json.
const maxRows = 2 << 30

func readRows(path string) (*scenarios.ShardResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sr scenarios.ShardResult
	dec := json.NewDecoder(bufio.NewReaderSize(io.LimitReader(f, maxRows), 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &sr, nil
}

// run is a run worker: its shard of the run's devices against the
// parent's controller until the parent says stop, then their rows.
func (w *worker) run(ctx context.Context) error {
	rs := w.st.Run
	sc, err := scenarios.FromRef(rs.Scenario)
	if err != nil {
		return w.done("", err)
	}
	profiles, err := w.env.Profiles(rs.Boards)
	if err != nil {
		return w.done("", err)
	}
	idx, err := index.New()
	if err != nil {
		return w.done("", err)
	}
	if err := w.c.SendBody(KindHello, Hello{PID: os.Getpid()}); err != nil {
		return err
	}
	rc := &reconnects{}
	opt := scenarios.Options{Profiles: profiles, Index: idx, Metrics: rc,
		Logf: func(format string, args ...any) { w.log.Debug(fmt.Sprintf(format, args...)) }}
	if rs.EventLog != "" {
		bw, closeLog, err := openEventLog(rs.EventLog)
		if err != nil {
			return w.done("", err)
		}
		defer closeLog()
		opt.EventLog = bw
		if opt.EventLogFormat, err = fleet.ParseLogFormat(rs.EventLogFormat); err != nil {
			return w.done("", err)
		}
	}
	mirror := &mirror{idx: idx, last: map[string]index.Device{}, send: func(p RunProgress) { _ = w.c.SendBody(KindProgress, p) }, rc: rc}
	mctx, stopMirror := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); mirror.every(mctx, time.Second) }()
	res, runErr := scenarios.RunShard(ctx, sc, opt, scenarios.Shard{K: w.st.K, N: w.st.N, Endpoint: rs.Endpoint})
	stopMirror()
	wg.Wait()
	mirror.once() // the devices as they ended
	if res == nil {
		return w.done("", runErr)
	}
	file, err := writeRows(rs.Out, res)
	if err != nil {
		return w.done("", err)
	}
	return w.done(file, runErr)
}

// writeRows writes res as dir/rows.json and returns its path.
func writeRows(dir string, res *scenarios.ShardResult) (string, error) {
	return writeOut(dir, "rows.json", func(w io.Writer) error { return json.NewEncoder(w).Encode(res) })
}

// mirror sends a worker's devices to its parent as they change: each
// time, the ones that differ from what it sent last.
type mirror struct {
	idx  *index.Index
	last map[string]index.Device
	send func(RunProgress)
	rc   *reconnects
}

func (mi *mirror) every(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mi.once()
		}
	}
}

func (mi *mirror) once() {
	var changed []index.Device
	for _, d := range mi.idx.All() {
		if old, ok := mi.last[d.ID]; !ok || old != d {
			mi.last[d.ID] = d
			changed = append(changed, d)
		}
	}
	p := RunProgress{Reconnects: int(mi.rc.n.Swap(0)), DialFailures: int(mi.rc.dials.Swap(0)), Losses: int(mi.rc.lost.Swap(0)), Events: mi.rc.takeEvents()}
	for len(changed) > maxProgressDevices {
		mi.send(RunProgress{Devices: changed[:maxProgressDevices]})
		changed = changed[maxProgressDevices:]
	}
	for len(p.Events) > maxProgressEvents {
		mi.send(RunProgress{Events: p.Events[:maxProgressEvents]})
		p.Events = p.Events[maxProgressEvents:]
	}
	p.Devices = changed
	if len(p.Devices) > 0 || p.Reconnects > 0 || p.DialFailures > 0 || p.Losses > 0 || len(p.Events) > 0 {
		mi.send(p)
	}
}

// reconnects is a run worker's scenarios.Metrics: of what the devices'
// side measures, only the reconnections, failed dials and lost sessions go
// to the parent (in RunProgress);
// the rest is the controller's, measured by the parent.
type reconnects struct {
	n, dials, lost atomic.Int64

	mu     sync.Mutex
	events []DeviceEvent // since the last progress
}

// maxProgressEvents bounds the device events of one progress message (a
// frame stays far under MaxFrame); more go in several.
const maxProgressEvents = 20_000

func (r *reconnects) DeviceEvent(id, kind, detail string, at time.Time) {
	if !metrics.Counted(kind) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, DeviceEvent{ID: id, Kind: kind, Detail: detail, At: at})
}

func (r *reconnects) takeEvents() []DeviceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func (r *reconnects) Message(string, string)             {}
func (r *reconnects) Latency(time.Duration)              {}
func (r *reconnects) Error(uint32)                       {}
func (r *reconnects) Reconnect()                         { r.n.Add(1) }
func (r *reconnects) DialFailure()                       { r.dials.Add(1) }
func (r *reconnects) SessionLost()                       { r.lost.Add(1) }
func (r *reconnects) Campaign(int, int, int, int)        {}
func (r *reconnects) Aborted(bool)                       {}
func (r *reconnects) Dropped(string, *mtp.Drops)         {}
func (r *reconnects) FileServer(func() fileserver.Stats) {}
