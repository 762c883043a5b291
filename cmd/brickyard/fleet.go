package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/boards/image"
	"brickyard/scenarios/agents"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/trace"
	"brickyard/sim/index"
)

func newFleetCmd(a *app) *cobra.Command {
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
			return runFleet(cmd.Context(), a)
		},
	}
	fl := cmd.Flags()
	// Where.
	fl.String("ws-url", "", "the controller's WebSocket endpoint `URL`: ws://HOST:PORT/PATH or wss://…")
	fl.String("mqtt", "", "MQTT broker `HOST:PORT` (tcp:// or tls:// in front to choose; --tls-* imply tls); several, comma-separated, spread the devices over them")
	fl.String("stomp", "", "STOMP broker `HOST:PORT` (tls:// in front, or any --tls-* flag, for TLS)")
	fl.String("controller-id", "", "the controller's USP endpoint `ID` (required), e.g. proto::controller")
	fl.String("agent-topic", "usp/agent/{eid}", "MQTT: each agent's own topic; {eid} is its endpoint ID")
	fl.String("controller-topic", "usp/controller/{eid}", "MQTT: the controller's topic; {eid} is the controller's ID")
	fl.String("mqtt-version", "5", "MQTT protocol `VERSION`: 5 or 3.1.1")
	fl.Int("mqtt-qos", 1, "MQTT QoS of the agents' PUBLISHes and subscriptions: 1 (the broker acknowledges every Record) or 0 (cheaper, nothing acknowledged; docs/mtp.md)")
	fl.String("client-id", "", "MQTT client identifier; {eid} is the agent's ID (default: 5 lets the broker assign one, 3.1.1 uses the endpoint ID)")
	fl.String("agent-dest", "/queue/agent-{eid}", "STOMP: each agent's own destination; {eid} is its endpoint ID")
	fl.String("controller-dest", "", "STOMP: the controller's destination (required with --stomp), e.g. /queue/controller")
	fl.String("stomp-vhost", "", "STOMP virtual host (the host header; default \"/\")")
	fl.Bool("stomp-transient", false, "STOMP: send durable:false/auto-delete:true queue headers (only when the controller does too)")
	fl.Duration("keepalive", 0, "MQTT keep-alive / STOMP heart-beat period (0: MQTT 60s, STOMP none)")
	fl.String("tls-ca", "", "PEM `FILE` of the CA certificates that sign the controller's or broker's certificate (default: the system's)")
	fl.String("tls-cert", "", "PEM client certificate `FILE` (mutual TLS; with --tls-key)")
	fl.String("tls-key", "", "PEM private key `FILE` of --tls-cert")
	fl.String("tls-server-name", "", "`NAME` to check in the server's certificate (default: the host dialled)")
	fl.String("username", "", "broker user name (MQTT, STOMP login; WebSocket: HTTP Basic auth)")
	fl.String("password", "", "broker password (visible in the process list: prefer --password-file)")
	fl.String("password-file", "", "read the broker password from the first line of `FILE`")
	fl.String("sources", "", "local source `ADDRS`, round-robin, e.g. 127.0.1.1-127.0.1.8 (for more than ~28,000 connections to one address)")
	fl.Bool("discover", false, "find the controller through DNS-SD: _usp-ctr-mqtt, -stomp, -ws ._tcp records of --dns-domain, asked of --dns-server (instead of --ws-url/--mqtt/--stomp)")
	fl.String("dns-server", "", "the unicast DNS server `HOST:PORT` --discover asks")
	fl.String("dns-domain", "", "the DNS-SD `DOMAIN` of --discover and --dns-serve, e.g. usp.example.test")
	fl.String("dns-serve", "", "serve the DNS-SD records of --dns-domain on `ADDR` (loopback, e.g. 127.0.0.1:5353): the agents (_usp-agt-*) and their controller (_usp-ctr-*)")
	fl.Bool("mdns", false, "speak Multicast DNS (RFC 6762) in local.: answer for the agents and their controller, and with --discover find the controller there")
	fl.String("mdns-group", "224.0.0.251:5353", "the mDNS `GROUP:PORT` of --mdns")
	fl.String("mdns-interface", "", "the network interface `NAME` --mdns speaks on (default: the loopback interface)")
	// The fleet.
	fl.String("scenario", "", "take the fleet, device timings, faults, trust and seed from `SCENARIO` (a built-in name or a file); flags override")
	fl.Int("devices", 1, "number of devices (of --board)")
	fl.String("board", "uboot-nor", "board profile of the devices (see 'brickyard boards')")
	fl.String("boards-mix", "", "devices per board instead of --devices/--board: `LIST` of PROFILE=N[@VERSION], e.g. uboot-nor=600,mcuboot-nrf52=400@2.0.0")
	fl.String("version", "1.0.0", "starting firmware `VERSION` of every device (built and signed with the fleet's key)")
	fl.String("ids", "os::00256D-SIM{n:06}", "endpoint-ID `PATTERN`; {n} or {n:0W} is the device's number from 1")
	fl.String("serials", "SIM{n:06}", "serial-number `PATTERN` (Device.DeviceInfo.SerialNumber)")
	fl.String("faults", "", "fault plan: YAML `FILE` holding a list of rules (the faults: section of a scenario)")
	fl.Float64("connect-rate", 0, "power-ons per second (0: all at once)")
	fl.Duration("connect-jitter", 0, "add up to this much to each device's power-on")
	fl.String("diurnal", "", "a daily pattern of the devices' power: `LOW@AT[/PERIOD]`, e.g. 0.4@3h (40 % of the devices on 3 h in, all of them half a day later, every 24 h)")
	fl.String("ramp", "", "power the devices on in steps instead of at --connect-rate: `STEP/EVERY`, e.g. 500/1m (500 more devices every minute)")
	fl.Duration("duration", 0, "stop after this long (0: run until interrupted)")
	fl.Uint64("seed", 1, "seed of the devices, the fault plan and the fleet's signing key")
	fl.Duration("reboot", 0, "how long a reboot keeps a device off (default 30s)")
	fl.Duration("trial", 0, "trial period of a new image before it rolls back (default 5m)")
	fl.Duration("retry-min-wait", 0, "TR-369 SessionRetryMinimumWaitInterval of the devices (default 5s)")
	fl.Uint32("retry-multiplier", 0, "TR-369 SessionRetryIntervalMultiplier, in thousandths (default 2000 = 2.0)")
	fl.Duration("periodic-jitter", 0, "delay each device's Periodic! by up to this much beyond the interval, drawn per device: a fleet that booted together spreads its periodic notifications")
	fl.Duration("periodic", 0, "factory PeriodicNotifInterval of the controller, whole seconds (default 24h)")
	fl.Bool("device-certs", false, "give every device a certificate of its own (urn:bbf:usp:id: subjectAltName) from a fleet CA made for the run and written to --out as device-ca.pem, or from --device-ca; wss only")
	fl.String("device-ca", "", "the fleet CA's PEM certificate `FILE` for --device-certs (with --device-ca-key)")
	fl.String("device-ca-key", "", "the fleet CA's PEM EC private key `FILE`")
	fl.Bool("check-identity", false, "refuse a controller whose TLS certificate does not name --controller-id (urn:bbf:usp:id:); wss only")
	fl.String("unknown-controllers", "", "what a device does with an endpoint that is none of its Controllers: refuse (Error 7006 to every request; the default) or untrusted (the Untrusted role: it may read Device.DeviceInfo.)")
	fl.String("boards", "", "also read board profiles from `FILE`")
	fl.StringArray("trust", nil, "public key `FILE` the boards also trust (repeatable): PEM (Ed25519, ECDSA P-256, RSA) from 'brickyard image keygen', or a U-Boot control DTB")
	fl.StringArray("image", nil, "factory image of a board profile from `PROFILE=FILE`, in any format its bootloader takes, signed by a --trust key (repeatable); its version replaces --version for that board")
	fl.String("write-key", "", "write the fleet's signing key to `FILE` (and its public key to FILE.pub) for 'brickyard image pack --key'")
	fl.String("shard", "", "run only shard `K/N` of the fleet (devices (K-1)·T/N+1 to K·T/N of T), one process per shard; K may be I+1 for a zero-based index I")
	fl.Int("workers", 0, "run the fleet in `K` worker processes that this one supervises (0: as many as the open-file limit needs, 1: in this process)")
	fl.Duration("response-timeout", 30*time.Second, "report a device request the controller leaves unanswered this long")
	fl.Duration("download-timeout", 10*time.Minute, "a device's image download fails after this long")
	fl.Duration("download-stall-timeout", time.Minute, "a device's image download fails when nothing arrives for this long")
	fl.String("model", "", "vendor data model `FILE` the devices present on top of the default one: brickyard's YAML, a GetSupportedDM+Get JSON dump, or TR-181 XML (docs/vendor-model.md); a board profile's or scenario's model: wins")
	fl.String("state-dir", "", "keep each device's state in `DIR` across runs: its flash, data model values and persistent subscriptions, saved when the fleet stops and loaded when it starts (a power cycle between runs)")
	fl.Bool("onboarded", false, "the devices leave the factory onboarded with the controller (Controller.1.OnBoardingComplete true): no OnBoardRequest until a controller asks for one")
	fl.Int("downloads", 256, "image downloads under way at once in this process (each holds up to its slot's size); the others wait")
	// Output.
	fl.String("out", "", "write report.json and report.html into `DIR`")
	fl.String("metrics-addr", "", "serve Prometheus metrics on `ADDR` (loopback, e.g. 127.0.0.1:9464)")
	fl.Bool("metrics-expose", false, "allow --metrics-addr on an address other hosts can reach (e.g. 0.0.0.0:9464 in a pod)")
	fl.Bool("pprof", false, "also serve Go's profiles (/debug/pprof/) on --metrics-addr")
	fl.String("dashboard", "", "serve a live web dashboard of the fleet on `ADDR` (loopback, e.g. 127.0.0.1:8080; docs/dashboard.md)")
	fl.Bool("dashboard-expose", false, "allow --dashboard on an address other hosts can reach")
	fl.Duration("linger", 0, "once the run is over, keep --dashboard and --metrics-addr serving its final state this long (Ctrl-C ends it sooner)")
	fl.String("event-log", "", "write the fleet's event log to `FILE`")
	fl.String("event-log-format", "text", "the event log's `FORMAT`: text (a line an event) or json (an object a line; docs/events.md)")
	fl.String("trace", "", "record the USP Records of the devices `IDS|SHARE` (endpoint IDs, comma-separated, or a share such as 1%) as JSON Lines (docs/trace.md)")
	fl.String("trace-file", "", "write --trace's lines to `FILE` (default: trace.jsonl in --out)")
	fl.Int64("trace-max", trace.DefaultMax, "stop --trace past `BYTES` (per worker with --workers), counting what it leaves out")
	fl.Bool("quiet", false, "no progress display")
	fl.Bool("dump-model", false, "print the first device's data model: alone (no controller flags) and exit, or at the end of the run")
	bindSection(fl, "fleet")
	return cmd
}

// runFleet runs brickyard fleet with the fleet: section of the loaded
// configuration (every flag is a key of it).
func runFleet(ctx context.Context, a *app) error {
	f := a.cfg.Fleet
	sp, err := agents.Resolve(f, a.given("fleet"), loadProfiles)
	if err != nil {
		return err
	}
	for _, w := range sp.Warnings() {
		a.log.Warn(w)
	}
	b, err := agents.Build(sp)
	if err != nil {
		return err
	}
	if f.WriteKey != "" {
		if err := writeFleetKey(a, f.WriteKey, b); err != nil {
			return err
		}
	}
	a.log.Info("fleet signing key", zap.String("key_id", fmt.Sprintf("%x", b.KeyID())), zap.Int("trusted_keys", sp.TrustedKeys()),
		zap.String("hint", "images for these devices must be signed by it (--write-key) or by a --trust key"))
	if !sp.HasController() { // --dump-model alone
		return agents.DumpFirst(a.stdout, sp, b)
	}
	if err := checkLinger(f.Linger, f.Dashboard, f.MetricsAddr); err != nil {
		return err
	}
	if n, err := fleetWorkers(f, sp); err != nil {
		return err
	} else if n > 1 {
		return runFleetWorkers(ctx, a, sp, n)
	}
	if f.Out != "" {
		if err := os.MkdirAll(f.Out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if p, err := sp.WriteDeviceCA(f.Out); err != nil {
			return err
		} else if p != "" {
			a.log.Info("fleet CA of the devices' certificates", zap.String("file", p),
				zap.String("hint", "the controller must trust it to accept the devices"))
		}
	}
	idx, err := index.New()
	if err != nil {
		return err
	}
	m, stopMetrics, err := serveMetrics(a.log, f.MetricsAddr, f.MetricsExpose, f.Pprof, idx, metrics.RoleAgent)
	if err != nil {
		return err
	}
	defer stopMetrics()
	live, stopDash, err := serveDashboard(a.log, f.Dashboard, f.DashExpose, dashboard.Config{Title: sp.Title(), Index: idx})
	if err != nil {
		return err
	}
	defer stopDash()
	opt := agents.Options{Log: a.log, Index: idx, Metrics: m, Live: live, Bench: a.cfg.Bench.Boards,
		PDUAddr: a.cfg.Bench.PDUAddr, PDUHostname: a.cfg.Bench.PDUHostname}
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
	if !f.Quiet {
		opt.Progress = agents.NewProgressPrinter(a.stderr, isTerminal(a.stderr))
	}
	tw, endTrace, err := agents.OpenTrace(f)
	if err != nil {
		return err
	}
	opt.Trace = tw
	res, runErr := agents.Run(ctx, sp, b, opt)
	st, traceErr := endTrace()
	if res == nil {
		return errors.Join(runErr, traceErr)
	}
	if err := res.WriteSummary(a.stdout); err != nil {
		return err
	}
	if tw != nil {
		fmt.Fprintln(a.stdout, agents.TraceLine(agents.TraceFile(f), st))
	}
	if traceErr != nil {
		return traceErr
	}
	if f.DumpModel {
		fmt.Fprintln(a.stdout)
		if err := res.DumpModel(a.stdout); err != nil {
			return fmt.Errorf("--dump-model: %w", err)
		}
	}
	if f.Out != "" {
		if err := writeReports(f.Out, res.Report); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(a.stdout, "\nreports: %s, %s\n", filepath.Join(f.Out, "report.json"), filepath.Join(f.Out, "report.html"))
	}
	linger(ctx, a.log, f.Linger)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}

// writeFleetKey writes the fleet's private key (PKCS#8 PEM, 0600) to file
// and its public key to file.pub.
func writeFleetKey(a *app, file string, b *agents.Built) error {
	privPEM, err := image.MarshalPrivateKeyPEM(b.Key())
	if err != nil {
		return err
	}
	pubPEM, err := image.MarshalPublicKeyPEM(b.Key().Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := writeNewFile(file, privPEM, 0o600, true); err != nil {
		return fmt.Errorf("--write-key: %w", err)
	}
	if err := writeNewFile(file+".pub", pubPEM, 0o644, true); err != nil {
		return fmt.Errorf("--write-key: %w", err)
	}
	fmt.Fprintf(a.stdout, "fleet signing key %x (a test key derived from the seed): wrote %s and %s.pub\n", b.KeyID(), file, file)
	return nil
}
