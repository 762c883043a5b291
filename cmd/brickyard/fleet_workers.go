package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"brickyard/scenarios/agents"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/trace"
	"brickyard/scenarios/workers"
	"brickyard/sim/index"
)

// fleetWorkers is how many processes the fleet runs in: --workers, or
// with 0 as many as the open-file limit needs (1: this process).
func fleetWorkers(f agents.Config, sp *agents.Spec) (int, error) {
	switch {
	case f.Workers < 0 || f.Workers > 1024:
		return 0, fmt.Errorf("--workers: %d: want 0 (as many as needed) to 1024", f.Workers)
	case f.Workers > 1 && sp.Sharded():
		return 0, errors.New("--workers: not with --shard: a shard runs in one process (split the fleet into more shards instead)")
	case f.Workers > sp.Total():
		return 0, fmt.Errorf("--workers: %d workers for %d devices: some would have none", f.Workers, sp.Total())
	case f.Workers > 0:
		return f.Workers, nil
	case sp.Sharded():
		return 1, nil
	}
	return sp.FitWorkers(), nil
}

// runFleetWorkers runs the fleet in n worker processes of this binary,
// shard k/n in worker k, and shows and reports it as one: one progress
// line, one metrics endpoint, one summary, one merged report.
func runFleetWorkers(ctx context.Context, a *app, sp *agents.Spec, n int) error {
	f := a.cfg.Fleet
	switch {
	case len(a.cfg.Bench.Boards) > 0:
		return errors.New("--workers: bench boards join a fleet in one process (--workers 1)")
	case f.DumpModel:
		return errors.New("--dump-model: not with --workers; run --devices 1 --dump-model alone")
	}
	if f.Out != "" {
		if err := os.MkdirAll(f.Out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	spec, dir, cleanup, err := workerSpecDir(a)
	if err != nil {
		return err
	}
	defer cleanup()
	opt := workers.FleetOptions{Spec: spec, N: n, Config: f, Given: a.givenFlags("fleet"), Log: a.log, Dir: dir}
	if f.MetricsAddr != "" {
		opt.Metrics = metrics.NewAggregate(newMetrics(metrics.RoleAgent), n)
	}
	stop, err := serveAggregate(a.log, f.MetricsAddr, f.MetricsExpose, f.Pprof, opt.Metrics)
	if err != nil {
		return err
	}
	defer stop()
	if f.EventLog != "" {
		lf, err := os.Create(f.EventLog)
		if err != nil {
			return fmt.Errorf("--event-log: %w", err)
		}
		defer lf.Close()
		opt.EventLog = lf
	}
	if f.Trace != "" {
		if _, err := trace.ParseSelector(f.Trace); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		file := agents.TraceFile(f)
		if file == "" {
			return errors.New("--trace: no --trace-file, and no --out to put trace.jsonl in")
		}
		tf, err := os.Create(file)
		if err != nil {
			return fmt.Errorf("--trace-file: %w", err)
		}
		defer tf.Close()
		opt.Trace = tf
	}
	idx, err := index.New()
	if err != nil {
		return err
	}
	live, stopDash, err := serveDashboard(a.log, f.Dashboard, f.DashExpose,
		dashboard.Config{Title: sp.Title() + fmt.Sprintf(" in %d workers", n), Index: idx})
	if err != nil {
		return err
	}
	defer stopDash()
	var show func(agents.Progress)
	if !f.Quiet {
		show = agents.NewProgressPrinter(a.stderr, isTerminal(a.stderr))
	}
	if show != nil || live != nil {
		opt.Progress = func(p agents.Progress) {
			live.Sample(p.Sample())
			if show != nil {
				show(p)
			}
		}
	}
	a.log.Info("fleet in workers", zap.Int("workers", n), zap.Int("devices", sp.Total()))
	res, runErr := workers.RunFleet(ctx, sp, opt)
	if res == nil {
		return runErr
	}
	if opt.Progress != nil {
		opt.Progress(res.Final)
	}
	for _, l := range res.Lost {
		a.log.Error("worker lost", zap.String("what", l))
	}
	if res.Report == nil {
		return runErr
	}
	if err := agents.WriteMergedSummary(a.stdout, res.Report, res.Final, sp); err != nil {
		return err
	}
	if opt.Trace != nil {
		fmt.Fprintf(a.stdout, "trace: the %d workers' traces merged in %s (each bounded by --trace-max)\n", n, agents.TraceFile(f))
	}
	if f.Out != "" {
		if err := writeReports(f.Out, res.Report); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(a.stdout, "\nreports: %s, %s\n", filepath.Join(f.Out, "report.json"), filepath.Join(f.Out, "report.html"))
	}
	linger(ctx, a.log, f.Linger)
	if runErr != nil {
		return runErr
	}
	if len(res.Lost) > 0 {
		return fmt.Errorf("%d of %d workers lost: the report counts their devices as %s", len(res.Lost), n, "lost")
	}
	return nil
}
