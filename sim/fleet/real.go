package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/mtp"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
	"brickyard/sim/misbehave"
	"brickyard/usp/dm"
)

// dayState is a device's place in the diurnal pattern: its next off
// window, from the run's start, and whether it is in it.
type dayState struct {
	start, end time.Duration
	ok, off    bool
}

// maxLate bounds the Records a late-complete device holds.
const maxLate = 16

// errReconnectWave is why a reconnect wave ended a session: the network
// did, as far as the device and the controller can tell.
var errReconnectWave = errors.New("fleet: a reconnect wave dropped the session")

// misbehaveSeed sets a device's misbehaviour draws apart from its other
// draws.
const misbehaveSeed = 0x6d697362656861

// RealConfig is a real-time run. It is read by NewReal and not used
// afterwards, except the Dialer, Fetcher, Clock, Log, Index and Observe.
type RealConfig struct {
	Seed         uint64
	ControllerID string // default "proto::controller"
	Boards       []BoardGroup
	IDFormat     string // default "os::00256D-SIM%06d"
	Schema       *dm.Schema
	Device       func(n int, c *device.Config)
	Plan         faults.Plan

	// IDOffset numbers the devices from IDOffset+1 instead of 1 in their
	// Endpoint IDs (IDFormat), so that a fleet split over processes
	// (shards) keeps its IDs unique. Device's n is not offset.
	IDOffset int

	Dialer  mtp.Dialer // required: opens each agent's sessions
	Fetcher Fetcher    // default &HTTPFetcher{Clock: Clock}
	Clock   Clock      // default StdClock{}

	ConnectRate   float64 // power-ons per second; 0: all at once
	Ramp          Ramp    // power on in steps instead of at ConnectRate
	Diurnal       Diurnal // a daily pattern of the devices' power; zero: none
	ConnectJitter time.Duration
	// PowerOnAt, if set, is when device n (from 0) powers on after Run
	// starts, instead of ConnectRate and ConnectJitter over this fleet
	// alone: a shard's part of the whole fleet's schedule (PowerOnDelay).
	PowerOnAt func(n int) time.Duration
	// Faults, if set, are the devices' faults, one per device in order,
	// instead of Plan's assignment over this fleet alone: a shard's part
	// of the whole fleet's (ShardFaults).
	Faults []faults.Faults

	Log io.Writer // event log (lines as Virtual's; order across devices is not deterministic)
	// LogFormat is the event log's format: text (default) or JSON.
	LogFormat LogFormat
	Index     *index.Index // updated after each input that changed a device

	// Observe, optional, sees every device's Records and session events
	// as they happen (see Observer).
	Observe Observer

	// StateDir, if set, keeps each device's state across runs (state.go):
	// NewReal loads what it holds, Run saves every device's when it ends.
	StateDir string
}

// Real is a real-time fleet run: one goroutine per device. See the package
// documentation for who owns what.
type Real struct {
	cfg    RealConfig
	start  time.Time // when Run started: network fault windows count from it
	devs   []*rdev
	logMu  sync.Mutex
	logErr error
	// The flash pages the devices wrote, shared by content (see
	// flash.Pool); the pool is for one goroutine at a time.
	pagesMu sync.Mutex
	pages   flash.Pool
}

type rdev struct {
	d       *device.Device
	id      string
	board   string
	group   int // its BoardGroup
	faults  faults.Faults
	delay   time.Duration // start-up delay
	target  string        // the group's Target
	tr      track
	offline string    // why its board is unreachable (a bench board's link gave up)
	power   chan bool // SwitchPower's: a lab tool's power switch
	// wk is the session the device's goroutine waits in, when it waits
	// in a session (mtp.Waiter): what hands it something wakes it.
	wk atomic.Pointer[waiterBox]
}

// NewReal builds the fleet, every device off.
func NewReal(cfg RealConfig) (*Real, error) {
	if cfg.Dialer == nil {
		return nil, errors.New("fleet: a Dialer is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = StdClock{}
	}
	if cfg.Fetcher == nil {
		cfg.Fetcher = &HTTPFetcher{Clock: cfg.Clock}
	}
	if cfg.ControllerID == "" {
		cfg.ControllerID = "proto::controller"
	}
	if cfg.IDFormat == "" {
		cfg.IDFormat = "os::00256D-SIM%06d"
	}
	if cfg.Schema == nil {
		s, err := device.NewSchema()
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		cfg.Schema = s
	}
	var fd []faults.Device
	var grp []int
	for g, bg := range cfg.Boards {
		switch {
		case bg.Board != nil && bg.Count != 1:
			return nil, fmt.Errorf("fleet: board group %q has a board of its own and %d devices: want 1", bg.Name, bg.Count)
		case bg.Board == nil && bg.Factory == nil:
			return nil, fmt.Errorf("fleet: board group %q has no factory board", bg.Name)
		}
		for range bg.Count {
			fd = append(fd, faults.Device{ID: fmt.Sprintf(cfg.IDFormat, cfg.IDOffset+len(fd)+1), Board: bg.Name, Wave: bg.Wave})
			grp = append(grp, g)
		}
	}
	fs := cfg.Faults
	if fs == nil {
		var err error
		if fs, err = faults.Assign(cfg.Plan, fd, cfg.Seed); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
	} else if len(fs) != len(fd) {
		return nil, fmt.Errorf("fleet: %d devices' faults for %d devices", len(fs), len(fd))
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7265616c))
	r := &Real{cfg: cfg}
	blobs := NewBlobs(8) // the images of the run, held once for every device
	schemas, err := groupSchemas(cfg.Schema, cfg.Boards)
	if err != nil {
		return nil, err
	}
	acl := newACLs() // the devices' compiled permissions, once per set of roles
	for n := range fd {
		dc := device.Config{EndpointID: fd[n].ID, ControllerID: cfg.ControllerID, Faults: fs[n], Seed: deviceSeed(cfg.Seed, fd[n].ID), Blobs: blobs,
			Model: cfg.Boards[grp[n]].Model, ACL: acl}
		if cfg.Device != nil {
			cfg.Device(n+1, &dc)
		}
		board, saved := cfg.Boards[grp[n]].Board, []byte(nil)
		if board == nil {
			board = cfg.Boards[grp[n]].Factory.Clone()
			if cfg.StateDir != "" {
				b, st, err := loadState(cfg.StateDir, fd[n].ID, cfg.Boards[grp[n]].Factory)
				if err != nil {
					return nil, err
				}
				if b != nil {
					board, saved = b, st
				}
			}
		}
		d, err := device.New(dc, board, schemas[grp[n]])
		if err != nil {
			return nil, fmt.Errorf("fleet: device %s: %w", fd[n].ID, err)
		}
		if saved != nil {
			if err := d.LoadState(saved); err != nil {
				return nil, fmt.Errorf("fleet: %s: %w", stateFile(cfg.StateDir, fd[n].ID), err)
			}
		}
		var at time.Duration
		switch {
		case cfg.Ramp.On():
			at = cfg.Ramp.at(n)
		case cfg.ConnectRate > 0:
			at = time.Duration(float64(n) / cfg.ConnectRate * float64(time.Second))
		}
		if cfg.ConnectJitter > 0 {
			at += time.Duration(rng.Int64N(int64(cfg.ConnectJitter)))
		}
		if cfg.PowerOnAt != nil {
			at = cfg.PowerOnAt(n)
		}
		r.devs = append(r.devs, &rdev{d: d, id: fd[n].ID, board: fd[n].Board, group: grp[n], faults: fs[n], delay: at,
			target: cfg.Boards[grp[n]].Target, tr: newTrack(), power: make(chan bool, 4)})
	}
	return r, nil
}

// Len is the number of devices.
func (r *Real) Len() int { return len(r.devs) }

// ID is device n's Endpoint ID.
func (r *Real) ID(n int) string { return r.devs[n].id }

// Outcome is device n's outcome. Call it only after Run has returned.
// It is read from the device's core and board (see the package comment).
func (r *Real) Outcome(n int) string {
	rd := r.devs[n]
	return finalOutcome(&rd.tr, rd.d, rd.target)
}

// Cuts are the power cuts device n went through (the last 8). Call it only
// after Run has returned.
func (r *Real) Cuts(n int) []Cut { return cuts(&r.devs[n].tr, r.devs[n].d.Board().Layout) }

// Brick is why device n's last boot found nothing bootable; empty unless
// it is bricked. Call it only after Run has returned.
func (r *Real) Brick(n int) string { return brick(&r.devs[n].tr) }

// Record is device n's state as the fleet index holds it, with its
// Outcome from its core and board (Outcome). Call it only after Run has
// returned.
func (r *Real) Record(n int) index.Device {
	rd := r.devs[n]
	rec := rd.tr.record(rd.id, rd.board, rd.target)
	rec.Outcome = r.Outcome(n)
	return rec
}

// Faults is device n's faults.
func (r *Real) Faults(n int) faults.Faults { return r.devs[n].faults }

// Timeline is device n's milestones, oldest first. Call it only after Run
// has returned.
func (r *Real) Timeline(n int) []Step { return r.devs[n].tr.timeline() }

// SwitchPower switches device n's power as a lab's power switch does
// (a bench board's PDU outlet, served to pdudaemon): off cuts it and
// keeps it off, on powers it again. It is safe from any goroutine; the
// device's goroutine carries it out. It fails when four switches are
// already waiting.
func (r *Real) SwitchPower(n int, on bool) error {
	if n < 0 || n >= len(r.devs) {
		return fmt.Errorf("fleet: no device %d", n)
	}
	select {
	case r.devs[n].power <- on:
		r.devs[n].wake()
		return nil
	default:
		return errors.New("fleet: the device's power switch is busy")
	}
}

// Offline is why device n's board is unreachable, "" when it is not (or
// is a simulated board): a bench board whose link gave up. Call it only
// after Run has returned.
func (r *Real) Offline(n int) string { return r.devs[n].offline }

// Device is device n's core. Inspect it only after Run has returned.
func (r *Real) Device(n int) *device.Device { return r.devs[n].d }

// Run starts one goroutine per device and blocks until ctx ends; it returns
// after every goroutine it started (device loops, session readers,
// downloads) has ended, with the first error writing the log or index.
// Call it once.
func (r *Real) Run(ctx context.Context) error {
	r.start = r.cfg.Clock.Now()
	var wg sync.WaitGroup
	for _, rd := range r.devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runDevice(ctx, rd)
		}()
	}
	wg.Wait()
	if r.cfg.StateDir != "" {
		var errs []error
		now := r.cfg.Clock.Now()
		for _, rd := range r.devs {
			if r.cfg.Boards[rd.group].Factory == nil {
				continue // a bench board keeps its own state
			}
			if err := saveState(r.cfg.StateDir, rd.id, rd.d, r.cfg.Boards[rd.group].Factory, now); err != nil {
				errs = append(errs, fmt.Errorf("fleet: state of %s: %w", rd.id, err))
			}
		}
		return errors.Join(append([]error{r.logErr}, errs...)...)
	}
	return r.logErr
}

func (r *Real) logf(at time.Time, id, kind, detail string) {
	r.cfg.Observe.event(id, kind, detail, at)
	if r.cfg.Log == nil {
		return
	}
	line := AppendEvent(make([]byte, 0, 96+len(detail)), r.cfg.LogFormat, at, id, kind, detail)
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if _, err := r.cfg.Log.Write(line); err != nil && r.logErr == nil {
		r.logErr = err
	}
}

// errPartition is why a dial fails during a net-partition window.
var errPartition = errors.New("fleet: network partition (fault plan)")

// inbound is what the session reader hands the device goroutine.
type inbound struct {
	sess uint64
	rec  []byte
	err  error
}

type fetchResult struct {
	gen  uint64
	id   device.FetchID
	data []byte
	err  error
}

// waiterBox holds a session for an atomic pointer.
type waiterBox struct{ w mtp.Waiter }

// wake ends the device goroutine's wait in its session, if it waits in
// one: call it after handing the goroutine something.
func (rd *rdev) wake() {
	if b := rd.wk.Load(); b != nil {
		b.w.Wake()
	}
}

// shell is the state of one device goroutine. Only that goroutine touches
// it.
//
// The goroutine waits in one of two ways. With a session that can keep
// its time (mtp.Waiter, on the wall clock), it waits in the session's
// RecvBy, bounded by its next deadline, and whatever hands it something
// (a download's end, the power switch, the run's end) wakes it: one
// goroutine per connected agent, no reader. Otherwise (no session, or
// one that cannot) it waits in a select over its channels, and a reader
// goroutine per session hands it the Records (in).
type shell struct {
	r       *Real
	rd      *rdev
	ctx     context.Context
	gen     uint64 // power generation
	sess    uint64
	conn    mtp.Conn
	waiter  mtp.Waiter     // conn, when the goroutine waits in it (no reader)
	batch   mtp.Batcher    // conn, when it can write several Records at once
	queued  bool           // batch holds Records for the next Flush
	reader  sync.WaitGroup // the session's reader
	fetches sync.WaitGroup
	cancels map[device.FetchID]context.CancelFunc
	timers  []device.Timer
	powerAt time.Time // a pending PowerOn (zero: none)
	cutAt   time.Time // the PowerAtUptime cut (zero: none)
	cutDone bool
	held    bool              // switched off by SwitchPower: no power-on until it is switched on
	in      chan inbound      // the reader's; made with the first reader
	done    chan fetchResult  // the downloads'; made with the first
	wall    bool              // the clock is the wall's: a session's RecvBy can keep time
	rng     *rand.Rand        // the device's network-fault draws
	outQ    []delayed         // Records to the controller held back by a net-delay window or a misbehaviour
	inQ     []delayed         // Records from the controller held back likewise
	mb      *misbehave.Device // the device's wire misbehaviour; nil: none
	churnAt time.Time         // when conn-churn drops the session (zero: not set)
	slowLog time.Duration     // the slow-consumer window last logged: its start + 1 ns (0: none)
	waves   int               // reconnect waves (faults.Drops) done
	day     dayState          // the diurnal pattern's next off window
	late    [][]byte          // late-complete: Records held until the device has rebooted
	lateGen uint64            // the power generation they were held in
	cycles  int               // boot-storm power cycles (faults.Cycles) done
}

func (r *Real) runDevice(ctx context.Context, rd *rdev) {
	s := &shell{r: r, rd: rd, ctx: ctx}
	_, s.wall = r.cfg.Clock.(StdClock)
	if len(rd.faults.Net) > 0 {
		s.rng = rand.New(rand.NewPCG(deviceSeed(r.cfg.Seed, rd.id), 0x6e6574))
	}
	s.mb = misbehave.New(rd.faults.Misbehave, deviceSeed(r.cfg.Seed, rd.id)^misbehaveSeed)
	s.day.start, s.day.end, s.day.ok = r.cfg.Diurnal.next(r.cfg.Seed, rd.id, 0)
	defer s.stop()
	unhook := context.AfterFunc(ctx, rd.wake)
	defer unhook()
	s.powerAt = r.cfg.Clock.Now().Add(rd.delay)
	var tm TimerController
	var tc <-chan time.Time
	defer func() {
		if tm != nil {
			tm.Stop()
		}
	}()
	for {
		now := r.cfg.Clock.Now()
		s.runDue(now)
		next, ok := s.next()
		if s.queued && !s.more() {
			// The goroutine is about to wait (nothing more to answer
			// at once): what was queued goes out now, in one write.
			s.queued = false
			if s.conn != nil {
				_ = s.batch.Flush() // a failure: the session's next read reports it
			}
		}
		slow := s.slowNow(now)
		if w := s.waiter; w != nil && !slow {
			// What was handed over before the session's wait began (its
			// wake may have gone to the session before).
			if s.poll() {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			rec, err := w.RecvBy(next)
			switch {
			case err == nil:
				s.received(rec)
			case errors.Is(err, mtp.ErrDeadline), errors.Is(err, mtp.ErrWoken):
			default:
				s.closeConn(err)
				s.apply(rd.d.Disconnected(r.cfg.Clock.Now()))
			}
			continue
		}
		d := time.Hour
		if ok {
			d = max(0, next.Sub(r.cfg.Clock.Now()))
		}
		if tm == nil {
			tm, tc = r.cfg.Clock.NewTimer(d)
		} else {
			tm.Stop()
			tm.Reset(d)
		}
		in := s.in
		if slow {
			in = nil // a slow consumer: the session's Records wait in it
		}
		select {
		case <-ctx.Done():
			return
		case <-tc:
		case m := <-in:
			if m.sess != s.sess || s.conn == nil {
				continue
			}
			if m.err != nil {
				s.closeConn(m.err)
				s.apply(rd.d.Disconnected(r.cfg.Clock.Now()))
				continue
			}
			s.received(m.rec)
		case on := <-rd.power:
			s.switched(on)
		case f := <-s.done:
			s.fetched(f)
		}
	}
}

// poll takes what was handed to the goroutine (a power switch, a
// download's end) without waiting, and reports whether there was any.
func (s *shell) poll() bool {
	select {
	case on := <-s.rd.power:
		s.switched(on)
	case f := <-s.done:
		s.fetched(f)
	default:
		return false
	}
	return true
}

// more reports whether more input is at hand: a Record, read or waiting
// in the session, to answer before the goroutine waits.
func (s *shell) more() bool {
	if s.waiter != nil {
		return s.waiter.Ready()
	}
	return len(s.in) > 0
}

// received handles a Record from the session: the observer sees it, a
// net fault may drop or delay it, the device takes it.
func (s *shell) received(rec []byte) {
	rd := s.rd
	now := s.r.cfg.Clock.Now()
	s.r.cfg.Observe.record(rd.id, true, rec, now)
	if s.rng != nil && s.netHeld(now, &s.inQ, rec, "down") {
		return
	}
	s.apply(rd.d.Receive(now, rec))
}

// switched carries out a power switch (SwitchPower).
func (s *shell) switched(on bool) {
	rd := s.rd
	now := s.r.cfg.Clock.Now()
	s.r.logf(now, rd.id, "power-switch", map[bool]string{true: "on", false: "off"}[on])
	if on {
		s.held = false
		if rd.d.State() == device.Off && s.powerAt.IsZero() {
			s.powerAt = now
		}
		return
	}
	s.held = true
	s.apply(rd.d.PowerCut(now))
}

// fetched carries out a download's end.
func (s *shell) fetched(f fetchResult) {
	if f.gen != s.gen {
		return
	}
	delete(s.cancels, f.id)
	if errors.Is(f.err, ErrPowerCut) {
		s.apply(s.rd.d.PowerCut(s.r.cfg.Clock.Now()))
		return
	}
	s.apply(s.rd.d.FetchDone(s.r.cfg.Clock.Now(), f.id, f.data, f.err))
}

// next is the earliest pending deadline.
func (s *shell) next() (time.Time, bool) {
	var t time.Time
	take := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	if !s.held {
		take(s.powerAt)
	}
	take(s.cutAt)
	take(s.churnAt)
	if s.day.ok {
		if s.day.off {
			take(s.r.start.Add(s.day.end))
		} else {
			take(s.r.start.Add(s.day.start))
		}
	}
	if f := &s.rd.faults; s.waves < len(f.Drops) {
		take(s.r.start.Add(f.Drops[s.waves]))
	}
	if f := &s.rd.faults; s.cycles < len(f.Cycles) {
		take(s.r.start.Add(f.Cycles[s.cycles]))
	}
	if len(s.rd.faults.Slow) > 0 { // no clock read per wait for the devices without
		if end, ok := s.slowEnd(s.r.cfg.Clock.Now()); ok {
			take(end)
		}
	}
	if len(s.outQ) > 0 {
		take(s.outQ[0].at)
	}
	if len(s.inQ) > 0 {
		take(s.inQ[0].at)
	}
	for _, tm := range s.timers {
		take(tm.At)
	}
	return t, !t.IsZero()
}

// out sends one Record the device made: through its misbehaviour, if it
// has one, then its network faults.
func (s *shell) out(now time.Time, data []byte) error {
	if s.mb == nil {
		return s.wire(now, data)
	}
	outs, notes := s.mb.Send(data)
	for _, n := range notes {
		s.r.logf(now, s.rd.id, "misbehave", string(n.Kind)+" "+n.Detail)
	}
	for _, o := range outs {
		if o.Late {
			if len(s.late) < maxLate {
				s.late, s.lateGen = append(s.late, o.Data), s.gen
			} else {
				s.r.logf(now, s.rd.id, "misbehave", string(faults.LateComplete)+" dropped: "+strconv.Itoa(maxLate)+" held already")
			}
			continue
		}
		if o.After > 0 {
			s.hold(now.Add(o.After), o.Data)
			continue
		}
		if err := s.wire(now, o.Data); err != nil {
			return err
		}
	}
	return nil
}

// wire sends one Record through the device's network faults.
func (s *shell) wire(now time.Time, data []byte) error {
	if s.rng != nil && s.netHeld(now, &s.outQ, data, "up") {
		return nil
	}
	if err := s.send(data); err != nil {
		return err
	}
	s.r.cfg.Observe.record(s.rd.id, false, data, now)
	return nil
}

// hold queues a Record to send at at, in time order among those held.
func (s *shell) hold(at time.Time, data []byte) {
	i := sort.Search(len(s.outQ), func(i int) bool { return s.outQ[i].at.After(at) })
	s.outQ = slices.Insert(s.outQ, i, delayed{at: at, sess: s.sess, rec: data})
}

// slowNow reports whether a slow-consumer window holds the device's
// reading now (logged once per window).
func (s *shell) slowNow(now time.Time) bool {
	if len(s.rd.faults.Slow) == 0 {
		return false
	}
	w, ok := activeWindow(s.rd.faults.Slow, now.Sub(s.r.start))
	if ok && s.slowLog != w.Start+1 {
		s.slowLog = w.Start + 1
		s.r.logf(now, s.rd.id, "misbehave", string(faults.SlowConsumer)+" for="+(w.End-w.Start).String())
	}
	return ok
}

// slowEnd is when the slow-consumer window in force now ends.
func (s *shell) slowEnd(now time.Time) (time.Time, bool) {
	if w, ok := activeWindow(s.rd.faults.Slow, now.Sub(s.r.start)); ok {
		return s.r.start.Add(w.End), true
	}
	return time.Time{}, false
}

// runDue runs every deadline due at now: reconnect waves and boot storms,
// delayed Records, power-on, the uptime cut, conn-churn, timers.
func (s *shell) runDue(now time.Time) {
	d := s.rd.d
	f := &s.rd.faults
	if s.day.ok && !s.day.off && !now.Before(s.r.start.Add(s.day.start)) {
		s.day.off = true
		s.r.logf(now, s.rd.id, "traffic", "diurnal off until +"+s.day.end.String())
		s.switched(false)
	}
	if s.day.ok && s.day.off && !now.Before(s.r.start.Add(s.day.end)) {
		s.day.off = false
		s.r.logf(now, s.rd.id, "traffic", "diurnal on")
		s.switched(true)
		s.day.start, s.day.end, s.day.ok = s.r.cfg.Diurnal.next(s.r.cfg.Seed, s.rd.id, s.day.end)
	}
	for s.waves < len(f.Drops) && !now.Before(s.r.start.Add(f.Drops[s.waves])) {
		s.waves++
		if s.conn != nil {
			s.r.logf(now, s.rd.id, "traffic", string(faults.ReconnectWave))
			s.closeConn(errReconnectWave)
			s.apply(d.Disconnected(now))
		}
	}
	for s.cycles < len(f.Cycles) && !now.Before(s.r.start.Add(f.Cycles[s.cycles])) {
		s.cycles++
		if d.State() == device.On {
			s.r.logf(now, s.rd.id, "traffic", string(faults.BootStorm))
			s.apply(d.PowerCut(now))
		}
	}
	if !s.churnAt.IsZero() && !now.Before(s.churnAt) {
		s.churnAt = time.Time{}
		if s.conn != nil {
			s.r.logf(now, s.rd.id, "misbehave", string(faults.ConnChurn)+" every="+s.rd.faults.Churn.String())
			s.closeConn(nil) // the device drops it: the controller sees it go
			s.apply(d.Disconnected(now))
		}
	}
	for len(s.outQ) > 0 && !now.Before(s.outQ[0].at) {
		x := s.outQ[0]
		s.outQ = s.outQ[1:]
		if x.sess == s.sess && s.conn != nil {
			if s.conn.Send(s.ctx, x.rec) == nil {
				s.r.cfg.Observe.record(s.rd.id, false, x.rec, now)
			}
		}
	}
	for len(s.inQ) > 0 && !now.Before(s.inQ[0].at) {
		x := s.inQ[0]
		s.inQ = s.inQ[1:]
		if x.sess == s.sess && s.conn != nil {
			s.apply(d.Receive(now, x.rec))
		}
	}
	if !s.held && !s.powerAt.IsZero() && !now.Before(s.powerAt) {
		s.powerAt = time.Time{}
		s.apply(d.PowerOn(now))
		if d.State() == device.On && s.rd.faults.PowerAtUptime > 0 && !s.cutDone {
			s.cutAt = now.Add(s.rd.faults.PowerAtUptime)
		}
	}
	if !s.cutAt.IsZero() && !now.Before(s.cutAt) {
		s.cutAt, s.cutDone = time.Time{}, true
		s.apply(d.PowerCut(now))
	}
	for i := 0; i < len(s.timers); {
		if t := s.timers[i]; !now.Before(t.At) {
			s.timers = append(s.timers[:i], s.timers[i+1:]...)
			s.apply(d.Timer(now, t.ID))
			i = 0 // apply may have changed the list
			continue
		}
		i++
	}
}

// apply carries out an Output in the order device.Output documents.
func (s *shell) apply(out device.Output) {
	rd, now := s.rd, s.r.cfg.Clock.Now()
	changed := false
	for _, e := range out.Events {
		s.r.logf(e.At, rd.id, string(e.Kind), e.Detail)
		rd.tr.event(e, rd.target != "")
		changed = true
	}
	if c, ok := rd.d.Board().Chip.(*flash.Chip); ok && changed {
		// A device writes its flash only in steps that have events (a
		// download, an install, a boot): then what it wrote is shared
		// with the devices that wrote the same.
		s.r.pagesMu.Lock()
		c.Share(&s.r.pages)
		s.r.pagesMu.Unlock()
	}
	if o, ok := rd.d.Board().Chip.(boards.Offliner); ok && rd.offline == "" {
		if err := o.Offline(); err != nil {
			rd.offline = err.Error()
			s.r.logf(now, rd.id, "bench-offline", rd.offline)
		}
	}
	if s.conn != nil {
		for _, rec := range out.Records {
			if err := s.out(now, rec.Data); err != nil {
				break // the reader reports the broken session
			}
		}
	}
	if out.Disconnect {
		s.closeConn(nil)
	}
	if !out.Reboot.IsZero() || out.Dead {
		s.closeConn(nil)
		s.gen++
		for id, c := range s.cancels {
			c()
			delete(s.cancels, id)
		}
		s.timers, s.cutAt = s.timers[:0], time.Time{}
		if !out.Reboot.IsZero() {
			s.powerAt = out.Reboot
			s.r.logf(now, rd.id, "power-off", "until "+out.Reboot.UTC().Format(time.RFC3339Nano))
		}
		s.index(changed)
		return
	}
	for _, t := range out.Timers {
		for i, x := range s.timers {
			if x.ID == t.ID {
				s.timers = append(s.timers[:i], s.timers[i+1:]...)
				break
			}
		}
		if !t.At.IsZero() {
			s.timers = append(s.timers, t)
		}
	}
	for _, id := range out.CancelFetches {
		if c := s.cancels[id]; c != nil {
			c()
			delete(s.cancels, id)
		}
	}
	for _, f := range out.Fetches {
		s.fetch(f)
	}
	if out.Connect {
		s.dial()
	}
	s.index(changed)
}

// send writes rec to the session, or queues it when more input is
// waiting (s.in not empty) and the session can batch: the answers to
// requests that arrived together go out in one write, flushed before the
// loop waits.
func (s *shell) send(rec []byte) error {
	if s.batch != nil && s.more() {
		s.queued = true
		return s.batch.Queue(s.ctx, rec)
	}
	return s.conn.Send(s.ctx, rec)
}

func (s *shell) index(changed bool) {
	if changed && s.r.cfg.Index != nil {
		if err := s.r.cfg.Index.PutAll([]index.Device{s.rd.tr.record(s.rd.id, s.rd.board, s.rd.target)}); err != nil {
			s.r.logMu.Lock()
			if s.r.logErr == nil {
				s.r.logErr = err
			}
			s.r.logMu.Unlock()
		}
	}
}

func (s *shell) fetch(f device.Fetch) {
	if s.done == nil {
		s.done = make(chan fetchResult, 4)
		s.cancels = map[device.FetchID]context.CancelFunc{}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.cancels[f.ID] = cancel
	gen := s.gen
	s.fetches.Add(1)
	go func() {
		defer s.fetches.Done()
		defer cancel()
		data, err := s.r.cfg.Fetcher.Fetch(ctx, f)
		if ctx.Err() != nil {
			return // canceled: nobody waits for it
		}
		select {
		case s.done <- fetchResult{gen: gen, id: f.ID, data: data, err: err}:
			s.rd.wake()
		case <-s.ctx.Done():
		}
	}()
}

// dial opens the session (blocking this device's goroutine), starts its
// reader and tells the device. A failed dial is Disconnected: the device
// waits usp.RetryWait and asks again.
func (s *shell) dial() {
	d := s.rd.d
	s.rd.tr.conn = ConnConnecting // until Connected, or while it retries
	s.index(true)
	if s.rng != nil && s.partitioned(s.r.cfg.Clock.Now()) {
		now := s.r.cfg.Clock.Now()
		s.r.logf(now, s.rd.id, "link-fail", "partition")
		s.r.cfg.Observe.link(s.rd.id, LinkFail, errPartition, now)
		s.apply(d.Disconnected(now))
		return
	}
	conn, err := dialDevice(s.ctx, s.r.cfg.Dialer, d, s.rd.id, s.r.cfg.Clock.Now())
	now := s.r.cfg.Clock.Now()
	if err != nil {
		if s.ctx.Err() == nil {
			s.r.logf(now, s.rd.id, "link-fail", err.Error())
			s.r.cfg.Observe.link(s.rd.id, LinkFail, err, now)
			s.apply(d.Disconnected(now))
		}
		return
	}
	s.sess++
	s.conn = conn
	s.batch, _ = conn.(mtp.Batcher)
	s.queued = false
	if w, ok := conn.(mtp.Waiter); ok && s.wall {
		s.waiter = w // the goroutine reads the session itself
		s.rd.wk.Store(&waiterBox{w})
	} else {
		s.startReader(conn)
	}
	s.r.logf(now, s.rd.id, "link-up", "")
	s.r.cfg.Observe.link(s.rd.id, LinkUp, nil, now)
	if c := s.rd.faults.Churn; c > 0 {
		s.churnAt = now.Add(c)
	}
	s.apply(d.Connected(now))
	if len(s.late) > 0 && s.gen != s.lateGen && s.conn != nil {
		late := s.late
		s.late = nil
		for _, rec := range late {
			s.r.logf(now, s.rd.id, "misbehave", string(faults.LateComplete)+" sent after the reboot")
			if s.wire(now, rec) != nil {
				break
			}
		}
	}
}

// startReader starts the session's reader, which hands its Records to the
// goroutine through in.
func (s *shell) startReader(conn mtp.Conn) {
	if s.in == nil {
		s.in = make(chan inbound, 16)
	}
	sess := s.sess
	s.reader.Add(1)
	go func() {
		defer s.reader.Done()
		for {
			rec, err := conn.Recv(s.ctx)
			select {
			case s.in <- inbound{sess: sess, rec: rec, err: err}:
			case <-s.ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// closeConn ends the session and waits for its reader, draining what it
// still hands over so that it can exit. cause is the session's error when
// the peer or the network ended it, nil when the device closes it.
func (s *shell) closeConn(cause error) {
	if s.conn == nil {
		return
	}
	s.conn.Close() // writes what was queued first
	waited := s.waiter != nil
	s.conn, s.batch, s.queued, s.waiter = nil, nil, false, nil
	s.rd.wk.Store(nil)
	s.sess++
	s.rd.tr.conn = ConnDisconnected
	now := s.r.cfg.Clock.Now()
	s.r.logf(now, s.rd.id, "link-down", "")
	s.r.cfg.Observe.link(s.rd.id, LinkDown, cause, now)
	if waited {
		return // no reader
	}
	drained := make(chan struct{})
	go func() { s.reader.Wait(); close(drained) }()
	for {
		select {
		case <-s.in:
		case <-drained:
			return
		}
	}
}

// stop ends everything the device goroutine started and waits for it.
func (s *shell) stop() {
	s.closeConn(nil)
	for _, c := range s.cancels {
		c()
	}
	s.fetches.Wait()
}
