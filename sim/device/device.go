package device

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"brickyard/boards"
	"brickyard/usp"
	"brickyard/usp/dm"
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
	cfg    Config
	board  *boards.Board
	schema *dm.Schema
	codec  usp.Codec
	rng    *rand.Rand
	slots  []string
	seq    uint64 // ids of fetches and window timers; never reset
	used   uint8  // one-shot faults already applied (fault* bits)

	nv nvState // survives power loss (see nv.go)

	// RAM: lost at every reboot and power cut.
	state       State
	m           *dm.Model
	bootAt      time.Time
	running     int // 0-based row (slot index) of the running image
	conn        bool
	bootSent    bool
	boot        bootInfo
	trial       bool
	healthFail  bool // the image on trial fails its health check
	warned      bool // the health failure was reported
	retries     int  // reconnect attempts since the session was lost
	timers      []Timer
	downloads   []*download
	activations []*activation
	outbox      []Record
	restartReq  *restartReq // asked for by Reboot()/FactoryReset() during Handle
	dirty       bool        // persistent model state changed: take a Snapshot
	booting     bool        // model changes notify no one (the boot's own setup)
	cut         bool        // power was lost inside a data-model handler
	inHandler   bool        // running inside a data-model handler: power loss is deferred

	out *Output // the Output of the input being handled
}

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
	d := &Device{
		cfg:    cfg,
		board:  board,
		schema: schema,
		codec:  usp.Codec{LocalID: cfg.EndpointID},
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
	if d.state == On {
		if d.dirty {
			d.nv.model = d.m.Snapshot()
			d.dirty = false
		}
		// Notify retries wait for the session: Connected ticks the model.
		var wake time.Time
		if d.conn {
			wake = d.m.Wake()
		}
		d.setTimer(TimerModel, wake)
	}
	out := *d.out
	d.out = nil
	return out
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
