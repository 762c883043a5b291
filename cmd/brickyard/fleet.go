package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/mtp/fdlimit"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// fleetFlags are the flags of `brickyard fleet`, as given.
type fleetFlags struct {
	// Where the controller is.
	wsURL, mqtt, stomp             string
	controllerID                   string
	agentTopic, controllerTopic    string
	agentDest, controllerDest      string
	mqttVersion, clientID          string
	stompVHost                     string
	stompTransient                 bool
	keepAlive                      time.Duration
	tlsCA, tlsCert, tlsKey         string
	tlsServerName                  string
	username, password, passwdFile string
	sources                        string

	// The fleet.
	scenario                string
	devices                 int
	board, boardsMix        string
	version                 string
	ids, serials            string
	faults                  string
	connectRate             float64
	connectJitter           time.Duration
	duration                time.Duration
	seed                    uint64
	reboot, trial, periodic time.Duration
	retryMin                time.Duration
	retryMult               uint32
	boards                  string
	trust                   []string
	images                  []string
	writeKey                string
	shard                   string
	responseTimeout         time.Duration
	downloadTimeout         time.Duration
	downloadStall           time.Duration
	downloads               int

	// Output.
	out, metricsAddr, eventLog string
	quiet, dumpModel           bool
	metricsExpose              bool
}

func newFleetCmd(a *app) *cobra.Command {
	var f fleetFlags
	cmd := &cobra.Command{
		Use:   "fleet (--ws-url URL | --mqtt BROKER | --stomp BROKER) --controller-id ID [flags]",
		Short: "Run simulated devices against a USP controller that is not brickyard's",
		Long: "fleet runs only the simulated devices (the same devices, boards and fault plan as\n" +
			"'brickyard run') and points them at a controller under test: directly over\n" +
			"WebSocket (--ws-url), or through its MQTT (--mqtt) or STOMP (--stomp) broker.\n" +
			"The controller may subscribe, Get, Set and Operate Download()/Activate()/Reboot()\n" +
			"as it pleases; the devices fetch images from the URLs it gives. It runs until\n" +
			"--duration ends or it is interrupted (Ctrl-C), then prints a summary and, with\n" +
			"--out, writes report.json and report.html. The boards trust the fleet's own\n" +
			"signing key (derived from --seed; --write-key writes it for 'brickyard image pack')\n" +
			"and the --trust keys. 'fleet --devices 1 --dump-model' prints one device's data\n" +
			"model and exits. docs/fleet.md has examples for WebSocket, mosquitto and RabbitMQ.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFleet(cmd.Context(), a, f, cmd.Flags().Changed)
		},
	}
	fl := cmd.Flags()
	// Where.
	fl.StringVar(&f.wsURL, "ws-url", "", "the controller's WebSocket endpoint `URL`: ws://HOST:PORT/PATH or wss://…")
	fl.StringVar(&f.mqtt, "mqtt", "", "MQTT broker `HOST:PORT` (tcp:// or tls:// in front to choose; --tls-* imply tls)")
	fl.StringVar(&f.stomp, "stomp", "", "STOMP broker `HOST:PORT` (tls:// in front, or any --tls-* flag, for TLS)")
	fl.StringVar(&f.controllerID, "controller-id", "", "the controller's USP endpoint `ID` (required), e.g. proto::controller")
	fl.StringVar(&f.agentTopic, "agent-topic", "usp/agent/{eid}", "MQTT: each agent's own topic; {eid} is its endpoint ID")
	fl.StringVar(&f.controllerTopic, "controller-topic", "usp/controller/{eid}", "MQTT: the controller's topic; {eid} is the controller's ID")
	fl.StringVar(&f.mqttVersion, "mqtt-version", "5", "MQTT protocol `VERSION`: 5 or 3.1.1")
	fl.StringVar(&f.clientID, "client-id", "", "MQTT client identifier; {eid} is the agent's ID (default: 5 lets the broker assign one, 3.1.1 uses the endpoint ID)")
	fl.StringVar(&f.agentDest, "agent-dest", "/queue/agent-{eid}", "STOMP: each agent's own destination; {eid} is its endpoint ID")
	fl.StringVar(&f.controllerDest, "controller-dest", "", "STOMP: the controller's destination (required with --stomp), e.g. /queue/controller")
	fl.StringVar(&f.stompVHost, "stomp-vhost", "", "STOMP virtual host (the host header; default \"/\")")
	fl.BoolVar(&f.stompTransient, "stomp-transient", false, "STOMP: send durable:false/auto-delete:true queue headers (only when the controller does too)")
	fl.DurationVar(&f.keepAlive, "keepalive", 0, "MQTT keep-alive / STOMP heart-beat period (0: MQTT 60s, STOMP none)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM `FILE` of the CA certificates that sign the controller's or broker's certificate (default: the system's)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM client certificate `FILE` (mutual TLS; with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `FILE` of --tls-cert")
	fl.StringVar(&f.tlsServerName, "tls-server-name", "", "`NAME` to check in the server's certificate (default: the host dialled)")
	fl.StringVar(&f.username, "username", "", "broker user name (MQTT, STOMP login; WebSocket: HTTP Basic auth)")
	fl.StringVar(&f.password, "password", "", "broker password (visible in the process list: prefer --password-file)")
	fl.StringVar(&f.passwdFile, "password-file", "", "read the broker password from the first line of `FILE`")
	fl.StringVar(&f.sources, "sources", "", "local source `ADDRS`, round-robin, e.g. 127.0.1.1-127.0.1.8 (for more than ~28,000 connections to one address)")
	// The fleet.
	fl.StringVar(&f.scenario, "scenario", "", "take the fleet, device timings, faults, trust and seed from `SCENARIO` (a built-in name or a file); flags override")
	fl.IntVar(&f.devices, "devices", 1, "number of devices (of --board)")
	fl.StringVar(&f.board, "board", "uboot-nor", "board profile of the devices (see 'brickyard boards')")
	fl.StringVar(&f.boardsMix, "boards-mix", "", "devices per board instead of --devices/--board: `LIST` of PROFILE=N[@VERSION], e.g. uboot-nor=600,mcuboot-nrf52=400@2.0.0")
	fl.StringVar(&f.version, "version", "1.0.0", "starting firmware `VERSION` of every device (built and signed with the fleet's key)")
	fl.StringVar(&f.ids, "ids", "os::00256D-SIM{n:06}", "endpoint-ID `PATTERN`; {n} or {n:0W} is the device's number from 1")
	fl.StringVar(&f.serials, "serials", "SIM{n:06}", "serial-number `PATTERN` (Device.DeviceInfo.SerialNumber)")
	fl.StringVar(&f.faults, "faults", "", "fault plan: YAML `FILE` holding a list of rules (the faults: section of a scenario)")
	fl.Float64Var(&f.connectRate, "connect-rate", 0, "power-ons per second (0: all at once)")
	fl.DurationVar(&f.connectJitter, "connect-jitter", 0, "add up to this much to each device's power-on")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the devices, the fault plan and the fleet's signing key")
	fl.DurationVar(&f.reboot, "reboot", 0, "how long a reboot keeps a device off (default 30s)")
	fl.DurationVar(&f.trial, "trial", 0, "trial period of a new image before it rolls back (default 5m)")
	fl.DurationVar(&f.retryMin, "retry-min-wait", 0, "TR-369 SessionRetryMinimumWaitInterval of the devices (default 5s)")
	fl.Uint32Var(&f.retryMult, "retry-multiplier", 0, "TR-369 SessionRetryIntervalMultiplier, in thousandths (default 2000 = 2.0)")
	fl.DurationVar(&f.periodic, "periodic", 0, "factory PeriodicNotifInterval of the controller, whole seconds (default 24h)")
	fl.StringVar(&f.boards, "boards", "", "also read board profiles from `FILE`")
	fl.StringArrayVar(&f.trust, "trust", nil, "PEM public key `FILE` the boards also trust (repeatable), e.g. from 'brickyard image keygen'")
	fl.StringArrayVar(&f.images, "image", nil, "factory image of a board profile from `PROFILE=FILE`, in any format its bootloader takes, signed by a --trust key (repeatable); its version replaces --version for that board")
	fl.StringVar(&f.writeKey, "write-key", "", "write the fleet's signing key to `FILE` (and its public key to FILE.pub) for 'brickyard image pack --key'")
	fl.StringVar(&f.shard, "shard", "", "run only shard `K/N` of the fleet (devices (K-1)·T/N+1 to K·T/N of T), one process per shard")
	fl.DurationVar(&f.responseTimeout, "response-timeout", 30*time.Second, "report a device request the controller leaves unanswered this long")
	fl.DurationVar(&f.downloadTimeout, "download-timeout", 10*time.Minute, "a device's image download fails after this long")
	fl.DurationVar(&f.downloadStall, "download-stall-timeout", time.Minute, "a device's image download fails when nothing arrives for this long")
	fl.IntVar(&f.downloads, "downloads", 256, "image downloads under way at once in this process (each holds up to its slot's size); the others wait")
	// Output.
	fl.StringVar(&f.out, "out", "", "write report.json and report.html into `DIR`")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `ADDR` (loopback, e.g. 127.0.0.1:9464)")
	fl.BoolVar(&f.metricsExpose, "metrics-expose", false, "allow --metrics-addr on an address other hosts can reach (e.g. 0.0.0.0:9464 in a pod)")
	fl.StringVar(&f.eventLog, "event-log", "", "write the fleet's event log to `FILE`")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress display")
	fl.BoolVar(&f.dumpModel, "dump-model", false, "print the first device's data model: alone (no controller flags) and exit, or at the end of the run")
	return cmd
}

// filesPerAgent is what one agent holds open in this process: its socket
// to the controller or broker.
const filesPerAgent = 1

// fileReserve is the open files kept for the rest of the process: the
// metrics listener, the event log, image downloads in flight, the runtime.
const fileReserve = 128

func runFleet(ctx context.Context, a *app, f fleetFlags, changed func(string) bool) error {
	sp, err := resolveFleet(f, changed)
	if err != nil {
		return err
	}
	for _, w := range sp.warnings {
		a.log.Warn(w)
	}
	b, err := buildFleet(sp)
	if err != nil {
		return err
	}
	if f.writeKey != "" {
		if err := writeFleetKey(a, f.writeKey, b.key); err != nil {
			return err
		}
	}
	a.log.Info("fleet signing key", zap.String("key_id", fmt.Sprintf("%x", b.keyID)), zap.Int("trusted_keys", 1+len(sp.trust)),
		zap.String("hint", "images for these devices must be signed by it (--write-key) or by a --trust key"))

	if sp.transport == "" { // --dump-model alone
		return dumpOnly(a, sp, b)
	}
	lo, hi := sp.shardRange()
	if err := fdlimit.Check(hi-lo, filesPerAgent, fileReserve); err != nil {
		return fmt.Errorf("--devices: %w", err)
	}
	tr, err := sp.dialer(a.log)
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	idx, err := index.New()
	if err != nil {
		return err
	}
	m, stopMetrics, err := serveMetrics(a.log, f.metricsAddr, f.metricsExpose, idx)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if m != nil {
		m.Dropped("agents", tr.drops)
	}
	cfg := sp.realConfig(b, tr, idx)
	if f.eventLog != "" {
		lf, err := os.Create(f.eventLog)
		if err != nil {
			return fmt.Errorf("--event-log: %w", err)
		}
		defer lf.Close()
		bw := bufio.NewWriterSize(lf, 64<<10)
		defer bw.Flush()
		cfg.Log = &lockedWriter{w: bw}
	}
	tf := newTraffic(sp.controllerID, sp.responseTimeout, a.log, m)
	cfg.Observe = tf.observer()
	rf, err := fleet.NewReal(cfg)
	if err != nil {
		return err
	}
	// Every device in the index from the start (off, disconnected), so
	// that the display and the metrics count the whole fleet at once.
	all := make([]index.Device, rf.Len())
	for n := range all {
		all[n] = rf.Record(n)
	}
	if err := idx.PutAll(all); err != nil {
		return err
	}
	fetchClient := cfg.Fetcher.(*fleet.HTTPFetcher).Client
	defer fetchClient.CloseIdleConnections()

	a.log.Info("fleet", zap.Int("devices", rf.Len()), zap.String("mtp", tr.protocol), zap.String("controller", tr.where),
		zap.String("controller_id", sp.controllerID), zap.String("first", rf.ID(0)), zap.String("last", rf.ID(rf.Len()-1)),
		zap.Uint64("seed", sp.seed), zap.Duration("duration", sp.duration))

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runErr error
	ran := make(chan struct{})
	go func() { defer close(ran); runErr = rf.Run(runCtx) }()

	var show func(fleetProgress)
	if !f.quiet {
		show = fleetProgressPrinter(a.stderr, isTerminal(a.stderr))
	}
	start := time.Now()
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
			if show != nil {
				show(progressOf(now.Sub(start), idx, tf, false))
			}
		}
	}
	tk.Stop()
	cancel()
	<-ran
	end := time.Now()
	tf.sweep(end)
	samples = append(samples, sampleAt{end, idx.Counts(index.ByOutcome)})
	if show != nil {
		show(progressOf(end.Sub(start), idx, tf, true))
	}
	r := fleetReport(sp, tr, rf, tf, start, end, samples, interrupted)
	if err := printFleetSummary(a.stdout, r, tf, tr, sp.controllerID); err != nil {
		return err
	}
	if f.dumpModel {
		fmt.Fprintln(a.stdout)
		if err := dumpModel(a.stdout, rf.Device(0), rf.ID(0), sp.controllerID, rf.Record(0).Board, tr.protocol, time.Now()); err != nil {
			return fmt.Errorf("--dump-model: %w", err)
		}
	}
	if f.out != "" {
		if err := writeReports(f.out, r); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(a.stdout, "\nreports: %s, %s\n", filepath.Join(f.out, "report.json"), filepath.Join(f.out, "report.html"))
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}

// lockedWriter serialises writes; the fleet's devices log concurrently
// (fleet.Real serialises its own lines, this guards the final Flush too).
type lockedWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// parseShard reads "K/N".
func parseShard(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(ks))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("%q: want K/N with 1 ≤ K ≤ N, e.g. 2/4", s)
	}
	return k, n, nil
}

// checkDuration refuses a negative duration flag.
func checkDuration(name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--%s: %s is negative", name, d)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
