package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"brickyard/boards/bench"
	"brickyard/boards/bench/emu"
	"brickyard/boards/profile"
	"brickyard/flash"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
)

// BenchBoard is a real board of the scenario's fleet, on the bench
// (docs/bench.md), or — with Emulate — board-emu of a profile run in this
// process on a pseudo-terminal, its power line a periph gpiotest pin. Its
// profile must be one of the fleet's boards: it runs their images. It
// joins campaign wave Wave (default 1) as one device whose board is
// "bench/NAME", so the report shows it apart.
type BenchBoard struct {
	bench.Spec `yaml:",inline"`
	Emulate    string        `yaml:"emulate"`      // board-emu of this profile
	NoRig      bool          `yaml:"no_rig"`       // board-emu without a fault rig: cuts by its power line only
	EraseTime  time.Duration `yaml:"erase_time"`   // board-emu: one sector erase
	ProgramTim time.Duration `yaml:"program_time"` // board-emu: one 256-byte page program
	Wave       int           `yaml:"wave"`
}

// profileName is the bench board's profile.
func (bb BenchBoard) profileName() string {
	if bb.Emulate != "" {
		return bb.Emulate
	}
	return bb.Profile
}

// hasBench reports whether group names a bench board's group
// (bench/NAME).
func (sc *Scenario) hasBench(group string) bool {
	for _, bb := range sc.Bench {
		if benchGroup(bb.Name) == group {
			return true
		}
	}
	return false
}

// groupName is the fleet board group, and report row, of a bench board.
func benchGroup(name string) string { return "bench/" + name }

func (sc *Scenario) validateBench(c *checker) {
	seen := map[string]bool{}
	for i := range sc.Bench {
		bb := &sc.Bench[i]
		key := "bench." + strconv.Itoa(i)
		if sc.Clock != "real" {
			c.errorf(key, "a bench board needs clock: real")
		}
		if bb.Emulate != "" {
			if bb.Port != "" || bb.Profile != "" {
				c.errorf(key+".emulate", "an emulated board has no port or profile of its own")
			}
			bb.Port = "(board-emu)"
		}
		if err := bb.Check(); err != nil {
			c.errorf(key, "%v", err)
		}
		if seen[bb.Name] {
			c.errorf(key+".name", "%q listed twice", bb.Name)
		}
		seen[bb.Name] = true
		if p := bb.profileName(); !sc.hasBoard(p) {
			c.errorf(key, "profile %q: a bench board's profile must be one of fleet.boards (it runs their images)", p)
		}
		if bb.Wave == 0 {
			bb.Wave = 1
		}
		if bb.Wave < 1 || bb.Wave > len(sc.Campaign.Waves) {
			c.errorf(key+".wave", "%d: want 1 to %d", bb.Wave, len(sc.Campaign.Waves))
		}
		if bb.EraseTime < 0 || bb.ProgramTim < 0 {
			c.errorf(key, "operation times must not be negative")
		}
	}
}

// benchRun is the bench boards of a running scenario: the boards, and
// the emulators it started.
type benchRun struct {
	boards []*bench.Board
	specs  []BenchBoard
	lab    *bench.Lab
	names  []string
	ports  []string // where each is: its port, or board-emu's pseudo-terminal
	emus   []*emu.Emu
	ptys   []*emu.PTY
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// startBench attaches every bench board of the scenario, starting the
// emulated ones first, and gives each its fleet group's board.
func (sc *Scenario) startBench(b *built, profiles profile.Set) (*benchRun, error) {
	ctx, stop := context.WithCancel(context.Background())
	br := &benchRun{stop: stop}
	for _, bb := range sc.Bench {
		h, err := br.attach(ctx, sc, b, profiles, bb)
		if err != nil {
			br.close()
			return nil, fmt.Errorf("%s: bench board %s: %w", sc.source, bb.Name, err)
		}
		br.boards = append(br.boards, h)
		br.specs = append(br.specs, bb)
		br.names = append(br.names, bb.Name)
		port := bb.Port
		if bb.Emulate != "" {
			port = "board-emu on " + br.ptys[len(br.ptys)-1].SlavePath
		}
		br.ports = append(br.ports, port)
		for i := range b.groups {
			if b.groups[i].Name == benchGroup(bb.Name) {
				b.groups[i].Board = h.Board()
			}
		}
	}
	return br, nil
}

func (br *benchRun) attach(ctx context.Context, sc *Scenario, b *built, profiles profile.Set, bb BenchBoard) (*bench.Board, error) {
	if bb.Emulate == "" {
		cfg, err := bb.Config(profiles, b.keys)
		if err != nil {
			return nil, err
		}
		return bench.Open(ctx, cfg)
	}
	p, err := profiles.Get(bb.Emulate)
	if err != nil {
		return nil, err
	}
	raw := b.factory[p.Name]
	if raw == nil {
		return nil, fmt.Errorf("no factory image of %s", p.Name)
	}
	fb, err := p.Provision(b.keys, flash.NewBlob(raw, p.Flash.Erased))
	if err != nil {
		return nil, err
	}
	power := emu.NewWire(bb.Name+"-power", gpio.Low)
	baud := bb.Baud
	if baud == 0 {
		baud = 115200
	}
	e, err := emu.New(emu.Config{Board: fb, Serial: "EMU-" + bb.Name, Baud: baud, NoRigCut: bb.NoRig, Quiet: false,
		EraseTime: bb.EraseTime, ProgramTime: bb.ProgramTim, Seed: sc.Seed, Lines: emu.Lines{Power: power}})
	if err != nil {
		return nil, err
	}
	pty, err := emu.OpenPTY()
	if err != nil {
		return nil, err
	}
	br.emus, br.ptys = append(br.emus, e), append(br.ptys, pty)
	br.wg.Add(1)
	go func() {
		defer br.wg.Done()
		_ = e.Serve(ctx, pty.Master)
	}()
	return bench.Open(ctx, bench.Config{Port: pty.SlavePath, Baud: baud, Profile: &p, Keys: b.keys,
		Power: bench.GPIOPower{Line: bench.Line{Pin: power}}, PowerHold: 50 * time.Millisecond, BootTimeout: 30 * time.Second,
		HostCuts: bb.HostCuts,
		// The emulator shares this process's CPU with the whole fleet: its
		// answers may wait for a core longer than a board's would.
		Link: bench.LinkConfig{Slack: 2 * time.Second}})
}

// serve starts the lab's view of the bench boards: each board's console
// on its Console address, and their power on opt.PDUAddr, outlet N the
// N-th bench board (fleet device first+N-1).
func (br *benchRun) serve(rf *fleet.Real, first int, opt Options) error {
	consoles := make([]string, len(br.boards))
	for i := range br.boards {
		consoles[i] = br.specs[i].Console
	}
	lab, err := bench.ServeLab(br.boards, br.names, consoles, opt.PDUAddr, opt.PDUHostname,
		func(i int, on bool) error { return rf.SwitchPower(first+i, on) })
	if err != nil {
		return err
	}
	br.lab = lab
	for _, a := range lab.Addrs {
		if opt.Logf != nil {
			opt.Logf("bench: %s", a)
		}
	}
	return nil
}

// close detaches every board and stops the emulators.
func (br *benchRun) close() {
	if br == nil {
		return
	}
	br.lab.Close()
	for _, h := range br.boards {
		_ = h.Close()
	}
	br.stop()
	br.wg.Wait()
	for _, p := range br.ptys {
		_ = p.Close()
	}
}

// report is the bench section of the report.
func (br *benchRun) report(rep *report.Report, sc *Scenario) {
	if br == nil {
		return
	}
	byName := map[string]report.Device{}
	for _, d := range rep.Fleet {
		byName[d.Board] = d
	}
	for i, h := range br.boards {
		bb := sc.Bench[i]
		d := byName[benchGroup(bb.Name)]
		st := h.Link().Stats()
		r := report.BenchBoard{Name: bb.Name, Device: d.ID, Profile: h.Board().ID, Port: bb.Port, Emulated: bb.Emulate != "",
			Outcome: d.Outcome, Offline: d.Offline, Requests: st.Requests, Retries: st.Retries, BadFrames: st.BadFrames,
			PayloadOut: st.PayloadOut, PayloadIn: st.PayloadIn}
		if bb.Emulate != "" {
			r.Port = br.ports[i]
		}
		rep.Bench = append(rep.Bench, r)
	}
}
