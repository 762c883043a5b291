package workers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"brickyard/boards/profile"
	"brickyard/scenarios/agents"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/sim/index"
)

// WorkerEnv is what a worker process takes from its binary.
type WorkerEnv struct {
	Log *zap.Logger
	// Profiles reads the board profiles (the built-in ones, and those of a
	// --boards file).
	Profiles func(file string) (profile.Set, error)
}

// Serve is a worker process: it reads its start message from c, runs what
// it asks until it is done, the parent says stop, the parent goes away (c
// closes) or ctx ends, and says Done. It returns the run's error.
func Serve(ctx context.Context, c *Conn, env WorkerEnv) error {
	defer c.Close()
	m, err := c.Recv()
	if err != nil {
		return fmt.Errorf("workers: reading the start message: %w", err)
	}
	if m.T != KindStart {
		return fmt.Errorf("workers: the first message is %q, not %q", m.T, KindStart)
	}
	var st StartMsg
	if err := m.Decode(&st); err != nil {
		return err
	}
	switch {
	case st.Mode != ModeFleet && st.Mode != ModeRun:
		return fmt.Errorf("workers: mode %q: want %q or %q", st.Mode, ModeFleet, ModeRun)
	case st.Mode == ModeFleet && st.Fleet == nil:
		return errors.New("workers: a fleet worker without its fleet")
	case st.Mode == ModeRun && st.Run == nil:
		return errors.New("workers: a run worker without its run")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &worker{c: c, env: env, st: st, log: env.Log.With(zap.Int("worker", st.K))}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the parent's messages after the start: a worker takes stop only
		defer wg.Done()
		for {
			m, err := c.Recv()
			if err != nil || m.T == KindStop {
				cancel() // told to stop, or the parent is gone
				if err != nil {
					return
				}
			}
		}
	}()
	defer func() { c.Close(); wg.Wait() }()
	if st.Mode == ModeRun {
		return w.run(runCtx)
	}
	return w.fleet(runCtx)
}

// worker is a worker process's state.
type worker struct {
	c   *Conn
	env WorkerEnv
	st  StartMsg
	log *zap.Logger
}

// done says the worker's last word.
func (w *worker) done(reportFile string, err error) error {
	d := Done{Report: reportFile}
	if err != nil {
		d.Error = err.Error()
	}
	if serr := w.c.SendBody(KindDone, d); serr != nil && err == nil {
		err = serr
	}
	return err
}

// serveMetrics serves m on addr (loopback, port 0 for any) until ctx
// ends, following idx; it returns the endpoint's URL and a stop that
// waits for its goroutines.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, idx *index.Index) (string, func(), error) {
	ln, err := metrics.Listen(addr)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = metrics.ServeListener(ctx, ln, m.Handler()) }()
	go func() { defer wg.Done(); _ = m.Follow(ctx, idx) }()
	return "http://" + ln.Addr().String() + "/metrics", func() { cancel(); wg.Wait() }, nil
}

// fleet runs the worker's shard of brickyard fleet.
func (w *worker) fleet(ctx context.Context) error {
	fs := w.st.Fleet
	given := map[string]bool{}
	for _, g := range fs.Given {
		given[g] = true
	}
	sp, err := agents.Resolve(fs.Config, func(f string) bool { return given[f] }, w.env.Profiles)
	if err != nil {
		return w.done("", err)
	}
	b, err := agents.Build(sp)
	if err != nil {
		return w.done("", err)
	}
	idx, err := index.New()
	if err != nil {
		return w.done("", err)
	}
	opt := agents.Options{Log: w.log, Index: idx, Start: fs.Start}
	hello := Hello{PID: os.Getpid()}
	if fs.Config.MetricsAddr != "" {
		opt.Metrics = metrics.New()
		url, stop, err := serveMetrics(context.Background(), fs.Config.MetricsAddr, opt.Metrics, idx)
		if err != nil {
			return w.done("", fmt.Errorf("--metrics-addr: %w", err))
		}
		defer stop()
		hello.Metrics = url
	}
	if err := w.c.SendBody(KindHello, hello); err != nil {
		return err
	}
	if fs.Config.EventLog != "" {
		bw, closeLog, err := openEventLog(fs.Config.EventLog)
		if err != nil {
			return w.done("", err)
		}
		defer closeLog()
		opt.EventLog = bw
	}
	opt.Progress = func(p agents.Progress) { _ = w.c.SendBody(KindProgress, p.Wire()) }
	tw, endTrace, err := agents.OpenTrace(fs.Config)
	if err != nil {
		return w.done("", err)
	}
	opt.Trace = tw
	res, runErr := agents.Run(ctx, sp, b, opt)
	if _, err := endTrace(); err != nil && runErr == nil {
		runErr = err
	}
	if res == nil {
		return w.done("", runErr)
	}
	file, err := writeReport(fs.Config.Out, res.Report)
	if err != nil {
		return w.done("", err)
	}
	return w.done(file, runErr)
}

// openEventLog creates a worker's event log, buffered; closeLog flushes
// and closes it.
func openEventLog(path string) (w io.Writer, closeLog func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--event-log: %w", err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	return bw, func() { _ = bw.Flush(); _ = f.Close() }, nil
}

// writeReport writes r as dir/report.json and returns its path.
func writeReport(dir string, r *report.Report) (string, error) {
	return writeOut(dir, "report.json", func(w io.Writer) error { return report.WriteJSON(w, r) })
}

// writeOut writes dir/name with write, buffered, and returns its path.
func writeOut(dir, name string, write func(io.Writer) error) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("workers: no folder for the shard's %s", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, err
}
