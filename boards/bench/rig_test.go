package bench_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"brickyard/boards"
	"brickyard/boards/bench"
	"brickyard/boards/bench/emu"
	"brickyard/boards/boardtest"
	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/flash"
)

var (
	profOnce sync.Once
	profSet  profile.Set
	profErr  error
)

func profiles(t testing.TB) profile.Set {
	t.Helper()
	profOnce.Do(func() {
		data, err := os.ReadFile("../../configs/boards.yaml")
		if err != nil {
			profErr = err
			return
		}
		profSet, profErr = profile.Parse("configs/boards.yaml", data, profile.Loaders())
	})
	if profErr != nil {
		t.Fatal(profErr)
	}
	return profSet
}

func getProfile(t testing.TB, name string) profile.Profile {
	t.Helper()
	p, err := profiles(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func img(t testing.TB, p profile.Profile, version string, size int) *flash.Blob {
	return boardtest.Blob(boardtest.Spec{Board: p.Name, Version: version, PayloadSize: size}, p.Flash.Erased)
}

// factory provisions a simulated board of p running 1.0.0.
func factory(t testing.TB, p profile.Profile) *boards.Board {
	t.Helper()
	b, err := p.Provision(boardtest.Keyring(), img(t, p, "1.0.0", 6000))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rigOpts tune a test bench.
type rigOpts struct {
	baud       int
	emu        func(*emu.Config)
	host       func(*bench.Config)
	noPower    bool
	wrap       func(io.ReadWriteCloser) io.ReadWriteCloser // the emulator's side of the line
	activeLow  bool
	attachFail bool
	noHost     bool // leave the slave to another (ser2net)
}

// testRig is a board-emu on a pseudo-terminal, its power line a periph
// gpiotest pin (emu.Wire) the host drives, and the host's bench.Board on
// the pty's slave.
type testRig struct {
	t     testing.TB
	emu   *emu.Emu
	pty   *emu.PTY
	power *emu.Wire
	host  *bench.Board
	err   error // Attach's, with attachFail
	done  chan error
	stop  context.CancelFunc
}

func newRig(t testing.TB, p profile.Profile, o rigOpts) *testRig {
	t.Helper()
	idle := gpio.Low
	if o.activeLow {
		idle = gpio.High
	}
	r := &testRig{t: t, power: emu.NewWire("power", idle), done: make(chan error, 1)}
	ec := emu.Config{Board: factory(t, p).Clone(), Baud: o.baud, Seed: 3,
		Lines: emu.Lines{Power: r.power, PowerActiveLow: o.activeLow}}
	if o.noPower {
		ec.Lines = emu.Lines{}
		ec.Powered = true
	}
	if o.emu != nil {
		o.emu(&ec)
	}
	var err error
	if r.emu, err = emu.New(ec); err != nil {
		t.Fatal(err)
	}
	if r.pty, err = emu.OpenPTY(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	var port io.ReadWriteCloser = r.pty.Master
	if o.wrap != nil {
		port = o.wrap(port)
	}
	go func() { r.done <- r.emu.Serve(ctx, port) }()
	t.Cleanup(r.close)
	hc := bench.Config{Port: r.pty.SlavePath, Baud: max(o.baud, 115200), Profile: &p, Keys: boardtest.Keyring(),
		PowerHold: 5 * time.Millisecond, BootTimeout: 20 * time.Second}
	if !o.noPower {
		hc.Power = bench.GPIOPower{Line: bench.Line{Pin: r.power, ActiveLow: o.activeLow}}
	}
	if o.host != nil {
		o.host(&hc)
	}
	if o.noHost {
		return r
	}
	r.host, r.err = bench.Open(context.Background(), hc)
	if r.err != nil && !o.attachFail {
		t.Fatalf("attach: %v", r.err)
	}
	return r
}

func (r *testRig) close() {
	if r.host != nil {
		r.host.Close()
	}
	r.stop()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Error("board-emu did not stop within 30 s")
	}
	r.pty.Close()
}

// sim is the emulator's board after it stopped: compare it to a
// simulated one.
func (r *testRig) stopEmu() *boards.Board {
	if r.host != nil {
		r.host.Close()
		r.host = nil
	}
	r.stop()
	<-r.done
	r.done <- nil
	return r.emu.Board()
}

func keyring() *image.Keyring { return boardtest.Keyring() }

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
