package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
	"brickyard/sim/misbehave"
	"brickyard/sim/model"
	"brickyard/sim/vtime"
	"brickyard/usp/dm"
)

// BoardGroup is Count devices of one board profile. Every device gets a
// Clone of Factory (copy-on-write), never Factory itself.
type BoardGroup struct {
	Name    string        // the board profile's name (fault rules' Board, the index's Board)
	Factory *boards.Board // a provisioned factory board
	Count   int
	Wave    int // campaign wave, for fault rules (0: none)
	// Target is the firmware version the campaign means these devices to
	// run, which their outcomes are measured against. Empty: the version
	// of the last image each device was asked to download.
	Target string
	// Board, instead of Factory, is the group's one board, used as it is:
	// a real board on the bench (boards/bench), which cannot be cloned.
	// Count must be 1; only the real-time runner takes it.
	Board *boards.Board
	// Model, if set, is the vendor data model the group's devices present
	// on top of the default one (their schema is built with it).
	Model *model.Model
}

// Config is a virtual-time run. It is read by NewVirtual and not used
// afterwards, except Images, Controller, Log and Index, which the run uses.
type Config struct {
	Seed       uint64     // seeds the runner, the fault plan and every device
	Start      time.Time  // virtual start time; default 2025-01-01T00:00:00Z
	Controller Controller // required
	// ControllerID is the controller's Endpoint ID; default "proto::controller".
	ControllerID string
	Boards       []BoardGroup
	// IDFormat makes device n's Endpoint ID (n from 1, across groups);
	// default "os::00256D-SIM%06d".
	IDFormat string
	Schema   *dm.Schema // default device.NewSchema()
	// Device, if set, adjusts each device's Config (PeriodicInterval,
	// TrialPeriod, ...) before New; Faults and Seed are already set.
	Device func(n int, c *device.Config)
	Plan   faults.Plan
	// Images answers downloads: URL → image bytes. The bytes are shared by
	// every device and never changed (a corrupt download is a copy).
	Images map[string][]byte

	ConnectRate   float64       // devices powered on per second; 0: all at Start
	ConnectJitter time.Duration // plus up to this much, uniformly
	Ramp          Ramp          // power on in steps instead of at ConnectRate
	Diurnal       Diurnal       // a daily pattern of the devices' power; zero: none
	LinkDelay     time.Duration // one-way latency of the controller link; default 20 ms
	LinkJitter    time.Duration // plus up to this much; default 10 ms
	DownloadRate  int           // bytes per second when no fault slows it; default 1 MB/s

	Log io.Writer // the event log, one line per event; nil: none
	// LogFormat is the event log's format: text (default) or JSON.
	LogFormat LogFormat
	Event     func(id, kind, detail string, at time.Time) // also called with each line of the event log; nil: none
	// Record, if set, is called with each Record a device takes from its
	// session (in true), as it takes it, and with each Record it sends,
	// as it sends it: as Observer.Record of the real-time runner.
	Record func(id string, in bool, rec []byte, at time.Time)
	// Link, if set, is called with each device's session events, as
	// Observer.Link of the real-time runner (LinkDown's error set when the
	// network ended the session: a reconnect wave).
	Link       func(id string, ev LinkEvent, err error, at time.Time)
	Index      *index.Index // kept up to date in batches; nil: none
	IndexEvery time.Duration
}

// Virtual is a deterministic virtual-time fleet run. It starts no
// goroutines and is not safe for concurrent use: the goroutine calling its
// methods drives every device, the link and the controller.
type Virtual struct {
	s         *vtime.Scheduler
	rng       *rand.Rand
	start     time.Time
	ctrl      Controller
	ctrlID    string
	images    map[string][]byte
	delay     time.Duration
	jitter    time.Duration
	rate      int
	every     time.Duration
	log       *bufio.Writer
	event     func(id, kind, detail string, at time.Time)
	record    func(id string, in bool, rec []byte, at time.Time)
	link      func(id string, ev LinkEvent, err error, at time.Time)
	logErr    error
	idx       *index.Index
	dirty     []int32
	flushQ    bool
	devs      []vdev
	byID      []int32 // device numbers sorted by Endpoint ID
	counts    map[string]int
	groups    []string
	target    []string                    // by group
	done      bool                        // Finish was called: Pending reads Unreachable
	rows      map[string]string           // the interning table of the devices' data model rows
	pages     flash.Pool                  // the flash pages the devices wrote, shared by content
	mbs       map[int32]*misbehave.Device // the misbehaving devices' misbehaviour, made on first use
	seed      uint64
	day       Diurnal
	dark      map[int32]bool // devices the diurnal pattern holds off
	late      map[int32]*lateRecs
	line      []byte    // the event log's line being written
	logFormat LogFormat // the event log's format
}

// lateRecs are the Records a late-complete device holds until it has
// rebooted: gen is the power generation they were held in.
type lateRecs struct {
	gen  uint32
	recs [][]byte
}

// vdev is what the runner keeps of a device. A fleet holds one per
// device, so its fields are ordered to pack.
type vdev struct {
	d       *device.Device
	id      string
	upAt    time.Time // the last delivery time on each link direction, to keep order
	downAt  time.Time
	timers  []vtimer
	fetches []vfetch
	faults  *faults.Faults // nil: none
	tr      track
	gen     uint32 // power generation: a reboot or cut ends every pending event of the old one
	sess    uint32 // session generation
	group   int16
	online  bool
	uptime  bool // the PowerAtUptime cut is spent
	dirty   bool
}

type vtimer struct {
	id device.TimerID
	ev vtime.ID
}

type vfetch struct {
	id        device.FetchID
	done, cut vtime.ID
}

// NewVirtual builds the fleet: one device per board clone, every device
// off. Power-ons are scheduled over ConnectRate with ConnectJitter, and
// the controller's first Tick at Start.
func NewVirtual(cfg Config) (*Virtual, error) {
	if cfg.Controller == nil {
		return nil, errors.New("fleet: a Controller is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.ControllerID == "" {
		cfg.ControllerID = "proto::controller"
	}
	if cfg.IDFormat == "" {
		cfg.IDFormat = "os::00256D-SIM%06d"
	}
	def(&cfg.LinkDelay, 20*time.Millisecond)
	def(&cfg.LinkJitter, 10*time.Millisecond)
	def(&cfg.IndexEvery, time.Second)
	if cfg.DownloadRate <= 0 {
		cfg.DownloadRate = 1 << 20
	}
	if cfg.Schema == nil {
		s, err := device.NewSchema()
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		cfg.Schema = s
	}
	v := &Virtual{
		s: vtime.New(cfg.Start), rng: rand.New(rand.NewPCG(cfg.Seed, 0x666c656574)),
		start: cfg.Start, ctrl: cfg.Controller, ctrlID: cfg.ControllerID, images: cfg.Images,
		delay: cfg.LinkDelay, jitter: cfg.LinkJitter, rate: cfg.DownloadRate, every: cfg.IndexEvery,
		idx: cfg.Index, counts: map[string]int{}, seed: cfg.Seed,
	}
	if cfg.Log != nil {
		v.log = bufio.NewWriterSize(cfg.Log, 64<<10)
	}
	v.event, v.record, v.link, v.logFormat = cfg.Event, cfg.Record, cfg.Link, cfg.LogFormat
	var fd []faults.Device
	var grp []int16
	for g, bg := range cfg.Boards {
		if bg.Board != nil {
			return nil, fmt.Errorf("fleet: board group %q is a board of its own (a bench board): it needs the real-time runner", bg.Name)
		}
		if bg.Factory == nil {
			return nil, fmt.Errorf("fleet: board group %q has no factory board", bg.Name)
		}
		v.groups = append(v.groups, bg.Name)
		v.target = append(v.target, bg.Target)
		for range bg.Count {
			fd = append(fd, faults.Device{ID: fmt.Sprintf(cfg.IDFormat, len(fd)+1), Board: bg.Name, Wave: bg.Wave})
			grp = append(grp, int16(g))
		}
	}
	for i, r := range cfg.Plan {
		if faults.RealTimeOnly(r.Kind) {
			return nil, fmt.Errorf("fleet: fault %d: %s acts on a real session: it needs the real-time runner (clock: real)", i+1, r.Kind)
		}
	}
	fs, err := faults.Assign(cfg.Plan, fd, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	v.devs = make([]vdev, len(fd))
	blobs := NewBlobs(8) // the images of the run, held once for every device
	schemas, err := groupSchemas(cfg.Schema, cfg.Boards)
	if err != nil {
		return nil, err
	}
	acl := newACLs() // the devices' compiled permissions, once per set of roles
	for n := range fd {
		dc := device.Config{EndpointID: fd[n].ID, ControllerID: cfg.ControllerID, Faults: fs[n], Seed: deviceSeed(cfg.Seed, fd[n].ID), Blobs: blobs, Intern: v.intern,
			Model: cfg.Boards[grp[n]].Model, ACL: acl}
		if cfg.Device != nil {
			cfg.Device(n+1, &dc)
		}
		d, err := device.New(dc, cfg.Boards[grp[n]].Factory.Clone(), schemas[grp[n]])
		if err != nil {
			return nil, fmt.Errorf("fleet: device %s: %w", fd[n].ID, err)
		}
		v.devs[n] = vdev{d: d, id: fd[n].ID, group: grp[n], tr: newTrack()}
		if f := fs[n]; !reflect.ValueOf(f).IsZero() {
			v.devs[n].faults = &f // its own copy: fs is not kept
		}
		v.counts[Pending]++
		v.markDirty(n)
	}
	v.byID = make([]int32, len(v.devs))
	for n := range v.byID {
		v.byID[n] = int32(n)
	}
	slices.SortStableFunc(v.byID, func(a, b int32) int { return strings.Compare(v.devs[a].id, v.devs[b].id) })
	var at time.Duration
	for n := range v.devs {
		switch {
		case cfg.Ramp.On():
			at = cfg.Ramp.at(n)
		case cfg.ConnectRate > 0:
			at = time.Duration(float64(n) / cfg.ConnectRate * float64(time.Second))
		}
		if cfg.ConnectJitter > 0 {
			at += time.Duration(v.rng.Int64N(int64(cfg.ConnectJitter)))
		}
		n := n
		v.s.At(cfg.Start.Add(at), func() { v.powerOn(n, 0) })
	}
	v.day = cfg.Diurnal
	for n := range v.devs {
		v.scheduleDay(n, 0)
	}
	for n := range v.devs {
		if f := v.devs[n].faults; f != nil {
			for _, d := range f.Drops {
				v.s.At(cfg.Start.Add(d), func() { v.reconnectWave(n) })
			}
			for _, d := range f.Cycles {
				v.s.At(cfg.Start.Add(d), func() { v.bootStorm(n) })
			}
		}
	}
	v.s.At(cfg.Start, v.tick)
	return v, nil
}

// maxInterned bounds the interning table of data model rows: past it the
// table starts anew (rows already shared stay shared), so that a long run
// whose rows keep changing does not keep every version of them.
const maxInterned = 1 << 14

// intern is the devices' device.Config.Intern: devices of one type hold
// mostly equal data model rows (firmware rows, controller, subscriptions),
// and the run keeps one copy of each. Only the runner's goroutine calls it.
func (v *Virtual) intern(s string) string {
	if s == "" {
		return s
	}
	if c, ok := v.rows[s]; ok {
		return c
	}
	if v.rows == nil || len(v.rows) >= maxInterned {
		v.rows = make(map[string]string, 256)
	}
	v.rows[s] = s
	return s
}

// deviceSeed derives a device's seed from the run's seed and its ID, so
// that one device can be replayed alone.
func deviceSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return seed ^ h.Sum64()*0x9e3779b97f4a7c15
}

// Now is the virtual time.
func (v *Virtual) Now() time.Time { return v.s.Now() }

// Len is the number of devices.
func (v *Virtual) Len() int { return len(v.devs) }

// ID is device n's Endpoint ID (n from 0).
func (v *Virtual) ID(n int) string { return v.devs[n].id }

// Device is device n's core, for inspection between runs. The caller must
// not give it inputs.
func (v *Virtual) Device(n int) *device.Device { return v.devs[n].d }

// Board is the board profile name of device n.
func (v *Virtual) Board(n int) string { return v.groups[v.devs[n].group] }

// Faults are device n's faults under the plan.
func (v *Virtual) Faults(n int) faults.Faults {
	if f := v.devs[n].faults; f != nil {
		return *f
	}
	return faults.Faults{}
}

// lookup finds the device with Endpoint ID id: the last one when an
// IDFormat gives several devices one ID.
func (v *Virtual) lookup(id string) (int32, bool) {
	i, ok := slices.BinarySearchFunc(v.byID, id, func(n int32, id string) int { return strings.Compare(v.devs[n].id, id) })
	if !ok {
		return 0, false
	}
	for i+1 < len(v.byID) && v.devs[v.byID[i+1]].id == id {
		i++
	}
	return v.byID[i], true
}

// Outcome is device n's outcome now, from its core and its board (see
// the package comment).
func (v *Virtual) Outcome(n int) string {
	dv := &v.devs[n]
	o := finalOutcome(&dv.tr, dv.d, v.target[dv.group])
	if o == Pending && v.done {
		return Unreachable
	}
	return o
}

// Record is device n's state as the fleet index holds it, with its
// Outcome from its core and board (Outcome).
func (v *Virtual) Record(n int) index.Device {
	dv := &v.devs[n]
	r := dv.tr.record(dv.id, v.groups[dv.group], v.target[dv.group])
	r.Outcome = v.Outcome(n)
	return r
}

// Cuts are the power cuts device n went through (the last 8).
func (v *Virtual) Cuts(n int) []Cut { return cuts(&v.devs[n].tr, v.devs[n].d.Board().Layout) }

// Brick is why device n's last boot found nothing bootable; empty unless
// it is bricked.
func (v *Virtual) Brick(n int) string { return brick(&v.devs[n].tr) }

// Timeline is device n's milestones, oldest first.
func (v *Virtual) Timeline(n int) []Step { return v.devs[n].tr.timeline() }

// Count is the number of devices with outcome o, as their events tell it
// (the index's view; Outcome reads the board).
func (v *Virtual) Count(o string) int { return v.counts[o] }

// Events is the number of scheduler events run.
func (v *Virtual) Events() uint64 { return v.s.Ran() }

// RunUntil runs every event due at or before t, then flushes the index and
// the log.
func (v *Virtual) RunUntil(t time.Time) error {
	v.s.RunUntil(t)
	return v.Flush()
}

// ctxEvery is how many events RunUntilCtx runs between looks at its
// context: often enough that an interrupt lands within milliseconds,
// rarely enough to cost nothing.
const ctxEvery = 1024

// RunUntilCtx is RunUntil that stops early, between two events, when ctx
// ends; it then returns ctx's error (after flushing) and the clock stays at
// the last event run. A step of virtual time may hold millions of events
// (a boot storm of a large fleet): this keeps an interrupt prompt.
func (v *Virtual) RunUntilCtx(ctx context.Context, t time.Time) error {
	for n := 1; ; n++ {
		next, ok := v.s.Next()
		if !ok || next.After(t) {
			break
		}
		if n%ctxEvery == 0 && ctx.Err() != nil {
			if err := v.Flush(); err != nil {
				return err
			}
			return ctx.Err()
		}
		v.s.Step()
	}
	v.s.RunUntil(t) // sets the clock to t
	return v.Flush()
}

// Run runs events until done reports true (checked after each event),
// nothing is left to run, or the next event is after limit. It reports
// whether done became true, and flushes the index and the log.
func (v *Virtual) Run(limit time.Time, done func(*Virtual) bool) (bool, error) {
	ok := done(v)
	for !ok {
		next, any := v.s.Next()
		if !any || next.After(limit) {
			break
		}
		v.s.Step()
		ok = done(v)
	}
	return ok, v.Flush()
}

// Finish ends a campaign's accounting: from now on a device that would be
// Pending is Unreachable (the campaign ended without it). It flushes.
func (v *Virtual) Finish() error {
	v.done = true
	v.counts = map[string]int{}
	for n := range v.devs {
		v.counts[v.live(n)]++
		v.markDirty(n)
	}
	return v.Flush()
}

// live is device n's outcome as its events tell it (the index's).
func (v *Virtual) live(n int) string {
	dv := &v.devs[n]
	o := dv.tr.outcome(dv.tr.mirror(), v.target[dv.group])
	if o == Pending && v.done {
		return Unreachable
	}
	return o
}

// Flush writes the pending index batch and the buffered log.
func (v *Virtual) Flush() error {
	err := v.flushIndex()
	if v.log != nil {
		if e := v.log.Flush(); e != nil && v.logErr == nil {
			v.logErr = e
		}
	}
	return errors.Join(err, v.logErr)
}

func (v *Virtual) tick() {
	sends, next := v.ctrl.Tick(v.s.Now())
	v.sendAll(sends)
	if !next.IsZero() {
		v.s.At(next, v.tick)
	}
}

// ---- the device shell ----

func (v *Virtual) powerOn(n int, gen uint32) {
	dv := &v.devs[n]
	if dv.gen != gen || v.dark[int32(n)] {
		return
	}
	v.apply(n, dv.d.PowerOn(v.s.Now()))
	if f := dv.faults; f != nil && dv.d.State() == device.On && f.PowerAtUptime > 0 && !dv.uptime {
		g := dv.gen
		v.s.After(f.PowerAtUptime, func() {
			if dv.gen == g && !dv.uptime {
				dv.uptime = true
				v.apply(n, dv.d.PowerCut(v.s.Now()))
			}
		})
	}
}

// apply carries out one Output in the order device.Output documents.
func (v *Virtual) apply(n int, out device.Output) {
	dv := &v.devs[n]
	now := v.s.Now()
	for _, e := range out.Events {
		v.logf(e.At, dv.id, string(e.Kind), e.Detail)
		old := v.live(n)
		dv.tr.event(e, v.target[dv.group] != "")
		if o := v.live(n); o != old {
			v.counts[old]--
			v.counts[o]++
		}
	}
	v.markDirty(n)
	// What the device wrote to its flash: shared with every device that
	// wrote the same pages (the same image, swapped into the same slot).
	if c, ok := dv.d.Board().Chip.(*flash.Chip); ok {
		c.Share(&v.pages)
	}
	// 1. Records.
	if dv.online {
		for _, r := range out.Records {
			v.up(n, r.Data)
		}
	}
	// 2. Disconnect.
	if out.Disconnect {
		v.linkDown(n, "closed by the agent", nil)
	}
	// 3. Reboot / Dead.
	if !out.Reboot.IsZero() || out.Dead {
		if dv.online {
			v.linkDown(n, "power", nil)
		}
		dv.gen++
		v.dropAll(dv)
		if !out.Reboot.IsZero() {
			g := dv.gen
			v.logf(now, dv.id, "power-off", "until "+out.Reboot.UTC().Format(time.RFC3339Nano))
			v.s.At(out.Reboot, func() { v.powerOn(n, g) })
		}
		return
	}
	// 4. Timers, cancels, fetches.
	for _, t := range out.Timers {
		v.setTimer(n, t)
	}
	for _, id := range out.CancelFetches {
		if k := slices.IndexFunc(dv.fetches, func(f vfetch) bool { return f.id == id }); k >= 0 {
			v.s.Cancel(dv.fetches[k].done)
			v.s.Cancel(dv.fetches[k].cut)
			dv.fetches = slices.Delete(dv.fetches, k, k+1)
		}
	}
	for _, f := range out.Fetches {
		v.fetch(n, f)
	}
	// 5. Connect.
	if out.Connect {
		v.connect(n)
	}
}

func (v *Virtual) dropAll(dv *vdev) {
	for _, t := range dv.timers {
		v.s.Cancel(t.ev)
	}
	for _, f := range dv.fetches {
		v.s.Cancel(f.done)
		v.s.Cancel(f.cut)
	}
	dv.timers, dv.fetches = dv.timers[:0], dv.fetches[:0]
}

func (v *Virtual) setTimer(n int, t device.Timer) {
	dv := &v.devs[n]
	k := slices.IndexFunc(dv.timers, func(x vtimer) bool { return x.id == t.ID })
	if k >= 0 {
		v.s.Cancel(dv.timers[k].ev)
		dv.timers = slices.Delete(dv.timers, k, k+1)
	}
	if t.At.IsZero() {
		return
	}
	id, g := t.ID, dv.gen
	ev := v.s.At(t.At, func() {
		if dv.gen != g {
			return
		}
		if k := slices.IndexFunc(dv.timers, func(x vtimer) bool { return x.id == id }); k >= 0 {
			dv.timers = slices.Delete(dv.timers, k, k+1)
		}
		v.apply(n, dv.d.Timer(v.s.Now(), id))
	})
	dv.timers = append(dv.timers, vtimer{id: id, ev: ev})
}

// fetch answers a download from Images, with the fetch's faults: the rate
// sets its duration, Truncate shortens it (the prefix is shared, not
// copied), Corrupt flips a byte of a copy, PowerCut cuts power part way.
func (v *Virtual) fetch(n int, f device.Fetch) {
	dv := &v.devs[n]
	data, ok := v.images[f.URL]
	var err error
	if !ok {
		err = fmt.Errorf("HTTP 404 Not Found: %s", f.URL)
	}
	if f.Truncate > 0 && len(data) > 0 {
		data = data[:int(float64(len(data))*f.Truncate)]
	}
	if f.Corrupt && len(data) > 0 {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0x40
	}
	rate := v.rate
	if f.Rate > 0 {
		rate = f.Rate
	}
	d := 2*v.linkDelay() + time.Duration(float64(len(data))/float64(rate)*float64(time.Second))
	g, id := dv.gen, f.ID
	rec := vfetch{id: id}
	rec.done = v.s.After(d, func() {
		if dv.gen != g {
			return
		}
		k := slices.IndexFunc(dv.fetches, func(x vfetch) bool { return x.id == id })
		if k < 0 {
			return
		}
		v.s.Cancel(dv.fetches[k].cut)
		dv.fetches = slices.Delete(dv.fetches, k, k+1)
		v.apply(n, dv.d.FetchDone(v.s.Now(), id, data, err))
	})
	if f.PowerCut != nil && err == nil {
		rec.cut = v.s.After(time.Duration(float64(d)*f.PowerCut.Fraction), func() {
			if dv.gen == g {
				v.apply(n, dv.d.PowerCut(v.s.Now()))
			}
		})
	}
	dv.fetches = append(dv.fetches, rec)
}

// ---- the link ----

func (v *Virtual) linkDelay() time.Duration {
	d := v.delay
	if v.jitter > 0 {
		d += time.Duration(v.rng.Int64N(int64(v.jitter)))
	}
	return d
}

// window is the network fault in force for device n now, if any: a
// partition beats a drop, which beats a delay.
func (v *Virtual) window(dv *vdev) (faults.Window, bool) {
	if dv.faults == nil {
		return faults.Window{}, false
	}
	return activeWindow(dv.faults.Net, v.s.Now().Sub(v.start))
}

func rank(k faults.Kind) int {
	switch k {
	case faults.NetPartition:
		return 3
	case faults.NetDrop:
		return 2
	}
	return 1
}

// transit is when a Record sent now on one direction (last holds that
// direction's previous delivery time) arrives, or false if it is lost.
func (v *Virtual) transit(dv *vdev, last *time.Time) (time.Time, bool) {
	d := v.linkDelay()
	if w, ok := v.window(dv); ok {
		switch w.Kind {
		case faults.NetPartition:
			return time.Time{}, false
		case faults.NetDrop:
			if v.rng.Float64() < w.Drop {
				return time.Time{}, false
			}
		case faults.NetDelay:
			d += w.Delay
		}
	}
	at := v.s.Now().Add(d)
	if at.Before(*last) {
		at = *last
	}
	*last = at
	return at, true
}

// up sends a Record from device n to the controller. A Record on its way
// arrives even if the session ends meanwhile.
func (v *Virtual) up(n int, rec []byte) {
	dv := &v.devs[n]
	if dv.faults == nil || len(dv.faults.Misbehave) == 0 {
		v.upOne(dv, rec, 0)
		return
	}
	mb := v.mbs[int32(n)]
	if mb == nil {
		if v.mbs == nil {
			v.mbs = map[int32]*misbehave.Device{}
		}
		mb = misbehave.New(dv.faults.Misbehave, deviceSeed(v.seed, dv.id)^misbehaveSeed)
		v.mbs[int32(n)] = mb
	}
	outs, notes := mb.Send(rec)
	for _, nt := range notes {
		v.logf(v.s.Now(), dv.id, "misbehave", string(nt.Kind)+" "+nt.Detail)
	}
	for _, o := range outs {
		if !o.Late {
			v.upOne(dv, o.Data, o.After)
			continue
		}
		if v.late == nil {
			v.late = map[int32]*lateRecs{}
		}
		l := v.late[int32(n)]
		if l == nil {
			l = &lateRecs{gen: dv.gen}
			v.late[int32(n)] = l
		}
		if len(l.recs) < maxLate {
			l.recs, l.gen = append(l.recs, o.Data), dv.gen
		} else {
			v.logf(v.s.Now(), dv.id, "misbehave", string(faults.LateComplete)+" dropped: "+strconv.Itoa(maxLate)+" held already")
		}
	}
}

// upOne sends one Record of device dv to the controller, after a delay.
func (v *Virtual) upOne(dv *vdev, rec []byte, after time.Duration) {
	if after > 0 {
		v.s.After(after, func() { v.upOne(dv, rec, 0) })
		return
	}
	if v.record != nil {
		v.record(dv.id, false, rec, v.s.Now())
	}
	at, ok := v.transit(dv, &dv.upAt)
	if !ok {
		v.logf(v.s.Now(), dv.id, "net-drop", "up")
		return
	}
	v.s.At(at, func() { v.sendAll(v.ctrl.Receive(dv.id, rec, v.s.Now())) })
}

// sendAll sends the controller's Records: each arrives only if its
// agent's session is still the same one then.
func (v *Virtual) sendAll(ss []Send) {
	for _, s := range ss {
		n, ok := v.lookup(s.To)
		if !ok {
			continue
		}
		dv := &v.devs[n]
		if !dv.online {
			v.logf(v.s.Now(), dv.id, "net-drop", "down: no session")
			continue
		}
		at, ok := v.transit(dv, &dv.downAt)
		if !ok {
			v.logf(v.s.Now(), dv.id, "net-drop", "down")
			continue
		}
		sess, data, k := dv.sess, s.Data, int(n)
		v.s.At(at, func() {
			if dv.online && dv.sess == sess {
				if v.record != nil {
					v.record(dv.id, true, data, v.s.Now())
				}
				v.apply(k, dv.d.Receive(v.s.Now(), data))
			}
		})
	}
}

// connect opens device n's session one link delay later, unless a
// partition is in force then.
func (v *Virtual) connect(n int) {
	dv := &v.devs[n]
	g := dv.gen
	dv.tr.conn = ConnConnecting
	v.s.After(v.linkDelay(), func() {
		if dv.gen != g || dv.online {
			return
		}
		now := v.s.Now()
		if w, ok := v.window(dv); ok && w.Kind == faults.NetPartition {
			v.logf(now, dv.id, "link-fail", "partition")
			if v.link != nil {
				v.link(dv.id, LinkFail, errPartition, now)
			}
			v.apply(n, dv.d.Disconnected(now))
			return
		}
		dv.online = true
		dv.sess++
		dv.upAt, dv.downAt = now, now
		v.logf(now, dv.id, "link-up", "")
		if v.link != nil {
			v.link(dv.id, LinkUp, nil, now)
		}
		v.sendAll(v.ctrl.Connected(dv.id, now))
		v.apply(n, dv.d.Connected(now))
		if l := v.late[int32(n)]; l != nil && l.gen != dv.gen && dv.online {
			delete(v.late, int32(n))
			for _, rec := range l.recs {
				v.logf(now, dv.id, "misbehave", string(faults.LateComplete)+" sent after the reboot")
				v.upOne(dv, rec, 0)
			}
		}
	})
}

// scheduleDay schedules device n's next diurnal off window ending after
// from (since the start): its power switched off at the start, on at the
// end.
func (v *Virtual) scheduleDay(n int, from time.Duration) {
	start, end, ok := v.day.next(v.seed, v.devs[n].id, from)
	if !ok {
		return
	}
	v.s.At(v.start.Add(start), func() {
		dv := &v.devs[n]
		now := v.s.Now()
		if v.dark == nil {
			v.dark = map[int32]bool{}
		}
		v.dark[int32(n)] = true
		v.logf(now, dv.id, "traffic", "diurnal off until +"+end.String())
		if dv.d.State() != device.Off {
			v.apply(n, dv.d.PowerCut(now))
		}
	})
	v.s.At(v.start.Add(end), func() {
		dv := &v.devs[n]
		delete(v.dark, int32(n))
		v.logf(v.s.Now(), dv.id, "traffic", "diurnal on")
		if dv.d.State() == device.Off {
			dv.gen++
			v.powerOn(n, dv.gen)
		}
		v.scheduleDay(n, end)
	})
}

// reconnectWave drops device n's session as the network would: the device
// comes back after TR-369's retry wait.
func (v *Virtual) reconnectWave(n int) {
	dv := &v.devs[n]
	if !dv.online {
		return
	}
	now := v.s.Now()
	v.logf(now, dv.id, "traffic", string(faults.ReconnectWave))
	v.linkDown(n, string(faults.ReconnectWave), errReconnectWave)
	v.apply(n, dv.d.Disconnected(now))
}

// bootStorm power-cycles device n: its power returns after its reboot
// time.
func (v *Virtual) bootStorm(n int) {
	dv := &v.devs[n]
	if dv.d.State() != device.On {
		return
	}
	now := v.s.Now()
	v.logf(now, dv.id, "traffic", string(faults.BootStorm))
	v.apply(n, dv.d.PowerCut(now))
}

// linkDown closes device n's session; the controller learns it after the
// Records already on their way. cause is the error when the network ended
// it, nil when the device closed it.
func (v *Virtual) linkDown(n int, why string, cause error) {
	dv := &v.devs[n]
	if !dv.online {
		return
	}
	dv.online = false
	dv.sess++
	dv.tr.conn = ConnDisconnected
	v.logf(v.s.Now(), dv.id, "link-down", why)
	if v.link != nil {
		v.link(dv.id, LinkDown, cause, v.s.Now())
	}
	at := v.s.Now().Add(v.linkDelay())
	if at.Before(dv.upAt) {
		at = dv.upAt
	}
	dv.upAt = at
	v.s.At(at, func() { v.ctrl.Disconnected(dv.id, v.s.Now()) })
}

// ---- log and index ----

func (v *Virtual) logf(at time.Time, id, kind, detail string) {
	if v.event != nil {
		v.event(id, kind, detail, at)
	}
	if v.log == nil {
		return
	}
	v.line = AppendEvent(v.line[:0], v.logFormat, at, id, kind, detail)
	v.log.Write(v.line)
}

func (v *Virtual) markDirty(n int) {
	if v.idx == nil || v.devs[n].dirty {
		return
	}
	v.devs[n].dirty = true
	v.dirty = append(v.dirty, int32(n))
	if !v.flushQ {
		v.flushQ = true
		v.s.After(v.every, func() {
			if err := v.flushIndex(); err != nil && v.logErr == nil {
				v.logErr = err
			}
		})
	}
}

func (v *Virtual) flushIndex() error {
	v.flushQ = false
	if v.idx == nil || len(v.dirty) == 0 {
		return nil
	}
	batch := make([]index.Device, len(v.dirty))
	for k, n := range v.dirty {
		dv := &v.devs[n]
		dv.dirty = false
		batch[k] = dv.tr.record(dv.id, v.groups[dv.group], v.target[dv.group])
		if v.done && batch[k].Outcome == Pending {
			batch[k].Outcome = Unreachable
		}
	}
	v.dirty = v.dirty[:0]
	return v.idx.PutAll(batch)
}
