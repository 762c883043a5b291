package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/scenarios"
	"brickyard/scenarios/report"
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
	Out           string `mapstructure:"out"`
	MetricsAddr   string `mapstructure:"metrics_addr"`
	MetricsExpose bool   `mapstructure:"metrics_expose"`
	Boards        string `mapstructure:"boards"`
	EventLog      string `mapstructure:"event_log"`
	Clock         string `mapstructure:"clock"`
	Seed          uint64 `mapstructure:"seed"`
	Devices       int    `mapstructure:"devices"`
	Quiet         bool   `mapstructure:"quiet"`
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
	fl.String("boards", "", "also read board profiles from `FILE`")
	fl.String("event-log", "", "write the fleet's event log to `FILE`")
	fl.String("clock", "", "override the scenario's clock: virtual or real")
	fl.Uint64("seed", 0, "override the scenario's seed")
	fl.Int("devices", 0, "resize the fleet to `N` devices, keeping the boards' proportions")
	fl.Bool("quiet", false, "no progress display")
	bindSection(fl, "run")
	return cmd
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
	m, stopMetrics, err := serveMetrics(a.log, f.MetricsAddr, f.MetricsExpose, idx)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if m != nil {
		opt.Metrics = m
	}
	if !f.Quiet {
		opt.Progress = progressPrinter(a.stderr, isTerminal(a.stderr))
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
	if runErr != nil {
		return runErr
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

// writeReports writes report.json and report.html into dir, each through
// a temporary file renamed into place.
func writeReports(dir string, r *report.Report) error {
	write := func(name string, fn func(io.Writer, *report.Report) error) error {
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		bw := bufio.NewWriter(tmp)
		if err := fn(bw, r); err != nil {
			tmp.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := bw.Flush(); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err := write("report.json", report.WriteJSON); err != nil {
		return err
	}
	return write("report.html", report.WriteHTML)
}

// progressPrinter shows the fleet by state: one line rewritten in place on a
// terminal, a line every 5 s of run time otherwise.
func progressPrinter(w io.Writer, tty bool) func(scenarios.Progress) {
	var last time.Duration = -1
	return func(p scenarios.Progress) {
		if !tty && !p.Final && last >= 0 && p.Elapsed-last < 5*time.Second {
			return
		}
		last = p.Elapsed
		wave := ""
		for i, ws := range p.Waves {
			if ws.Opened {
				wave = fmt.Sprintf(" wave %d/%d (%s) %d/%d", i+1, len(p.Waves), ws.Name, ws.Done, ws.Size)
			}
		}
		line := fmt.Sprintf("%7s  %d devices  connected %d%s  |  updated %d  rolled back %d  bricked %d  failed %d  |  downloading %d  installing %d  rebooting %d  trial %d",
			p.Elapsed.Truncate(time.Second), p.Devices, p.Conn["connected"], wave,
			p.Outcomes["updated"], p.Outcomes["rolled_back"], p.Outcomes["bricked"],
			p.Outcomes["download_failed"]+p.Outcomes["install_failed"],
			p.Phases["downloading"], p.Phases["installing"], p.Phases["rebooting"]+p.Phases["off"]+p.Phases["booting"], p.Phases["trial"])
		if p.Aborted != "" {
			line += "  |  ABORTED: " + p.Aborted
		}
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Final {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintln(w, line)
	}
}
