// Package scenarios reads scenario files and runs them: a fleet of
// simulated devices, the images of a firmware campaign, the campaign's
// waves, procedure and abort rule, a fault plan, the clock and the seed, and
// the expectations that decide the exit status. docs/scenarios.md is the
// format's reference; the built-in scenarios (builtin/*.yaml) are embedded.
//
// Run builds everything a scenario describes — signed images, provisioned
// factory boards, the fleet, the embedded controller (brickyard/scenarios/
// campaign), its firmware file server and the transport — runs it on a
// virtual clock (deterministic: the same seed writes the same report bytes)
// or in real time, and returns the report.
package scenarios

import (
	"brickyard/sim/fleet"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/sim/device"
	"brickyard/sim/faults"
)

// Scenario is one scenario file.
type Scenario struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	Clock       string        `yaml:"clock"`    // virtual or real; default virtual
	Seed        uint64        `yaml:"seed"`     // default 1
	Duration    time.Duration `yaml:"duration"` // the longest the run may take on its clock; default 1h virtual, 2m real

	Fleet    Fleet         `yaml:"fleet"`
	Device   DeviceTimes   `yaml:"device"`
	Images   []Image       `yaml:"images"`
	Campaign CampaignSpec  `yaml:"campaign"`
	Faults   []faults.Rule `yaml:"faults"`
	Server   ServerSpec    `yaml:"server"`
	Expect   []string      `yaml:"expect"`
	Bench    []BenchBoard  `yaml:"bench"` // real boards, or board-emu, among the fleet (bench.go)
	// Trust: public keys (PEM files, as brickyard image keygen writes)
	// that the boards trust besides the scenario's generated key; images
	// given as files must be signed by one of them.
	Trust []string `yaml:"trust"`

	source string     // the file's name, for errors
	dir    string     // the file's folder: relative paths start there
	text   []byte     // the file as read (Ref)
	scaled int        // the size Scale gave the fleet, 0 when it was not scaled
	root   *yaml.Node // the document, for error lines
	expect []expectation
}

// Fleet is the devices and how they connect.
type Fleet struct {
	MTP           string        `yaml:"mtp"`      // websocket (default), mqtt, stomp; a virtual clock always uses the in-process link
	Broker        string        `yaml:"broker"`   // mqtt/stomp: "embedded" (default) or the broker's address on loopback (mqtt: host:port or tcp://host:port)
	MQTTQoS       *int          `yaml:"mqtt_qos"` // mqtt: QoS of the agents' PUBLISHes and subscriptions, 0 or 1; default 1
	Username      string        `yaml:"username"` // broker credentials (mqtt/stomp)
	Password      string        `yaml:"password"`
	IDs           string        `yaml:"ids"`            // endpoint-ID scheme; default "os::00256D-SIM{n:06}"
	Serials       string        `yaml:"serials"`        // serial-number scheme; default "SIM{n:06}"
	ConnectRate   float64       `yaml:"connect_rate"`   // power-ons per second; 0: all at once
	ConnectJitter time.Duration `yaml:"connect_jitter"` // plus up to this much
	Ramp          *RampSpec     `yaml:"ramp"`           // power on in steps instead: step devices every so long
	Diurnal       *DiurnalSpec  `yaml:"diurnal"`        // a daily pattern of the devices' power
	Boards        []BoardCount  `yaml:"boards"`
	// TLS (websocket, real time): the embedded controller listens on
	// wss:// with a certificate of a CA made for the run, which the
	// devices trust and check names the controller's Endpoint ID.
	// DeviceCerts also gives each device its own certificate of that CA
	// (subjectAltName urn:bbf:usp:id:EID), which the controller requires
	// and checks names the device it connects as (mutual TLS).
	TLS         bool `yaml:"tls"`
	DeviceCerts bool `yaml:"device_certs"`
}

// BoardCount is Count devices of one board profile running Version.
type BoardCount struct {
	Profile string `yaml:"profile"`
	Count   int    `yaml:"count"`
	Version string `yaml:"version"` // the factory image; default 1.0.0
	Model   string `yaml:"model"`   // a vendor data-model file the devices present (docs/vendor-model.md); default the profile's
}

// DeviceTimes are the simulated devices' timings.
type DeviceTimes struct {
	Reboot time.Duration `yaml:"reboot"` // how long a reboot keeps a device off; default 30 s
	Trial  time.Duration `yaml:"trial"`  // trial period of a new image; default 5 min
	// RetryMinWait and RetryMultiplier are TR-369's session retry
	// parameters (SessionRetryMinimumWaitInterval; the multiplier in
	// thousandths, 2000 = 2.0); default 5 s and 2000.
	RetryMinWait    time.Duration `yaml:"retry_min_wait"`
	RetryMultiplier uint32        `yaml:"retry_multiplier"`
	// PeriodicJitter delays each device's Periodic! by up to this much
	// beyond the controller's PeriodicNotifInterval (a traffic shape:
	// a fleet that booted together spreads its periodic notifications).
	PeriodicJitter time.Duration `yaml:"periodic_jitter"`
	// UnknownControllers is what a device does with a Record from an
	// endpoint it has no enabled Controller row for: "refuse" (default:
	// Error 7006 to every request) or "untrusted" (served with the
	// Untrusted role: it may read Device.DeviceInfo.). docs/device.md.
	UnknownControllers string `yaml:"unknown_controllers"`
}

// Image is one firmware version of the campaign.
type Image struct {
	Version string `yaml:"version"`
	Payload string `yaml:"payload"` // payload size of built images, e.g. 64KiB; default 64KiB
	// Bad: the image's application fails its health check, so its trial
	// boot fails and the bootloader falls back.
	Bad bool `yaml:"bad"`
	// Files: images given as files, by board profile (paths relative to
	// the scenario file); boards not listed get a built image.
	Files map[string]string `yaml:"files"`
}

// CampaignSpec is the rollout.
type CampaignSpec struct {
	Image     string        `yaml:"image"`     // the version every wave installs unless it says otherwise
	Procedure string        `yaml:"procedure"` // download-auto (default), download-activate, boot-image
	Window    WindowSpec    `yaml:"window"`    // download-activate: the Activate() time window
	Start     time.Duration `yaml:"start"`     // after the run starts; default 10 s
	Pause     time.Duration `yaml:"pause"`     // between a wave's close and the next wave
	Deadline  time.Duration `yaml:"deadline"`  // per wave, unless it says otherwise; default 10 min
	Waves     []WaveSpec    `yaml:"waves"`
	Abort     *AbortSpec    `yaml:"abort"`
	Auth      *bool         `yaml:"auth"` // Basic auth on the file server; default true
	Soak      time.Duration `yaml:"soak"` // how long a device must run the new version to count as updated; default from the trial period
	Retries   *int          `yaml:"retries"`
	Timeout   time.Duration `yaml:"request_timeout"`
}

// WindowSpec is an Activate() time window.
type WindowSpec struct {
	Start time.Duration `yaml:"start"`
	End   time.Duration `yaml:"end"`
	Mode  string        `yaml:"mode"`
}

// WaveSpec is one wave.
type WaveSpec struct {
	Name     string        `yaml:"name"`
	Share    string        `yaml:"share"` // a fraction (0.05), a percentage (5%) or "rest"
	Image    string        `yaml:"image"` // default the campaign's
	Deadline time.Duration `yaml:"deadline"`

	share float64
}

// ServerSpec is the embedded controller's firmware file server (real
// clock only).
type ServerSpec struct {
	TLS bool `yaml:"tls"` // HTTPS with a self-signed certificate the devices trust
	// DownloadTimeout bounds each device's download; default 2 min.
	DownloadTimeout time.Duration `yaml:"download_timeout"`
	// StallTimeout fails a download that receives nothing for this long;
	// default 1 min, or download_timeout when that is shorter.
	StallTimeout time.Duration `yaml:"download_stall_timeout"`
	// Faults: what the server does wrong, each on a share of the requests
	// (drawn per request from the seed).
	Faults []ServerFault `yaml:"faults"`
}

// ServerFault is a server-side download fault (docs/fileserver.md).
type ServerFault struct {
	Share    float64 `yaml:"share"`
	Rate     int     `yaml:"rate"`     // bytes per second
	Truncate float64 `yaml:"truncate"` // fraction sent before the connection is cut
	Corrupt  bool    `yaml:"corrupt"`  // one byte flipped
	Status   int     `yaml:"status"`   // answered instead of the file, e.g. 503
	Stall    bool    `yaml:"stall"`    // headers, then nothing
}

// AbortSpec is the abort rule.
type AbortSpec struct {
	FailureRate float64 `yaml:"failure_rate"`
	MinDevices  int     `yaml:"min_devices"`
}

// Parse reads a scenario file. source names it in errors. Unknown keys,
// impossible values and missing images are errors that name the file, the
// line and the key; all of them are reported, not just the first.
func Parse(source string, data []byte) (*Scenario, error) {
	sc := &Scenario{source: source}
	root, err := profile.DecodeStrict(source, data, sc)
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: empty scenario", source)
	case err != nil:
		return nil, err
	}
	sc.root = root
	if err := sc.validate(); err != nil {
		return nil, err
	}
	sc.text = data
	return sc, nil
}

// Source is the name the scenario was read from.
func (sc *Scenario) Source() string { return sc.source }

// checker collects validation errors with their lines.
type checker struct {
	sc   *Scenario
	errs []error
}

// errorf reports a problem with the value at key (a dotted path such as
// "campaign.waves.2.share", list items by 0-based index).
func (c *checker) errorf(key, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s:%d: %s: %s", c.sc.source, lineOf(c.sc.root, key), key, fmt.Sprintf(format, args...)))
}

// lineOf finds the line of key in the document, or of its nearest parent
// that exists.
func lineOf(root *yaml.Node, key string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(key, ".") {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (sc *Scenario) validate() error {
	c := &checker{sc: sc}
	if sc.Name == "" {
		c.errorf("name", "required")
	}
	switch sc.Clock {
	case "":
		sc.Clock = "virtual"
	case "virtual", "real":
	default:
		c.errorf("clock", "%q: want virtual or real", sc.Clock)
	}
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	if sc.Duration < 0 {
		c.errorf("duration", "negative")
	}
	if sc.Duration == 0 {
		sc.Duration = time.Hour
		if sc.Clock == "real" {
			sc.Duration = 2 * time.Minute
		}
	}
	sc.validateFleet(c)
	if sc.Device.Reboot < 0 {
		c.errorf("device.reboot", "negative")
	}
	if sc.Device.Trial < 0 {
		c.errorf("device.trial", "negative")
	}
	if j := sc.Device.PeriodicJitter; j < 0 || j > device.MaxPeriodicJitter {
		c.errorf("device.periodic_jitter", "%v: want 0 to %v", j, device.MaxPeriodicJitter)
	}
	if w := sc.Device.RetryMinWait; w != 0 {
		if err := device.CheckRetryMinimumWait(w); err != nil {
			c.errorf("device.retry_min_wait", "%v", err)
		}
	}
	if err := device.CheckUnknownPolicy(device.UnknownPolicy(sc.Device.UnknownControllers)); err != nil {
		c.errorf("device.unknown_controllers", "%v", err)
	}
	if m := sc.Device.RetryMultiplier; m != 0 && (m < 1000 || m > 65535) {
		c.errorf("device.retry_multiplier", "%d: want 1000 (1.0) to 65535", m)
	}
	versions := map[string]bool{}
	for i := range sc.Images {
		im := &sc.Images[i]
		key := "images." + strconv.Itoa(i)
		if _, err := parseVersion(im.Version); err != nil {
			c.errorf(key+".version", "%v", err)
		}
		if versions[im.Version] {
			c.errorf(key+".version", "%q listed twice", im.Version)
		}
		versions[im.Version] = true
		if im.Payload == "" {
			im.Payload = "64KiB"
		}
		if n, err := parseSize(im.Payload); err != nil || n <= 0 {
			c.errorf(key+".payload", "%q: want a size such as 64KiB", im.Payload)
		} else if n > image.MaxPayloadSize {
			c.errorf(key+".payload", "%q: the image format holds at most %d bytes (1 GiB) of payload", im.Payload, image.MaxPayloadSize)
		}
		for b := range im.Files {
			if !sc.hasBoard(b) {
				c.errorf(key+".files."+b, "no board %q in the fleet", b)
			}
		}
	}
	sc.validateCampaign(c, versions)
	sc.validateBench(c)
	for i, r := range sc.Faults {
		if err := r.Validate(); err != nil {
			c.errorf("faults."+strconv.Itoa(i), "%v", err)
		}
		if r.Board != "" && !sc.hasBoard(r.Board) && !sc.hasBench(r.Board) {
			c.errorf("faults."+strconv.Itoa(i)+".board", "no board %q in the fleet", r.Board)
		}
		if r.Wave > len(sc.Campaign.Waves) {
			c.errorf("faults."+strconv.Itoa(i)+".wave", "%d: the campaign has %d waves", r.Wave, len(sc.Campaign.Waves))
		}
	}
	sc.validateServer(c)
	for i, e := range sc.Expect {
		x, err := parseExpectation(e)
		if err != nil {
			c.errorf("expect."+strconv.Itoa(i), "%v", err)
			continue
		}
		sc.expect = append(sc.expect, x)
	}
	return errors.Join(c.errs...)
}

func (sc *Scenario) hasBoard(name string) bool {
	for _, b := range sc.Fleet.Boards {
		if b.Profile == name {
			return true
		}
	}
	return false
}

func (sc *Scenario) validateFleet(c *checker) {
	f := &sc.Fleet
	switch f.MTP {
	case "":
		f.MTP = "websocket"
	case "websocket", "mqtt", "stomp":
	default:
		c.errorf("fleet.mtp", "%q: want websocket, mqtt or stomp", f.MTP)
	}
	if f.Broker == "" {
		f.Broker = "embedded"
	}
	if f.Broker != "embedded" && f.MTP == "websocket" {
		c.errorf("fleet.broker", "websocket needs no broker")
	}
	if q := f.MQTTQoS; q != nil && (f.MTP != "mqtt" || (*q != 0 && *q != 1)) {
		c.errorf("fleet.mqtt_qos", "%d: want 0 or 1, with mtp: mqtt", *q)
	}
	if f.TLS && f.MTP != "websocket" {
		c.errorf("fleet.tls", "with mtp: websocket (MQTT and STOMP over TLS: brickyard fleet --tls-ca, docs/trust.md)")
	}
	if f.DeviceCerts && !f.TLS {
		c.errorf("fleet.device_certs", "needs fleet.tls: true")
	}
	if f.Broker != "embedded" && !loopbackAddr(f.Broker) {
		c.errorf("fleet.broker", "%q: a broker on loopback (127.0.0.0/8, ::1, localhost) with its port", f.Broker)
	}
	if f.IDs == "" {
		f.IDs = "os::00256D-SIM{n:06}"
	}
	if f.Serials == "" {
		f.Serials = "SIM{n:06}"
	}
	if _, err := ParseIDScheme(f.IDs); err != nil {
		c.errorf("fleet.ids", "%v", err)
	}
	if _, err := ParseIDScheme(f.Serials); err != nil {
		c.errorf("fleet.serials", "%v", err)
	}
	if !(f.ConnectRate >= 0) || math.IsInf(f.ConnectRate, 0) {
		c.errorf("fleet.connect_rate", "%v: want a number of power-ons per second ≥ 0", f.ConnectRate)
	}
	if f.ConnectJitter < 0 {
		c.errorf("fleet.connect_jitter", "negative")
	}
	if d := f.Diurnal; d != nil {
		if err := CheckDiurnal(d.DiurnalOf()); err != nil {
			c.errorf("fleet.diurnal", "%v", err)
		}
	}
	if r := f.Ramp; r != nil {
		switch {
		case r.Step < 1 || r.Step > 10_000_000:
			c.errorf("fleet.ramp.step", "%d: want 1 to 10000000 devices a step", r.Step)
		case r.Every <= 0 || r.Every > 365*24*time.Hour:
			c.errorf("fleet.ramp.every", "%v: want a step interval above 0 and at most a year", r.Every)
		case f.ConnectRate > 0:
			c.errorf("fleet.ramp", "not with connect_rate: a ramp paces the power-ons itself")
		}
	}
	if len(f.Boards) == 0 {
		c.errorf("fleet.boards", "at least one board is required")
	}
	seen := map[string]bool{}
	for i := range f.Boards {
		b := &f.Boards[i]
		key := "fleet.boards." + strconv.Itoa(i)
		if b.Profile == "" {
			c.errorf(key+".profile", "required")
		}
		if seen[b.Profile] {
			c.errorf(key+".profile", "%q listed twice", b.Profile)
		}
		seen[b.Profile] = true
		if b.Count <= 0 || b.Count > 1_000_000 {
			c.errorf(key+".count", "%d: want 1 to 1,000,000", b.Count)
		}
		if b.Version == "" {
			b.Version = "1.0.0"
		}
		if _, err := parseVersion(b.Version); err != nil {
			c.errorf(key+".version", "%v", err)
		}
	}
}

func (sc *Scenario) validateServer(c *checker) {
	sv := &sc.Server
	if sv.DownloadTimeout < 0 {
		c.errorf("server.download_timeout", "negative")
	}
	if sv.DownloadTimeout == 0 {
		sv.DownloadTimeout = 2 * time.Minute
	}
	if sv.StallTimeout < 0 || sv.StallTimeout > sv.DownloadTimeout {
		c.errorf("server.download_stall_timeout", "%v: want more than 0 and at most download_timeout (%v)", sv.StallTimeout, sv.DownloadTimeout)
	}
	if sv.StallTimeout == 0 {
		sv.StallTimeout = min(time.Minute, sv.DownloadTimeout)
	}
	if (sv.TLS || len(sv.Faults) > 0) && sc.Clock == "virtual" {
		c.errorf("server", "the file server runs with clock: real only; on a virtual clock use the fault plan's download-* faults")
	}
	total := 0.0
	for i, f := range sv.Faults {
		key := "server.faults." + strconv.Itoa(i)
		if !(f.Share > 0 && f.Share <= 1) {
			c.errorf(key+".share", "%g: want a fraction in (0, 1]", f.Share)
		} else {
			total += f.Share
		}
		switch {
		case f.Rate < 0:
			c.errorf(key+".rate", "negative")
		case !(f.Truncate >= 0 && f.Truncate < 1):
			c.errorf(key+".truncate", "%g: want a fraction in (0, 1)", f.Truncate)
		case f.Status != 0 && (f.Status < 201 || f.Status > 599):
			c.errorf(key+".status", "%d: want an HTTP status from 201 to 599", f.Status)
		case f.Rate == 0 && f.Truncate == 0 && !f.Corrupt && f.Status == 0 && !f.Stall:
			c.errorf(key, "does nothing: give rate, truncate, corrupt, status or stall")
		}
	}
	if total > 1+1e-9 {
		c.errorf("server.faults", "the shares add up to %.4g, more than 1", total)
	}
}

// loopbackAddr reports whether s (host:port, optionally with a tcp://
// scheme) names a loopback host and a port.
func loopbackAddr(s string) bool {
	s = strings.TrimPrefix(s, "tcp://")
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (sc *Scenario) validateCampaign(c *checker, versions map[string]bool) {
	cs := &sc.Campaign
	switch cs.Procedure {
	case "":
		cs.Procedure = "download-auto"
	case "download-auto", "download-activate", "boot-image":
	default:
		c.errorf("campaign.procedure", "%q: want download-auto, download-activate or boot-image", cs.Procedure)
	}
	if cs.Window.Start < 0 || cs.Window.End < 0 || (cs.Window.End != 0 && cs.Window.End < cs.Window.Start) {
		c.errorf("campaign.window", "want 0 ≤ start ≤ end")
	}
	switch cs.Window.Mode {
	case "", "Immediately", "AnyTime", "WhenIdle", "ConfirmationNeeded":
	default:
		c.errorf("campaign.window.mode", "%q: want Immediately, AnyTime, WhenIdle or ConfirmationNeeded", cs.Window.Mode)
	}
	if cs.Start == 0 {
		cs.Start = 10 * time.Second
	}
	if cs.Start < 0 || cs.Pause < 0 || cs.Deadline < 0 || cs.Timeout < 0 {
		c.errorf("campaign", "start, pause, deadline and request_timeout must not be negative")
	}
	if cs.Deadline == 0 {
		cs.Deadline = 10 * time.Minute
	}
	if cs.Retries != nil && (*cs.Retries < 0 || *cs.Retries > 10) {
		c.errorf("campaign.retries", "%d: want 0 to 10", *cs.Retries)
	}
	if cs.Image != "" && !versions[cs.Image] {
		c.errorf("campaign.image", "no image %q in images", cs.Image)
	}
	if len(cs.Waves) == 0 {
		cs.Waves = []WaveSpec{{Name: "all", Share: "rest"}}
	}
	total, rest := 0.0, -1
	for i := range cs.Waves {
		w := &cs.Waves[i]
		key := "campaign.waves." + strconv.Itoa(i)
		if w.Name == "" {
			w.Name = "wave " + strconv.Itoa(i+1)
		}
		if w.Image == "" {
			w.Image = cs.Image
		}
		if w.Image == "" {
			c.errorf(key+".image", "no image: give campaign.image or the wave's image")
		} else if !versions[w.Image] {
			c.errorf(key+".image", "no image %q in images", w.Image)
		}
		if w.Deadline < 0 {
			c.errorf(key+".deadline", "negative")
		}
		if w.Deadline == 0 {
			w.Deadline = cs.Deadline
		}
		switch s := strings.TrimSpace(w.Share); {
		case s == "rest":
			if rest >= 0 {
				c.errorf(key+".share", "only one wave may take the rest")
			}
			rest = i
		case strings.HasSuffix(s, "%"):
			// !(v > 0 && v <= 100) refuses NaN too, which passes any
			// comparison written the other way round.
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
			if err != nil || !(v > 0 && v <= 100) {
				c.errorf(key+".share", "%q: want a percentage in (0, 100]", s)
			} else {
				w.share = v / 100
			}
		default:
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || !(v > 0 && v <= 1) {
				c.errorf(key+".share", "%q: want a fraction in (0, 1], a percentage or rest", s)
			} else {
				w.share = v
			}
		}
		total += w.share
	}
	if total > 1+1e-9 {
		c.errorf("campaign.waves", "the shares add up to %.4g, more than 1", total)
	}
	if rest >= 0 {
		cs.Waves[rest].share = max(0, 1-total)
	} else if total < 1-1e-9 {
		c.errorf("campaign.waves", "the shares add up to %.4g: give the last wave share: rest", total)
	}
	if a := cs.Abort; a != nil {
		if !(a.FailureRate >= 0 && a.FailureRate < 1) {
			c.errorf("campaign.abort.failure_rate", "%v: want a fraction 0 ≤ failure_rate < 1", a.FailureRate)
		}
		if a.MinDevices < 0 {
			c.errorf("campaign.abort.min_devices", "%d: want ≥ 0", a.MinDevices)
		}
	}
}

// SetClock overrides the scenario's clock ("virtual" or "real").
func (sc *Scenario) SetClock(clock string) error {
	switch clock {
	case "virtual", "real":
		sc.Clock = clock
		return nil
	}
	return fmt.Errorf("%q: want virtual or real", clock)
}

// Devices is the size of the fleet.
func (sc *Scenario) Devices() int {
	n := 0
	for _, b := range sc.Fleet.Boards {
		n += b.Count
	}
	return n
}

// Scale resizes the fleet to n devices, keeping the boards' proportions
// (largest remainder; every board keeps at least one device when n allows).
func (sc *Scenario) Scale(n int) error {
	if n <= 0 || n > 1_000_000 {
		return fmt.Errorf("%d devices: want 1 to 1,000,000", n)
	}
	total := sc.Devices()
	shares := make([]float64, len(sc.Fleet.Boards))
	for i, b := range sc.Fleet.Boards {
		shares[i] = float64(b.Count) / float64(total)
	}
	counts := split(n, shares)
	kept := sc.Fleet.Boards[:0]
	for i, b := range sc.Fleet.Boards {
		if counts[i] > 0 {
			b.Count = counts[i]
			kept = append(kept, b)
		}
	}
	sc.Fleet.Boards = kept
	sc.scaled = n
	return nil
}

// Title names the run for a live view: the scenario, its size, clock and
// seed.
func (sc *Scenario) Title() string {
	return fmt.Sprintf("run %s: %d devices, %s clock, seed %d", sc.Name, sc.Devices(), sc.Clock, sc.Seed)
}

// PlanText is the campaign's plan in words: its waves and its abort rule.
func (sc *Scenario) PlanText() string {
	cs := sc.Campaign
	if len(cs.Waves) == 0 {
		return ""
	}
	var ws []string
	for _, w := range cs.Waves {
		name := w.Name
		if name == "" {
			name = "wave"
		}
		ws = append(ws, name+" "+w.Share)
	}
	t := fmt.Sprintf("%d waves (%s) install %s by %s", len(cs.Waves), strings.Join(ws, ", "), cs.Image, cmp.Or(cs.Procedure, "download-auto"))
	if a := cs.Abort; a != nil {
		t += fmt.Sprintf("; abort rule: no further wave opens once a wave's failures exceed %g%% of its devices (counted from %d outcomes)", a.FailureRate*100, a.MinDevices)
	} else {
		t += "; no abort rule"
	}
	return t
}

// RampSpec is a ramp of the fleet's power-ons: Step devices every Every.
type RampSpec struct {
	Step  int           `yaml:"step"`
	Every time.Duration `yaml:"every"`
}

// RampOf is the fleet's ramp as the runners take it (the zero Ramp: none).
func (f *Fleet) RampOf() fleet.Ramp {
	if f.Ramp == nil {
		return fleet.Ramp{}
	}
	return fleet.Ramp{Step: f.Ramp.Step, Every: f.Ramp.Every}
}

// DiurnalSpec is a daily pattern of the fleet's power (fleet.Diurnal):
// the share of devices on is Low at LowAt, 1 half a Period later.
type DiurnalSpec struct {
	Period time.Duration `yaml:"period"` // default 24h
	Low    float64       `yaml:"low"`
	LowAt  time.Duration `yaml:"low_at"`
}

// DiurnalOf is the pattern as the runners take it.
func (d *DiurnalSpec) DiurnalOf() fleet.Diurnal {
	if d == nil {
		return fleet.Diurnal{}
	}
	p := d.Period
	if p == 0 {
		p = 24 * time.Hour
	}
	return fleet.Diurnal{Period: p, Low: d.Low, LowAt: d.LowAt}
}

// CheckDiurnal reports what is wrong with a diurnal pattern.
func CheckDiurnal(d fleet.Diurnal) error {
	switch {
	case d.Period <= 0 || d.Period > 365*24*time.Hour:
		return fmt.Errorf("period %v: want above 0 and at most a year", d.Period)
	case !(d.Low >= 0 && d.Low < 1):
		return fmt.Errorf("low %v: want the share of devices on at the low, in [0, 1)", d.Low)
	case d.LowAt < 0 || d.LowAt >= d.Period:
		return fmt.Errorf("low_at %v: want a time within the period [0, %v)", d.LowAt, d.Period)
	}
	return nil
}
