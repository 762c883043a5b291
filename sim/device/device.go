package device

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"brickyard/boards"
	"brickyard/sim/faults"
	"brickyard/sim/model"
	"brickyard/usp"
	"brickyard/usp/dm"
	"brickyard/usp/e2e"
)

// State is the device's power state.
type State uint8

// Power states.
const (
	Off  State = iota // not powered (before PowerOn, while rebooting, after a cut)
	On                // booted and running
	Dead              // bricked: the bootloader found nothing bootable
)

func (s State) String() string {
	switch s {
	case Off:
		return "off"
	case On:
		return "on"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("state-%d", uint8(s))
}

// Device is one simulated device. See the package documentation for its
// loop and Output for what each input returns.
type Device struct {
	cfg    setup
	board  *boards.Board
	schema *dm.Schema
	rng    *rand.Rand
	slots  []string
	seq    uint64 // ids of fetches and window timers; never reset

	nv nvState // survives power loss (see nv.go)

	// RAM: lost at every reboot and power cut.
	m           *dm.Model
	bootAt      time.Time
	running     int       // 0-based row (slot index) of the running image
	boot        *bootInfo // the Boot! to send once connected; nil once sent
	timers      []Timer
	downloads   []*download
	activations []*activation
	outbox      []Record
	restartReq  *restartReq    // asked for by Reboot()/FactoryReset() during Handle
	connAt      int64          // when the session came up, Unix nanoseconds
	x           *busy          // what is under way besides the firmware flows; nil when idle
	sessions    []*e2e.Session // E2E session contexts, one per controller at most (R-E2E.5)
	resets      []string       // controllers whose session Reset() ends once its response is out

	out *Output // the Output of the input being handled

	// The small fields last, packed.
	used        uint8 // one-shot faults already applied (fault* bits); survives power loss
	state       State
	conn        bool
	bootSent    bool
	trial       bool
	healthFail  bool   // the image on trial fails its health check
	warned      bool   // the health failure was reported
	booting     bool   // model changes notify no one (the boot's own setup)
	cut         bool   // power was lost inside a data-model handler
	inHandler   bool   // running inside a data-model handler: power loss is deferred
	retarget    bool   // a controller wrote an MTP parameter during Handle
	onboardDone bool   // this boot's OnBoardRequests went out
	userAnswers uint16 // prompts the simulated user has answered (or let lapse); kept across reboots
	retries     uint16 // reconnect attempts since the session was lost (saturating)
}

// setup is what a Device keeps of its Config (filled): the same
// fields, less the seed (used by New), with the faults only when there
// are any, and with the strings a fleet's devices usually share
// (ControllerID and the identity but the serial number) packed into one,
// which Config.Intern, when set, lets them share: a fleet holds one setup
// per device.
type setup struct {
	EndpointID, SerialNumber                      string
	ident                                         string // ControllerID, Manufacturer, ...: see identField
	TrialPeriod, RebootDuration, RetryMinimumWait time.Duration
	RetryIntervalMultiplier, PeriodicInterval     uint32
	PeriodicJitter                                time.Duration
	faults                                        *faults.Faults // nil: none
	tr                                            *Transport     // filled; shared by a fleet's devices
	seedHash                                      uint64         // the seed, mixed: usage and addresses draw from it
	Onboarded                                     bool
	User                                          *User
	Model                                         *model.Model
	Blobs                                         BlobSource
	Intern                                        func(string) string
	Cert                                          *Certificate
	ACL                                           dm.ACLCache
}

// identField is a string of setup.ident, which holds each as its length
// (uvarint) and its bytes, in this order.
type identField int

const (
	idControllerID identField = iota
	idManufacturer
	idManufacturerOUI
	idModelName
	idProductClass
	idHardwareVersion
	idAgentVersion
	idMTP
	idUnknown
)

func newSetup(c *Config) setup {
	s := setup{EndpointID: c.EndpointID, SerialNumber: c.SerialNumber,
		TrialPeriod: c.TrialPeriod, RebootDuration: c.RebootDuration, RetryMinimumWait: c.RetryMinimumWait,
		RetryIntervalMultiplier: c.RetryIntervalMultiplier, PeriodicInterval: c.PeriodicInterval, PeriodicJitter: c.PeriodicJitter, Blobs: c.Blobs, Intern: c.Intern,
		Cert: c.Cert, ACL: c.ACL}
	var b []byte
	for _, v := range [...]string{idControllerID: c.ControllerID, idManufacturer: c.Manufacturer, idManufacturerOUI: c.ManufacturerOUI,
		idModelName: c.ModelName, idProductClass: c.ProductClass, idHardwareVersion: c.HardwareVersion,
		idAgentVersion: c.AgentVersion, idMTP: c.MTP, idUnknown: string(c.Unknown)} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	s.ident = string(b)
	s.tr, s.Onboarded, s.User, s.Model = c.Transport, c.Onboarded, c.User, c.Model
	s.seedHash = mix64(c.Seed)
	if c.Intern != nil {
		s.ident = c.Intern(s.ident)
	}
	if f := c.Faults; !noFaults(&f) {
		s.faults = &f
	}
	return s
}

// mix64 is SplitMix64's finalizer: well-spread bits of a seed.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// get returns a string of ident.
func (c *setup) get(f identField) string {
	s := c.ident
	for i := identField(0); ; i++ {
		n, shift := 0, 0
		for s[0] >= 0x80 {
			n |= int(s[0]&0x7f) << shift
			s, shift = s[1:], shift+7
		}
		n |= int(s[0]) << shift
		s = s[1:]
		if i == f {
			return s[:n]
		}
		s = s[n:]
	}
}

// The strings of Config that setup keeps packed.
func (c *setup) ControllerID() string    { return c.get(idControllerID) }
func (c *setup) Manufacturer() string    { return c.get(idManufacturer) }
func (c *setup) ManufacturerOUI() string { return c.get(idManufacturerOUI) }
func (c *setup) ModelName() string       { return c.get(idModelName) }
func (c *setup) ProductClass() string    { return c.get(idProductClass) }
func (c *setup) HardwareVersion() string { return c.get(idHardwareVersion) }
func (c *setup) AgentVersion() string    { return c.get(idAgentVersion) }
func (c *setup) MTP() string             { return c.get(idMTP) }
func (c *setup) Transport() *Transport   { return c.tr }
func (c *setup) Unknown() UnknownPolicy  { return UnknownPolicy(c.get(idUnknown)) }

// user is the simulated user, with After defaulted.
func (c *setup) user() User {
	u := DefaultUser
	if c.User != nil {
		u = *c.User
	}
	if u.After == 0 {
		u.After = DefaultUser.After
	}
	return u
}

// noFaults reports whether every field of f is zero (setupFaults_test
// checks it knows every field).
func noFaults(f *faults.Faults) bool {
	return f.PowerDuringDownload == nil && f.PowerDuringInstall == nil && f.PowerDuringTrial == nil &&
		f.PowerAtUptime == 0 && !f.PowerAtUptimeTorn && !f.HealthFail && f.Net == nil &&
		f.DownloadRate == 0 && f.DownloadTruncate == 0 && !f.DownloadCorrupt &&
		f.Misbehave == nil && f.Churn == 0 && f.Slow == nil && f.Drops == nil && f.Cycles == nil && f.Skew == 0
}

// Faults are the device's faults (Config.Faults).
func (c *setup) Faults() faults.Faults {
	if c.faults == nil {
		return faults.Faults{}
	}
	return *c.faults
}

// codec is the device's USP codec.
func (d *Device) codec() usp.Codec { return usp.Codec{LocalID: d.cfg.EndpointID} }

// One-shot faults.
const (
	faultDownload uint8 = 1 << iota
	faultInstall
	faultTrial
)

// maxOutbox is the most Records kept while the MTP session is down.
const maxOutbox = 32

// New makes a device from its configuration, its board (a provisioned
// board of its own, typically a Clone of a fleet's factory board) and the
// fleet's schema (NewSchema). The device starts Off: call PowerOn.
func New(cfg Config, board *boards.Board, schema *dm.Schema) (*Device, error) {
	switch {
	case board == nil || board.Chip == nil || board.Loader == nil:
		return nil, errors.New("device: a board with a chip and a loader is required")
	case schema == nil || schema.Object("Device.DeviceInfo.FirmwareImage.{i}.") == nil || schema.Param(pathBootFW) == nil:
		return nil, errors.New("device: the schema is not a device schema (use NewSchema)")
	case len(board.Loader.Slots()) == 0:
		return nil, errors.New("device: the board's loader has no slots")
	}
	if err := cfg.fill(board.ID); err != nil {
		return nil, err
	}
	if err := checkModel(schema, cfg.Model); err != nil {
		return nil, err
	}
	d := &Device{
		cfg:    newSetup(&cfg),
		board:  board,
		schema: schema,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6272_6963_6b79_6172)),
		slots:  board.Loader.Slots(),
	}
	return d, nil
}

// State is the device's power state.
func (d *Device) State() State { return d.state }

// EndpointID is the agent's Endpoint ID.
func (d *Device) EndpointID() string { return d.cfg.EndpointID }

// Board is the device's board. The caller must not change it.
func (d *Device) Board() *boards.Board { return d.board }

// Online reports whether the device believes its MTP session is up.
func (d *Device) Online() bool { return d.conn }

// Value reads a parameter of the running device's data model
// ("Device.DeviceInfo.FirmwareImage.2.Status"), for reports and tests.
func (d *Device) Value(p string, now time.Time) (string, error) {
	if d.state != On {
		return "", fmt.Errorf("device %s is %s", d.cfg.EndpointID, d.state)
	}
	return d.m.Value(p, now)
}

// begin starts handling an input; finish returns its Output.
func (d *Device) begin() { d.out = &Output{} }

func (d *Device) finish() Output {
	if x := d.x; x != nil && len(x.onboards) == 0 && len(x.onboardAsk) == 0 && len(x.vendorJobs) == 0 {
		d.x = nil // an idle device holds none of it
	}
	if d.state == On {
		// Notify retries wait for the session: Connected ticks the model.
		var wake time.Time
		if d.conn {
			wake = d.m.Wake()
		}
		d.setTimer(TimerModel, wake)
		d.setTimer(TimerSession, d.sessionWake())
	}
	out := *d.out
	d.out = nil
	return out
}

// busy is what a device holds only while it is under way: its
// OnBoardRequests and their restarts, the Controller rows that asked for
// one during a request, its running vendor commands. An idle device has
// none (finish drops it), so that it costs a fleet one pointer.
type busy struct {
	onboards   []onboardReq
	onboardAsk []string // Controller rows that asked for an OnBoardRequest during Handle
	vendorJobs []*vendorJob
}

// busy returns d's busy state, made when needed.
func (d *Device) busy() *busy {
	if d.x == nil {
		d.x = &busy{}
	}
	return d.x
}

func (d *Device) event(now time.Time, k EventKind, format string, args ...any) {
	e := Event{At: now, Kind: k}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	d.out.Events = append(d.out.Events, e)
}

// send emits a Record while the session is up and keeps it for the next
// session otherwise.
func (d *Device) send(r Record) {
	if d.conn {
		d.out.Records = append(d.out.Records, r)
		return
	}
	if len(d.outbox) == maxOutbox {
		d.outbox = append(d.outbox[:0], d.outbox[1:]...)
	}
	d.outbox = append(d.outbox, r)
}

// setTimer arms timer id at at (zero: disarms it), telling the shell when
// that changes anything.
func (d *Device) setTimer(id TimerID, at time.Time) {
	for i, t := range d.timers {
		if t.ID != id {
			continue
		}
		if t.At.Equal(at) {
			return
		}
		if at.IsZero() {
			d.timers = append(d.timers[:i], d.timers[i+1:]...)
		} else {
			d.timers[i].At = at
		}
		d.out.Timers = append(d.out.Timers, Timer{ID: id, At: at})
		return
	}
	if at.IsZero() {
		return
	}
	d.timers = append(d.timers, Timer{ID: id, At: at})
	d.out.Timers = append(d.out.Timers, Timer{ID: id, At: at})
}

// takeTimer disarms timer id if it is armed and due at now.
func (d *Device) takeTimer(id TimerID, now time.Time) bool {
	for i, t := range d.timers {
		if t.ID == id {
			if now.Before(t.At) {
				return false
			}
			d.timers = append(d.timers[:i], d.timers[i+1:]...)
			return true
		}
	}
	return false
}

func (d *Device) nextSeq() uint64 {
	d.seq++
	return d.seq
}
