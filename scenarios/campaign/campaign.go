// Package campaign is the embedded USP Controller's firmware campaign: a
// pure state machine that the fleet runners drive (it implements
// brickyard/sim/fleet's Controller). It starts no goroutines, reads no clock
// and does no I/O: every call carries the time, and what it returns is the
// Records to send and the time of its next Tick.
//
// # What it does to each agent
//
// On an agent's first session it sends one Add that creates, persistently,
// the subscriptions a firmware campaign needs (Device.Boot!,
// Device.LocalAgent.TransferComplete!, OperationComplete of
// Device.DeviceInfo.FirmwareImage., ValueChange of
// Device.DeviceInfo.SoftwareVersion) and a BootParameter for
// Device.DeviceInfo.SoftwareVersion on its own Controller row, so that
// every Boot! carries the running version (TR-369 §7.5, F8); and a Get of
// the running version, the active image row and the number of rows. The
// target row of a download is the first row that is not active (row 1 on
// a single-bank board).
//
// # Waves
//
// Devices are in waves (Device.Wave, 1-based). Wave 1 opens at
// Config.Start; wave k+1 opens Config.Pause after wave k closed. When a
// wave opens, each of its agents that is known (connected once, Get
// answered) gets the procedure's first request; the others get it when they
// are known. A wave closes when every device of it has an outcome as the
// controller sees it (Seen), or at its deadline, when the devices still
// without one are Unreachable. The abort rule is checked at every outcome
// and at the close: when failures / devices of an open or closed wave
// exceed Abort.FailureRate (once at least Abort.MinDevices of it have an
// outcome), the campaign stops: no further wave opens and no further
// first request is sent.
//
// # Procedures
//
//   - DownloadAuto: Download() with AutoActivate=true; the agent reboots
//     into the new image by itself.
//   - DownloadActivate: Download() with AutoActivate=false; on its
//     successful OperationComplete, Activate() with one time window
//     (Config.Window: start and end offsets, mode).
//   - BootImage: Download(); on success, a Set of
//     Device.DeviceInfo.BootFirmwareImage to the row, then Device.Reboot().
//
// # What the controller concludes (Seen)
//
// From USP alone: Updated (a Boot! with the target version, and after the
// Soak a Get that still finds it), RolledBack (a Boot! with another version
// after the activation, or the Get at the end of the soak), DownloadFailed (the
// Download()'s OperationComplete failed, or TransferComplete! with a
// FaultCode), ActivateFailed, Interrupted (a Boot! with the old version
// before the download's result: power lost during the download or the
// install), Unreachable (nothing conclusive by the wave's deadline). A later
// conclusive outcome replaces Unreachable; no other outcome changes.
//
// # Requests
//
// Every request that gets no response within RequestTimeout is sent again
// with a new msg_id, at most Retries times, when the agent is connected (an
// agent that is not gets its unanswered requests again when it
// reconnects). Notifies that ask for a response are answered with a
// NotifyResp.
package campaign

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// Procedure is how the new image is activated.
type Procedure string

// Procedures.
const (
	DownloadAuto     Procedure = "download-auto"
	DownloadActivate Procedure = "download-activate"
	BootImage        Procedure = "boot-image"
)

// Seen outcomes: what the controller concludes from USP alone.
const (
	Updated        = "updated"
	RolledBack     = "rolled_back"
	DownloadFailed = "download_failed"
	ActivateFailed = "activate_failed"
	Interrupted    = "interrupted"
	Unreachable    = "unreachable"
	NotStarted     = "not_started" // the device's wave never opened
)

// Image is what one board's devices of a wave download.
type Image struct {
	URL     string
	Version string
	Size    int
	SHA256  string // hex; empty: no CheckSum sent
}

// Wave is one step of the rollout.
type Wave struct {
	Name     string
	Deadline time.Duration    // from the wave's opening; 0: 10 minutes
	Images   map[string]Image // by board profile
}

// Window is the Activate() time window, as offsets from the request.
type Window struct {
	Start, End time.Duration
	Mode       string // Immediately, AnyTime, WhenIdle, ConfirmationNeeded; default AnyTime
}

// Abort is the abort rule.
type Abort struct {
	FailureRate float64 // abort when failures / wave size exceed this
	MinDevices  int     // ... once at least this many devices of the wave have an outcome
}

// Device is one agent of the fleet.
type Device struct {
	ID    string
	Board string
	Wave  int // 1-based; 0: not in the campaign
}

// Config is a campaign. Start, Waves and Devices are required.
type Config struct {
	ID        string // the controller's Endpoint ID; default "proto::controller"
	Devices   []Device
	Waves     []Wave
	Procedure Procedure // default DownloadAuto
	Window    Window
	Start     time.Time // when wave 1 opens
	Pause     time.Duration
	Abort     *Abort

	// Soak is how long a device must run the target version before the
	// controller counts it updated: a new image on trial may still fail and
	// roll back. At the end of the soak a Get of the running version
	// decides (Updated, or RolledBack). 0: updated at the first Boot! of
	// the target version.
	Soak time.Duration

	Username, Password string // sent in Download()

	RequestTimeout time.Duration // default 60 s
	Heartbeat      time.Duration // the longest wait between Ticks; default 1 s
	Retries        int           // default 2; negative: none

	// Observe, if set, gets every request's round trip (first send of
	// the msg_id to its response).
	Observe func(time.Duration)
	// ObserveRequest, if set, gets the same round trips with the request's
	// type (Get, Add, Operate, ...) and its first send.
	ObserveRequest func(typ string, sent time.Time, d time.Duration)
	// Message, if set, is told of every USP message sent ("sent") or
	// received ("received"), by its type name (Get, GetResp, Notify, ...).
	Message func(direction, typ string)
	// ErrorCode, if set, is told the code of every Error message an agent
	// answers with.
	ErrorCode func(code uint32)
	// Logf, if set, gets one line per thing that goes wrong (undecodable
	// Records, Error messages), with the agent.
	Logf func(format string, args ...any)
}

type stage uint8

const (
	stIdle       stage = iota // nothing sent yet
	stDownload                // Download() sent
	stDownloaded              // Download() succeeded; activation under way
	stActivated               // activation sent (or automatic): waiting for Boot!
	stSoak                    // booted the target version: waiting out the soak
	stDone                    // outcome reached
)

type dev struct {
	id, board string
	wave      int
	online    bool
	setup     bool   // subscriptions + Get sent
	known     bool   // Get answered
	version   string // running version, as last reported
	active    int    // active FirmwareImage row
	rows      int
	target    int // row downloaded into
	stage     stage
	seen      string
	fromVer   string   // version before the campaign's download
	sessions  int      // sessions seen (Connected calls)
	opSess    int      // the session its last operation went out on
	reqs      []string // msg_ids of its requests in flight (requests.go)
}

type waveState struct {
	open, closed bool
	opened       time.Time
	closedAt     time.Time
	size, done   int
	failed       int
	aborted      bool
}

// Campaign is the controller. Not safe for concurrent use: the fleet
// runners serialise their calls.
type Campaign struct {
	cfg       Config
	codec     usp.Codec
	devs      []dev
	byID      map[string]int
	waves     []waveState
	next      int // the next wave to open (index)
	nextAt    time.Time
	aborted   string
	abortedAt time.Time
	pend      map[string]*pending
	timers    timeouts // the requests' timeouts (requests.go)
	seq       uint64   // orders timeouts due at the same time
	msgID     uint64
	errs      int
	soak      []soakEntry // in time order (Soak is one duration)
}

type soakEntry struct {
	dev int
	at  time.Time
}

// New makes a campaign.
func New(cfg Config) (*Campaign, error) {
	if cfg.ID == "" {
		cfg.ID = "proto::controller"
	}
	if cfg.Procedure == "" {
		cfg.Procedure = DownloadAuto
	}
	switch cfg.Procedure {
	case DownloadAuto, DownloadActivate, BootImage:
	default:
		return nil, errorf("unknown procedure %q (want %s, %s or %s)", cfg.Procedure, DownloadAuto, DownloadActivate, BootImage)
	}
	if cfg.Window.Mode == "" {
		cfg.Window.Mode = "AnyTime"
	}
	if cfg.Window.End == 0 {
		cfg.Window.End = cfg.Window.Start + time.Hour
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.Start.IsZero() {
		return nil, errorf("no start time")
	}
	c := &Campaign{cfg: cfg, codec: usp.Codec{LocalID: cfg.ID}, byID: make(map[string]int, len(cfg.Devices)),
		waves: make([]waveState, len(cfg.Waves)), pend: map[string]*pending{}, nextAt: cfg.Start}
	for i := range cfg.Waves {
		if cfg.Waves[i].Deadline <= 0 {
			cfg.Waves[i].Deadline = 10 * time.Minute
		}
	}
	c.devs = make([]dev, len(cfg.Devices))
	for i, d := range cfg.Devices {
		if _, dup := c.byID[d.ID]; dup {
			return nil, errorf("device %q listed twice", d.ID)
		}
		if d.Wave < 0 || d.Wave > len(cfg.Waves) {
			return nil, errorf("device %q: wave %d of %d", d.ID, d.Wave, len(cfg.Waves))
		}
		c.byID[d.ID] = i
		c.devs[i] = dev{id: d.ID, board: d.Board, wave: d.Wave}
		if d.Wave > 0 {
			w := cfg.Waves[d.Wave-1]
			if _, ok := w.Images[d.Board]; !ok {
				return nil, errorf("wave %d has no image for board %q (device %s)", d.Wave, d.Board, d.ID)
			}
			c.waves[d.Wave-1].size++
		}
	}
	return c, nil
}

var _ fleet.Controller = (*Campaign)(nil)

func errorf(format string, args ...any) error {
	return fmt.Errorf("campaign: "+format, args...)
}

// Connected implements fleet.Controller.
func (c *Campaign) Connected(agentID string, now time.Time) []fleet.Send {
	n, ok := c.byID[agentID]
	if !ok {
		c.logf("%s: connected but not in the fleet", agentID)
		return nil
	}
	d := &c.devs[n]
	d.online = true
	d.sessions++
	var out []fleet.Send
	if d.sessions > 1 {
		out = c.reconnected(n, now, out) // what went out on the old session may be lost
	}
	if !d.setup {
		d.setup = true
		out = c.send(n, "setup", c.setupMsg(), now, out)
		out = c.send(n, "get", c.getMsg(), now, out)
	}
	return c.start(n, now, out)
}

// Disconnected implements fleet.Controller.
func (c *Campaign) Disconnected(agentID string, now time.Time) {
	if n, ok := c.byID[agentID]; ok {
		c.devs[n].online = false
	}
}

func (c *Campaign) setupMsg() *pb.Msg {
	sub := func(id, typ, ref string) *pb.Add_CreateObject {
		return &pb.Add_CreateObject{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*pb.Add_CreateParamSetting{
			{Param: "Enable", Value: "true", Required: true},
			{Param: "ID", Value: id, Required: true},
			{Param: "NotifType", Value: typ, Required: true},
			{Param: "ReferenceList", Value: ref, Required: true},
			{Param: "Persistent", Value: "true", Required: true},
			{Param: "NotifRetry", Value: "true", Required: true},
		}}
	}
	return usp.NewRequest(c.nextID(), &pb.Add{CreateObjs: []*pb.Add_CreateObject{
		sub("campaign-boot", "Event", "Device.Boot!"),
		sub("campaign-transfer", "Event", "Device.LocalAgent.TransferComplete!"),
		sub("campaign-oper", "OperationComplete", "Device.DeviceInfo.FirmwareImage."),
		sub("campaign-version", "ValueChange", "Device.DeviceInfo.SoftwareVersion"),
		{ObjPath: "Device.LocalAgent.Controller.1.BootParameter.", ParamSettings: []*pb.Add_CreateParamSetting{
			{Param: "Enable", Value: "true", Required: true},
			{Param: "ParameterName", Value: "Device.DeviceInfo.SoftwareVersion", Required: true},
		}},
	}})
}

func (c *Campaign) getMsg() *pb.Msg {
	return usp.NewRequest(c.nextID(), &pb.Get{ParamPaths: []string{
		"Device.DeviceInfo.SoftwareVersion",
		"Device.DeviceInfo.ActiveFirmwareImage",
		"Device.DeviceInfo.FirmwareImageNumberOfEntries",
	}})
}

func (c *Campaign) nextID() string {
	c.msgID++
	return "campaign-" + strconv.FormatUint(c.msgID, 10)
}

// send seals m for device n and remembers it as a pending request.
func (c *Campaign) send(n int, kind string, m *pb.Msg, now time.Time, out []fleet.Send) []fleet.Send {
	id := m.GetHeader().GetMsgId()
	p := &pending{dev: n, kind: kind, msg: m, first: now, due: now.Add(c.cfg.RequestTimeout), attempts: 1, sess: c.devs[n].sessions}
	if !p.idempotent() {
		c.devs[n].opSess = p.sess
	}
	c.track(id, p)
	return c.seal(n, m, out)
}

func (c *Campaign) seal(n int, m *pb.Msg, out []fleet.Send) []fleet.Send {
	rec, err := c.codec.Seal(c.devs[n].id, m)
	if err != nil {
		c.errs++
		c.logf("%s: sealing %s: %v", c.devs[n].id, usp.TypeOf(m), err)
		return out
	}
	c.message("sent", m)
	return append(out, fleet.Send{To: c.devs[n].id, Data: rec})
}

func (c *Campaign) message(dir string, m *pb.Msg) {
	if c.cfg.Message != nil {
		c.cfg.Message(dir, usp.TypeName(usp.TypeOf(m)))
	}
}

func (c *Campaign) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// params flattens a JSON object of strings (Boot!'s ParameterMap).
func params(s string) map[string]string {
	var m map[string]string
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil
	}
	return m
}

// WaveStatus is where one wave stands.
type WaveStatus struct {
	Name             string
	Size, Done, Fail int
	Opened, Closed   bool
	OpenedAt         time.Time
	ClosedAt         time.Time
	Aborted          bool // its failure rate stopped the campaign
}

// Waves is where every wave stands.
func (c *Campaign) Waves() []WaveStatus {
	out := make([]WaveStatus, len(c.waves))
	for i, w := range c.waves {
		out[i] = WaveStatus{Name: c.cfg.Waves[i].Name, Size: w.size, Done: w.done, Fail: w.failed,
			Opened: w.open, Closed: w.closed, OpenedAt: w.opened, ClosedAt: w.closedAt, Aborted: w.aborted}
	}
	return out
}

// Aborted is why the campaign stopped early; empty when it did not.
func (c *Campaign) Aborted() string { return c.aborted }

// AbortedAt is when the abort rule stopped the campaign; zero when it did
// not.
func (c *Campaign) AbortedAt() time.Time { return c.abortedAt }

// Done reports whether the campaign is over: every wave that opened has
// closed and no further wave will open.
func (c *Campaign) Done() bool {
	for _, w := range c.waves {
		if w.open && !w.closed {
			return false
		}
	}
	return c.aborted != "" || c.next == len(c.waves)
}

// Seen is what the controller concluded of agentID: one of the Seen
// outcomes, NotStarted when its wave never opened, or "" when it is still
// under way.
func (c *Campaign) Seen(agentID string) string {
	n, ok := c.byID[agentID]
	if !ok {
		return ""
	}
	d := &c.devs[n]
	if d.seen == "" && d.wave > 0 && !c.waves[d.wave-1].open {
		return NotStarted
	}
	return d.seen
}

// Errors is the number of Records the controller could not use and error
// answers it got.
func (c *Campaign) Errors() int { return c.errs }
