package agents

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/profile"
	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/scenarios"
	"brickyard/scenarios/report"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/fleet"
	"brickyard/sim/model"
)

// boardCount is count devices of one board profile starting on version.
type boardCount struct {
	profile string
	count   int
	version string
	model   *model.Model // nil: the default model only
}

// Spec is the fleet command's flags, checked and resolved.
type Spec struct {
	f         Config // as given (transport details are read from here)
	name      string // the report's scenario name
	transport string // websocket, mqtt, stomp; "" for --dump-model alone

	wsURL        *url.URL
	broker       string   // mqtt: the Config.Broker value (several: comma-separated); stomp: host:port
	brokers      []string // mqtt: the brokers, when several
	tls          bool     // mqtt/stomp: TLS to the broker
	controllerID string
	password     string
	sources      *mtp.Sources

	profiles      profile.Set
	boards        []boardCount
	ids, serials  scenarios.IDScheme
	idPattern     string
	oui           string // from an os:: endpoint-ID pattern
	plan          faults.Plan
	seed          uint64
	trust         []crypto.PublicKey
	images        map[string]string // profile → factory image file (--image)
	reportImages  []report.Image    // the factory images, for the report (buildFleet fills it)
	connectRate   float64
	connectJitter time.Duration
	ramp          fleet.Ramp
	// eventLogFormat is --event-log-format.
	eventLogFormat fleet.LogFormat
	diurnal        fleet.Diurnal
	// periodicJitter is each device's Periodic! jitter.
	periodicJitter time.Duration
	duration       time.Duration
	reboot, trial  time.Duration
	retryMin       time.Duration
	retryMult      uint32
	periodic       uint32 // seconds; 0: the device's default
	unknown        device.UnknownPolicy
	ca             *certs.CA           // --device-certs: the fleet CA
	caMade         bool                // made for this run (written to --out)
	deviceCert     *device.Certificate // what the devices show of their certificates
	checkIdentity  bool

	shardK, shardN  int
	responseTimeout time.Duration
	downloadTimeout time.Duration
	downloadStall   time.Duration
	downloads       int
	warnings        []string

	deviceTransport *device.Transport // what the devices' MTP objects say out of the factory
	boardModel      []string          // the scenario's model: per board, "" none
}

// Warnings are what Resolve accepted but the user should hear of.
func (sp *Spec) Warnings() []string { return sp.warnings }

// HasController reports whether the Spec says where a controller is;
// without one (--dump-model alone) the fleet cannot Run.
func (sp *Spec) HasController() bool { return sp.transport != "" }

// TrustedKeys is how many keys the boards trust: the fleet's own and the
// --trust keys.
func (sp *Spec) TrustedKeys() int { return 1 + len(sp.trust) }

// total is the number of devices of the whole fleet (every shard).
func (sp *Spec) total() int {
	n := 0
	for _, b := range sp.boards {
		n += b.count
	}
	return n
}

// shardRange is the devices this process runs: numbers lo+1 … hi of the
// whole fleet.
func (sp *Spec) shardRange() (lo, hi int) {
	t := sp.total()
	return (sp.shardK - 1) * t / sp.shardN, sp.shardK * t / sp.shardN
}

// Resolve checks the configuration and resolves the fleet it describes.
// changed reports whether a setting (by its flag name: "devices") was
// given by the user in any layer (file, environment, flag) rather than
// taken from the defaults: a given setting overrides what --scenario
// says. profiles reads the board profiles (the built-in ones, and those of
// the --boards file when it is not empty). Every error names the flag it
// is about.
func Resolve(f Config, changed func(flag string) bool, profiles func(file string) (profile.Set, error)) (*Spec, error) {
	if f.Discover {
		var err error
		if f, changed, err = discoverController(f, changed); err != nil {
			return nil, err
		}
	}
	if f.DNSServe != "" && f.DNSDomain == "" {
		return nil, errors.New("--dns-serve: --dns-domain is required")
	}
	if f.StateDir != "" {
		if err := os.MkdirAll(f.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
	}
	sp := &Spec{f: f, name: "fleet", seed: f.Seed, shardK: 1, shardN: 1}
	var sc *scenarios.Scenario
	if f.Scenario != "" {
		var err error
		if sc, err = scenarios.Open(f.Scenario); err != nil {
			return nil, fmt.Errorf("--scenario: %w", err)
		}
		sp.name = sc.Name
	}
	take := func(flag string) bool { return sc != nil && !changed(flag) } // the scenario gives it

	if err := sp.resolveWhere(f, changed); err != nil {
		return nil, err
	}

	// The fleet's composition.
	set, err := profiles(f.Boards)
	if err != nil {
		return nil, err
	}
	sp.profiles = set
	switch {
	case f.BoardsMix != "":
		if changed("devices") {
			return nil, errors.New("--devices: not with --boards-mix, which gives the counts")
		}
		if changed("board") {
			return nil, errors.New("--board: not with --boards-mix; give every board in the mix")
		}
		if sp.boards, err = parseBoardsMix(f.BoardsMix, f.Version); err != nil {
			return nil, fmt.Errorf("--boards-mix: %w", err)
		}
	case sc != nil && !changed("devices") && !changed("board"):
		for _, b := range sc.Fleet.Boards {
			v := b.Version
			if changed("version") {
				v = f.Version
			}
			sp.boards = append(sp.boards, boardCount{b.Profile, b.Count, v, nil})
			sp.boardModel = append(sp.boardModel, b.Model)
		}
	default:
		if f.Devices < 1 || f.Devices > 1_000_000 {
			return nil, fmt.Errorf("--devices: %d: want 1 to 1,000,000", f.Devices)
		}
		sp.boards = []boardCount{{f.Board, f.Devices, f.Version, nil}}
	}
	for _, b := range sp.boards {
		flag := "--board"
		if f.BoardsMix != "" {
			flag = "--boards-mix"
		} else if sc != nil && !changed("board") {
			flag = "--scenario"
		}
		if _, err := set.Get(b.profile); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if _, err := image.ParseVersion(b.version); err != nil {
			vflag := "--version"
			if f.BoardsMix != "" && !changed("version") {
				vflag = "--boards-mix"
			}
			return nil, fmt.Errorf("%s: %q: %w", vflag, b.version, err)
		}
	}
	if sp.total() > 1_000_000 {
		return nil, fmt.Errorf("--boards-mix: %d devices: at most 1,000,000", sp.total())
	}
	if err := sp.loadModels(f, set); err != nil {
		return nil, err
	}

	ids, serials := f.IDs, f.Serials
	if take("ids") {
		ids = sc.Fleet.IDs
	}
	if take("serials") {
		serials = sc.Fleet.Serials
	}
	if sp.ids, err = scenarios.ParseIDScheme(ids); err != nil {
		return nil, fmt.Errorf("--ids: %w", err)
	}
	if !validEndpointID(sp.ids.ID(1)) {
		return nil, fmt.Errorf("--ids: %q makes %q, not an endpoint ID (authority-scheme::id, no spaces)", ids, sp.ids.ID(1))
	}
	if sp.serials, err = scenarios.ParseIDScheme(serials); err != nil {
		return nil, fmt.Errorf("--serials: %w", err)
	}
	sp.idPattern = ids
	sp.oui = ouiOf(ids)

	if f.Shard != "" {
		if sp.shardK, sp.shardN, err = parseShard(f.Shard); err != nil {
			return nil, fmt.Errorf("--shard: %w", err)
		}
		if sp.shardN > sp.total() {
			return nil, fmt.Errorf("--shard: %d shards of %d devices: some would be empty", sp.shardN, sp.total())
		}
	}

	// Timings.
	sp.connectRate, sp.connectJitter = f.ConnectRate, f.ConnectJitter
	if take("connect-rate") {
		sp.connectRate = sc.Fleet.ConnectRate
	}
	if take("connect-jitter") {
		sp.connectJitter = sc.Fleet.ConnectJitter
	}
	if sp.connectRate < 0 || !finite(sp.connectRate) {
		return nil, fmt.Errorf("--connect-rate: %v: want a number ≥ 0", sp.connectRate)
	}
	if take("ramp") {
		sp.ramp = sc.Fleet.RampOf()
	} else if f.Ramp != "" {
		if sp.ramp, err = parseRamp(f.Ramp); err != nil {
			return nil, fmt.Errorf("--ramp: %w", err)
		}
	}
	if sp.eventLogFormat, err = fleet.ParseLogFormat(f.EventLogFmt); err != nil {
		return nil, fmt.Errorf("--event-log-format: %w", err)
	}
	if take("diurnal") {
		sp.diurnal = sc.Fleet.Diurnal.DiurnalOf()
	} else if f.Diurnal != "" {
		if sp.diurnal, err = parseDiurnal(f.Diurnal); err != nil {
			return nil, fmt.Errorf("--diurnal: %w", err)
		}
	}
	if sp.ramp.On() && sp.connectRate > 0 {
		return nil, errors.New("--ramp: not with --connect-rate: a ramp paces the power-ons itself")
	}
	sp.duration, sp.reboot, sp.trial = f.Duration, f.Reboot, f.Trial
	if take("reboot") {
		sp.reboot = sc.Device.Reboot
	}
	if take("trial") {
		sp.trial = sc.Device.Trial
	}
	if take("seed") {
		sp.seed = sc.Seed
	}
	sp.retryMin, sp.retryMult = f.RetryMinWait, f.RetryMultiplier
	if take("retry-min-wait") {
		sp.retryMin = sc.Device.RetryMinWait
	}
	sp.unknown = device.UnknownPolicy(f.Unknown)
	if take("unknown-controllers") {
		sp.unknown = device.UnknownPolicy(sc.Device.UnknownControllers)
	}
	if err := device.CheckUnknownPolicy(sp.unknown); err != nil {
		return nil, fmt.Errorf("--unknown-controllers: %w", err)
	}
	if take("retry-multiplier") {
		sp.retryMult = sc.Device.RetryMultiplier
	}
	if sp.retryMin != 0 {
		if err := device.CheckRetryMinimumWait(sp.retryMin); err != nil {
			return nil, fmt.Errorf("--retry-min-wait: %w", err)
		}
	}
	if m := sp.retryMult; m != 0 && (m < 1000 || m > 65535) {
		return nil, fmt.Errorf("--retry-multiplier: %d: want 1000 (1.0) to 65535", m)
	}
	for _, c := range []struct {
		name string
		d    time.Duration
	}{{"connect-jitter", sp.connectJitter}, {"duration", sp.duration}, {"reboot", sp.reboot}, {"trial", sp.trial}, {"periodic", f.Periodic}} {
		if err := checkDuration(c.name, c.d); err != nil {
			return nil, err
		}
	}
	sp.periodicJitter = f.PeriodicJitter
	if take("periodic-jitter") {
		sp.periodicJitter = sc.Device.PeriodicJitter
	}
	if sp.periodicJitter < 0 || sp.periodicJitter > device.MaxPeriodicJitter {
		return nil, fmt.Errorf("--periodic-jitter: %v: want 0 to %v", sp.periodicJitter, device.MaxPeriodicJitter)
	}
	if f.Periodic > 0 {
		if f.Periodic%time.Second != 0 || f.Periodic/time.Second > 1<<32-1 {
			return nil, fmt.Errorf("--periodic: %s: want whole seconds", f.Periodic)
		}
		sp.periodic = uint32(f.Periodic / time.Second)
	}
	if f.ResponseTimeout <= 0 {
		return nil, fmt.Errorf("--response-timeout: %s: want more than 0", f.ResponseTimeout)
	}
	sp.responseTimeout = f.ResponseTimeout
	if f.DownloadTimeout <= 0 {
		return nil, fmt.Errorf("--download-timeout: %s: want more than 0", f.DownloadTimeout)
	}
	if f.DownloadStall <= 0 || f.DownloadStall > f.DownloadTimeout {
		return nil, fmt.Errorf("--download-stall-timeout: %s: want more than 0 and at most --download-timeout (%s)", f.DownloadStall, f.DownloadTimeout)
	}
	if f.Downloads < 1 || f.Downloads > 4096 {
		return nil, fmt.Errorf("--downloads: %d: want 1 to 4096", f.Downloads)
	}
	sp.downloadTimeout, sp.downloadStall, sp.downloads = f.DownloadTimeout, f.DownloadStall, f.Downloads

	// Faults.
	switch {
	case f.Faults != "":
		if sp.plan, err = readFaults(f.Faults); err != nil {
			return nil, fmt.Errorf("--faults: %w", err)
		}
	case sc != nil:
		sp.plan = faults.Plan(sc.Faults)
	}
	for i, r := range sp.plan {
		where := fmt.Sprintf("--faults: rule %d (%s)", i+1, r.Kind)
		if f.Faults == "" {
			where = fmt.Sprintf("--scenario: faults.%d (%s)", i, r.Kind)
		}
		if r.Board != "" && !sp.hasBoard(r.Board) {
			return nil, fmt.Errorf("%s: board %q is not in the fleet", where, r.Board)
		}
		if r.Wave > 0 {
			if f.Faults != "" {
				return nil, fmt.Errorf("%s: wave %d: a fleet has no waves", where, r.Wave)
			}
			sp.warnings = append(sp.warnings, fmt.Sprintf("%s: wave %d: a fleet has no waves, the rule picks no device", where, r.Wave))
		}
	}

	// Keys.
	var trust []string
	if sc != nil {
		dir := filepath.Dir(sc.Source())
		for _, t := range sc.Trust {
			if !filepath.IsAbs(t) {
				t = filepath.Join(dir, t)
			}
			trust = append(trust, t)
		}
	}
	trust = append(trust, f.Trust...)
	for _, file := range trust {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		pubs, err := formats.ParseTrustFile(data)
		if err != nil {
			return nil, fmt.Errorf("--trust: %s: %w", file, err)
		}
		sp.trust = append(sp.trust, pubs...)
	}
	for _, im := range f.Images {
		board, file, ok := strings.Cut(im, "=")
		switch {
		case !ok || board == "" || file == "":
			return nil, fmt.Errorf("--image %q: want PROFILE=FILE", im)
		case !sp.hasBoard(board):
			return nil, fmt.Errorf("--image %q: board %q is not in the fleet", im, board)
		case sp.images[board] != "":
			return nil, fmt.Errorf("--image %q: board %q has an image already", im, board)
		}
		if sp.images == nil {
			sp.images = map[string]string{}
		}
		sp.images[board] = file
	}

	// Output flags that can be checked now.
	if f.Out != "" {
		if st, err := os.Stat(f.Out); err == nil && !st.IsDir() {
			return nil, fmt.Errorf("--out: %s is not a directory", f.Out)
		}
	}
	if err := sp.resolveIdentity(f, time.Now()); err != nil {
		return nil, err
	}
	return sp, nil
}

// resolveWhere checks where the controller is: exactly one of --ws-url,
// --mqtt, --stomp (none only for --dump-model alone), and the options of
// that binding.
func (sp *Spec) resolveWhere(f Config, changed func(string) bool) error {
	var given []string
	for _, name := range []string{"ws-url", "mqtt", "stomp"} {
		if changed(name) {
			given = append(given, name)
		}
	}
	switch {
	case len(given) > 1:
		return fmt.Errorf("--%s: not with --%s: give exactly one of --ws-url, --mqtt, --stomp", given[1], given[0])
	case len(given) == 0 && f.DumpModel:
		for _, name := range []string{"controller-id", "out", "metrics-addr", "duration", "event-log"} {
			if changed(name) {
				return fmt.Errorf("--%s: --dump-model without --ws-url, --mqtt or --stomp prints the model and exits; give a controller to run the fleet", name)
			}
		}
		sp.controllerID = f.ControllerID
		if sp.controllerID == "" {
			sp.controllerID = "proto::controller"
		}
		return nil
	case len(given) == 0:
		return errors.New("--ws-url, --mqtt or --stomp: give one: where the controller (or its broker) is")
	}
	sp.transport = map[string]string{"ws-url": "websocket", "mqtt": "mqtt", "stomp": "stomp"}[given[0]]

	if f.ControllerID == "" {
		return errors.New("--controller-id: required: the controller's USP endpoint ID, e.g. proto::controller")
	}
	if !validEndpointID(f.ControllerID) {
		return fmt.Errorf("--controller-id: %q: want an endpoint ID such as proto::controller (no spaces or control characters)", f.ControllerID)
	}
	sp.controllerID = f.ControllerID

	// Options that belong to another binding.
	only := map[string]string{
		"agent-topic": "mqtt", "controller-topic": "mqtt", "mqtt-version": "mqtt", "mqtt-qos": "mqtt", "client-id": "mqtt",
		"agent-dest": "stomp", "controller-dest": "stomp", "stomp-vhost": "stomp", "stomp-transient": "stomp",
	}
	for _, name := range []string{"agent-topic", "controller-topic", "mqtt-version", "mqtt-qos", "client-id", "agent-dest", "controller-dest", "stomp-vhost", "stomp-transient"} {
		if changed(name) && only[name] != sp.transport {
			return fmt.Errorf("--%s: only with --%s", name, only[name])
		}
	}
	if changed("keepalive") && sp.transport == "websocket" {
		return errors.New("--keepalive: only with --mqtt or --stomp")
	}
	if err := checkDuration("keepalive", f.KeepAlive); err != nil {
		return err
	}

	// TLS files.
	tlsFlags := changed("tls-ca") || changed("tls-cert") || changed("tls-key") || changed("tls-server-name")
	if (f.TLSCert == "") != (f.TLSKey == "") {
		if f.TLSCert == "" {
			return errors.New("--tls-cert: required with --tls-key")
		}
		return errors.New("--tls-key: required with --tls-cert")
	}
	for _, c := range []struct{ name, file string }{{"tls-ca", f.TLSCA}, {"tls-cert", f.TLSCert}, {"tls-key", f.TLSKey}} {
		if c.file == "" {
			continue
		}
		if _, err := os.Stat(c.file); err != nil {
			return fmt.Errorf("--%s: %w", c.name, err)
		}
	}

	// Credentials.
	sp.password = f.Password
	if f.PasswordFile != "" {
		if changed("password") {
			return errors.New("--password-file: not with --password")
		}
		data, err := os.ReadFile(f.PasswordFile)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		sp.password = strings.TrimSuffix(line, "\r")
	}
	if sp.password != "" && f.Username == "" && sp.transport != "stomp" {
		return errors.New("--username: required with a password")
	}

	var err error
	if sp.sources, err = mtp.ParseSources(f.Sources); err != nil {
		return fmt.Errorf("--sources: %w", err)
	}

	switch sp.transport {
	case "websocket":
		u, err := url.Parse(f.WSURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("--ws-url: %q: want ws://HOST:PORT/PATH or wss://HOST:PORT/PATH", f.WSURL)
		}
		if u.Scheme == "ws" && tlsFlags {
			return fmt.Errorf("--%s: the --ws-url is ws:// (plain); use wss:// for TLS", firstChanged(changed, "tls-ca", "tls-cert", "tls-key", "tls-server-name"))
		}
		sp.wsURL = u
	case "mqtt":
		// One broker, or several (comma-separated) that a device is
		// spread over by its endpoint ID (spreadDialer).
		parts := strings.Split(f.MQTT, ",")
		if len(parts) > maxBrokers {
			return fmt.Errorf("--mqtt: %d brokers: at most %d", len(parts), maxBrokers)
		}
		var brokers []string
		for i, broker := range parts {
			broker = strings.TrimSpace(broker)
			scheme, rest, hasScheme := strings.Cut(broker, "://")
			if !hasScheme {
				scheme, rest = "", broker
			}
			isTLS := false
			switch strings.ToLower(scheme) {
			case "":
				isTLS = tlsFlags
				scheme = "tcp"
				if isTLS {
					scheme = "tls"
				}
			case "tcp", "mqtt":
				if tlsFlags {
					return fmt.Errorf("--%s: the --mqtt broker is %s:// (plain); use tls:// or no scheme", firstChanged(changed, "tls-ca", "tls-cert", "tls-key", "tls-server-name"), scheme)
				}
			case "tls", "ssl", "mqtts":
				isTLS = true
			default:
				return fmt.Errorf("--mqtt: %q: scheme %q: want HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", broker, scheme)
			}
			if i > 0 && isTLS != sp.tls {
				return fmt.Errorf("--mqtt: %q: TLS to some brokers and not to others", f.MQTT)
			}
			sp.tls = isTLS
			if err := checkHostPort(strings.TrimSuffix(rest, "/"), true); err != nil {
				return fmt.Errorf("--mqtt: %q: %w", broker, err)
			}
			brokers = append(brokers, scheme+"://"+rest)
		}
		sp.broker = strings.Join(brokers, ",")
		if len(brokers) > 1 {
			sp.brokers = brokers
		}
		switch f.MQTTVersion {
		case "5", "5.0", "3.1.1", "311", "4":
		default:
			return fmt.Errorf("--mqtt-version: %q: want 5 or 3.1.1", f.MQTTVersion)
		}
		if f.MQTTQoS != 0 && f.MQTTQoS != 1 {
			return fmt.Errorf("--mqtt-qos: %d: want 0 or 1", f.MQTTQoS)
		}
		if err := checkTopic("agent-topic", f.AgentTopic, true); err != nil {
			return err
		}
		if err := checkTopic("controller-topic", f.ControllerTopic, false); err != nil {
			return err
		}
		if f.ClientID != "" && !strings.Contains(f.ClientID, "{eid}") && (f.Devices > 1 || f.BoardsMix != "" || f.Scenario != "") {
			return fmt.Errorf("--client-id: %q: must hold {eid} when more than one device connects (a broker disconnects a client whose ID another takes)", f.ClientID)
		}
	case "stomp":
		scheme, rest, hasScheme := strings.Cut(f.STOMP, "://")
		if !hasScheme {
			scheme, rest = "", f.STOMP
		}
		switch strings.ToLower(scheme) {
		case "":
			sp.tls = tlsFlags
		case "tcp", "stomp":
			if tlsFlags {
				return fmt.Errorf("--%s: the --stomp broker is %s:// (plain); use tls:// or no scheme", firstChanged(changed, "tls-ca", "tls-cert", "tls-key", "tls-server-name"), scheme)
			}
		case "tls", "ssl", "stomp+ssl", "stomps":
			sp.tls = true
		default:
			return fmt.Errorf("--stomp: %q: scheme %q: want HOST:PORT or tls://HOST:PORT", f.STOMP, scheme)
		}
		if err := checkHostPort(rest, false); err != nil {
			return fmt.Errorf("--stomp: %q: %w", f.STOMP, err)
		}
		sp.broker = rest
		if f.ControllerDest == "" {
			return errors.New("--controller-dest: required with --stomp: the destination the controller subscribes to, e.g. /queue/controller")
		}
		if strings.Contains(f.ControllerDest, "{eid}") {
			return fmt.Errorf("--controller-dest: %q: the controller's destination takes no {eid}", f.ControllerDest)
		}
		if f.AgentDest != "" && !strings.Contains(f.AgentDest, "{eid}") {
			return fmt.Errorf("--agent-dest: %q: must hold {eid}, so that each agent has its own destination", f.AgentDest)
		}
	}
	return nil
}

func firstChanged(changed func(string) bool, names ...string) string {
	for _, n := range names {
		if changed(n) {
			return n
		}
	}
	return names[0]
}

// checkHostPort wants host:port (the port optional when optionalPort).
func checkHostPort(s string, optionalPort bool) error {
	if s == "" {
		return errors.New("no address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if optionalPort && !strings.Contains(strings.Trim(s, "[]"), ":") || optionalPort && strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			return nil
		}
		return errors.New("want HOST:PORT")
	}
	if host == "" {
		return errors.New("no host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return nil
}

// checkTopic checks an MQTT topic pattern of a flag.
func checkTopic(name, t string, needEID bool) error {
	switch {
	case t == "":
		return fmt.Errorf("--%s: empty", name)
	case strings.ContainsAny(t, "+#\x00"):
		return fmt.Errorf("--%s: %q: a topic name, not a filter: no + or #", name, t)
	case needEID && !strings.Contains(t, "{eid}"):
		return fmt.Errorf("--%s: %q: must hold {eid}, so that each agent has its own topic", name, t)
	}
	return nil
}

// validEndpointID is a loose check of a USP endpoint ID: not empty,
// printable, no spaces, at most 255 bytes.
func validEndpointID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ouiOf is the OUI of an os:: endpoint-ID pattern ("os::012345-…"), upper
// case, or "".
func ouiOf(pattern string) string {
	rest, ok := strings.CutPrefix(pattern, "os::")
	if !ok || len(rest) < 7 || rest[6] != '-' {
		return ""
	}
	for _, c := range rest[:6] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return ""
		}
	}
	return strings.ToUpper(rest[:6])
}

// parseBoardsMix reads "uboot-nor=600,mcuboot-nrf52=400@1.2.0".
func parseBoardsMix(s, version string) ([]boardCount, error) {
	var out []boardCount
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, rest, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want PROFILE=COUNT[@VERSION]", part)
		}
		cnt, v, hasV := strings.Cut(rest, "@")
		n, err := strconv.Atoi(cnt)
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("%q: count %q: want 1 to 1,000,000", part, cnt)
		}
		if !hasV {
			v = version
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: board %s listed twice", part, name)
		}
		seen[name] = true
		out = append(out, boardCount{name, n, v, nil})
	}
	return out, nil
}

func (sp *Spec) hasBoard(name string) bool {
	for _, b := range sp.boards {
		if b.profile == name {
			return true
		}
	}
	return false
}

// readFaults reads a YAML list of fault rules from file (parseFaults).
func readFaults(file string) (faults.Plan, error) {
	data, err := readBounded(file, 4<<20)
	if err != nil {
		return nil, err
	}
	return parseFaults(file, data)
}

// parseFaults reads a YAML list of fault rules, strictly: unknown keys,
// wrong types and values that are not numbers are errors with their line
// and key; each rule is validated. source names the file in errors.
func parseFaults(source string, data []byte) (faults.Plan, error) {
	var plan faults.Plan
	if _, err := profile.DecodeStrict(source, data, &plan); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file: no faults
		}
		return nil, fmt.Errorf("%w (want a YAML list of rules: - kind: power-during-install …)", err)
	}
	for i, r := range plan {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%s: rule %d: %w", source, i+1, err)
		}
	}
	return plan, nil
}

// readBounded reads a file of at most limit bytes, refusing a larger one
// before reading it.
func readBounded(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", file, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: more than the %d bytes allowed", file, limit)
	}
	return data, err
}

// parseShard reads "K/N"; K may be written I+1, so that a zero-based
// index gives it (a Kubernetes Indexed Job's: --shard
// $(JOB_COMPLETION_INDEX)+1/N).
func parseShard(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	i, plus, hasPlus := strings.Cut(strings.TrimSpace(ks), "+")
	k, err1 := strconv.Atoi(strings.TrimSpace(i))
	if hasPlus {
		p, err := strconv.Atoi(strings.TrimSpace(plus))
		if err != nil || p != 1 || k < 0 || k > 1<<30 {
			err1 = errors.New("bad")
		}
		k++
	}
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("%q: want K/N with 1 ≤ K ≤ N, e.g. 2/4, or I+1/N with 0 ≤ I < N", s)
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

// loadModels gives each board its vendor data model: the scenario's
// model: of that board, else its profile's, else --model.
func (sp *Spec) loadModels(f Config, set profile.Set) error {
	loaded := map[string]*model.Model{}
	load := func(flag, file string) (*model.Model, error) {
		if m := loaded[file]; m != nil {
			return m, nil
		}
		m, notes, err := scenarios.LoadModel(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if len(notes) > 0 {
			sp.warnings = append(sp.warnings, fmt.Sprintf("%s: %s: %d items left out on import, e.g. %s", flag, file, len(notes), notes[0]))
		}
		loaded[file] = m
		return m, nil
	}
	for i := range sp.boards {
		file, flag := f.Model, "--model"
		if p, err := set.Get(sp.boards[i].profile); err == nil && p.Model != "" {
			file, flag = p.Model, "board profile "+p.Name+": model"
		}
		if i < len(sp.boardModel) && sp.boardModel[i] != "" {
			file, flag = sp.boardModel[i], "--scenario: fleet.boards["+fmt.Sprint(i)+"].model"
		}
		if file == "" {
			continue
		}
		m, err := load(flag, file)
		if err != nil {
			return err
		}
		sp.boards[i].model = m
	}
	return nil
}

// EventLogFormat is the format of the fleet's event log.
func (sp *Spec) EventLogFormat() fleet.LogFormat { return sp.eventLogFormat }

// Title names the fleet for a live view: its size, its MTP and its
// controller.
func (sp *Spec) Title() string {
	t := fmt.Sprintf("fleet: %d devices over %s to %s", sp.Total(), sp.transport, sp.controllerID)
	if sp.Sharded() {
		lo, hi := sp.shardRange()
		t += fmt.Sprintf(" (shard %d/%d: devices %d to %d)", sp.shardK, sp.shardN, lo+1, hi)
	}
	return t
}

// parseRamp reads --ramp STEP/EVERY: STEP devices power on every EVERY
// ("500/1m").
func parseRamp(s string) (fleet.Ramp, error) {
	step, every, ok := strings.Cut(s, "/")
	if !ok {
		return fleet.Ramp{}, fmt.Errorf("%q: want STEP/EVERY, e.g. 500/1m (500 devices a minute, in steps)", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(step))
	if err != nil || n < 1 || n > 10_000_000 {
		return fleet.Ramp{}, fmt.Errorf("%q: step %q: want 1 to 10000000 devices", s, step)
	}
	d, err := time.ParseDuration(strings.TrimSpace(every))
	if err != nil || d <= 0 || d > 365*24*time.Hour {
		return fleet.Ramp{}, fmt.Errorf("%q: every %q: want a duration above 0 and at most a year, e.g. 1m", s, every)
	}
	return fleet.Ramp{Step: n, Every: d}, nil
}

// parseDiurnal reads --diurnal LOW@AT[/PERIOD]: the share of devices on is
// LOW at AT from the start, every PERIOD (default 24h): "0.4@3h".
func parseDiurnal(s string) (fleet.Diurnal, error) {
	low, rest, ok := strings.Cut(s, "@")
	if !ok {
		return fleet.Diurnal{}, fmt.Errorf("%q: want LOW@AT[/PERIOD], e.g. 0.4@3h (40 %% of the devices on 3 h in, every 24 h)", s)
	}
	at, period, _ := strings.Cut(rest, "/")
	d := fleet.Diurnal{Period: 24 * time.Hour}
	var err error
	if d.Low, err = strconv.ParseFloat(strings.TrimSpace(low), 64); err != nil {
		return fleet.Diurnal{}, fmt.Errorf("%q: low %q: not a number", s, low)
	}
	if d.LowAt, err = time.ParseDuration(strings.TrimSpace(at)); err != nil {
		return fleet.Diurnal{}, fmt.Errorf("%q: at %q: not a duration", s, at)
	}
	if period != "" {
		if d.Period, err = time.ParseDuration(strings.TrimSpace(period)); err != nil {
			return fleet.Diurnal{}, fmt.Errorf("%q: period %q: not a duration", s, period)
		}
	}
	if err := scenarios.CheckDiurnal(d); err != nil {
		return fleet.Diurnal{}, fmt.Errorf("%q: %w", s, err)
	}
	return d, nil
}
