package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/scenarios"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/scenarios/workers"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// exitError is an error with its own exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitExpectations is the exit status of a run whose expectations failed.
const ExitExpectations = 3

// RunConfig is brickyard run's configuration: one key per flag, in the
// run: section (--metrics-addr is run.metrics_addr).
type RunConfig struct {
	Out           string        `mapstructure:"out"`
	MetricsAddr   string        `mapstructure:"metrics_addr"`
	MetricsExpose bool          `mapstructure:"metrics_expose"`
	Pprof         bool          `mapstructure:"pprof"`
	Dashboard     string        `mapstructure:"dashboard"`
	DashExpose    bool          `mapstructure:"dashboard_expose"`
	Linger        time.Duration `mapstructure:"linger"`
	Boards        string        `mapstructure:"boards"`
	EventLog      string        `mapstructure:"event_log"`
	EventLogFmt   string        `mapstructure:"event_log_format"`
	Clock         string        `mapstructure:"clock"`
	Seed          uint64        `mapstructure:"seed"`
	Devices       int           `mapstructure:"devices"`
	Quiet         bool          `mapstructure:"quiet"`
	Workers       int           `mapstructure:"workers"`
}

func newRunCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [SCENARIO]",
		Short: "Run a firmware campaign scenario: fleet, embedded controller, faults, report",
		Long: "run runs a scenario (a built-in name, see 'brickyard scenarios', or a YAML file):\n" +
			"it builds and signs the images, provisions the fleet, starts the embedded USP\n" +
			"controller and its file server, runs the campaign under the fault plan and\n" +
			"reports every device's outcome. With no argument it runs the built-in\n" +
			"'default' scenario. The exit status is 3 when an expectation of the scenario\n" +
			"fails, 1 on any other error. Ctrl-C stops the run and still writes the report.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := scenarios.Default
			if len(args) == 1 {
				name = args[0]
			}
			return runScenario(cmd.Context(), a, name, a.cfg.Run, a.given("run"))
		},
	}
	fl := cmd.Flags()
	fl.String("out", "", "write report.json and report.html into `DIR`")
	fl.String("metrics-addr", "", "serve Prometheus metrics on `ADDR` (loopback, e.g. 127.0.0.1:9464)")
	fl.Bool("metrics-expose", false, "allow --metrics-addr on an address other hosts can reach (e.g. 0.0.0.0:9464 in a pod)")
	fl.Bool("pprof", false, "also serve Go's profiles (/debug/pprof/) on --metrics-addr")
	fl.String("dashboard", "", "serve a live web dashboard of the run on `ADDR` (loopback, e.g. 127.0.0.1:8080; docs/dashboard.md)")
	fl.Bool("dashboard-expose", false, "allow --dashboard on an address other hosts can reach")
	fl.Duration("linger", 0, "once the run is over, keep --dashboard and --metrics-addr serving its final state this long (Ctrl-C ends it sooner)")
	fl.String("boards", "", "also read board profiles from `FILE`")
	fl.String("event-log", "", "write the fleet's event log to `FILE`")
	fl.String("event-log-format", "text", "the event log's `FORMAT`: text (a line an event) or json (an object a line; docs/events.md)")
	fl.String("clock", "", "override the scenario's clock: virtual or real")
	fl.Uint64("seed", 0, "override the scenario's seed")
	fl.Int("devices", 0, "resize the fleet to `N` devices, keeping the boards' proportions")
	fl.Bool("quiet", false, "no progress display")
	fl.Int("workers", 0, "hold a real-time run's devices in `K` worker processes, the controller in this one (0: as many as the open-file limit needs; 1: this process)")
	bindSection(fl, "run")
	return cmd
}

// runWorkers is how many processes hold the run's devices: --workers, or
// with 0 as many as the open-file limit needs (1: this process).
func runWorkers(f RunConfig, sc *scenarios.Scenario, bench bool) (int, error) {
	switch {
	case f.Workers < 0 || f.Workers > 1024:
		return 0, fmt.Errorf("--workers: %d: want 0 (as many as needed) to 1024", f.Workers)
	case f.Workers > 1 && sc.Clock != "real":
		return 0, fmt.Errorf("--workers: %d: workers hold a real-time run's devices; a virtual-time run holds its fleet in one process (--clock real for workers)", f.Workers)
	case f.Workers > 1 && (bench || len(sc.Bench) > 0):
		return 0, errors.New("--workers: bench boards join a run in one process (--workers 1)")
	case f.Workers > sc.Devices():
		return 0, fmt.Errorf("--workers: %d workers for %d devices: some would have none", f.Workers, sc.Devices())
	case f.Workers > 0:
		return f.Workers, nil
	case bench || len(sc.Bench) > 0:
		return 1, nil
	}
	return sc.FitWorkers(), nil
}

func runScenario(ctx context.Context, a *app, name string, f RunConfig, given func(string) bool) error {
	sc, err := scenarios.Open(name)
	if err != nil {
		return err
	}
	if f.Clock != "" {
		if err := sc.SetClock(f.Clock); err != nil {
			return fmt.Errorf("--clock: %w", err)
		}
	}
	if given("seed") {
		if f.Seed == 0 {
			return errors.New("--seed: 0: want a seed from 1")
		}
		sc.Seed = f.Seed
	}
	if given("devices") {
		if err := sc.Scale(f.Devices); err != nil {
			return fmt.Errorf("--devices: %w", err)
		}
	}
	profiles, err := loadProfiles(f.Boards)
	if err != nil {
		return err
	}
	if f.Out != "" {
		if err := os.MkdirAll(f.Out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	idx, err := index.New()
	if err != nil {
		return err
	}
	opt := scenarios.Options{Profiles: profiles, Index: idx,
		Logf: func(format string, args ...any) {
			if strings.HasPrefix(format, "bench:") { // where a lab's tools find the bench boards
				a.log.Info(fmt.Sprintf(format, args...))
				return
			}
			a.log.Debug(fmt.Sprintf(format, args...))
		},
		Bench: a.cfg.Bench.Boards, PDUAddr: a.cfg.Bench.PDUAddr, PDUHostname: a.cfg.Bench.PDUHostname}
	if opt.EventLogFormat, err = fleet.ParseLogFormat(f.EventLogFmt); err != nil {
		return fmt.Errorf("--event-log-format: %w", err)
	}
	if f.EventLog != "" {
		lf, err := os.Create(f.EventLog)
		if err != nil {
			return fmt.Errorf("--event-log: %w", err)
		}
		defer lf.Close()
		bw := bufio.NewWriterSize(lf, 64<<10)
		defer bw.Flush()
		opt.EventLog = bw
	}
	m, stopMetrics, err := serveMetrics(a.log, f.MetricsAddr, f.MetricsExpose, f.Pprof, idx, metrics.RoleController)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if m != nil {
		opt.Metrics = m
	}
	if err := checkLinger(f.Linger, f.Dashboard, f.MetricsAddr); err != nil {
		return err
	}
	live, stopDash, err := serveDashboard(a.log, f.Dashboard, f.DashExpose,
		dashboard.Config{Title: sc.Title(), Plan: sc.PlanText(), Index: idx})
	if err != nil {
		return err
	}
	defer stopDash()
	opt.Live = live
	if !f.Quiet {
		opt.Progress = progressPrinter(a.stderr, isTerminal(a.stderr), time.Now)
	}
	n, err := runWorkers(f, sc, len(a.cfg.Bench.Boards) > 0)
	if err != nil {
		return err
	}
	var hosts *workers.RunHosts
	if n > 1 {
		spec, dir, cleanup, err := workerSpecDir(a)
		if err != nil {
			return err
		}
		defer cleanup()
		hosts = &workers.RunHosts{Spec: spec, N: n, Scenario: sc.Ref(), Boards: f.Boards, Log: a.log, Dir: dir, EventLog: opt.EventLog,
			EventLogFormat: opt.EventLogFormat}
		opt.Hosts, opt.EventLog = hosts, nil
		a.log.Info("devices in workers", zap.Int("workers", n), zap.Int("devices", sc.Devices()))
	}
	a.log.Info("run", zap.String("scenario", sc.Name), zap.String("clock", sc.Clock), zap.Uint64("seed", sc.Seed))
	r, runErr := scenarios.Run(ctx, sc, opt)
	if r == nil {
		return runErr
	}
	if err := report.WriteSummary(a.stdout, r); err != nil {
		return err
	}
	if f.Out != "" {
		if err := writeReports(f.Out, r); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "\nreports: %s, %s\n", filepath.Join(f.Out, "report.json"), filepath.Join(f.Out, "report.html"))
	}
	linger(ctx, a.log, f.Linger)
	if runErr != nil {
		return runErr
	}
	if hosts != nil && len(hosts.Lost()) > 0 {
		for _, l := range hosts.Lost() {
			a.log.Error("worker lost", zap.String("what", l))
		}
		return fmt.Errorf("%d of %d workers lost: the report counts their devices as %s", len(hosts.Lost()), n, report.Lost)
	}
	if r.Interrupted && ctx.Err() != nil {
		return errors.New("interrupted: the report shows what happened until then")
	}
	if failed := scenarios.Failed(r); len(failed) > 0 {
		var msgs []string
		for _, e := range failed {
			msgs = append(msgs, fmt.Sprintf("expectation failed: %s (was %g)", e.Expr, e.Value))
		}
		return &exitError{code: ExitExpectations, err: errors.New(strings.Join(msgs, "\n"))}
	}
	return nil
}
