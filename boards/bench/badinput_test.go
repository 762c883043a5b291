package bench_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/boards/bench"
	"brickyard/boards/bench/emu"
	"brickyard/flash"
)

// faulty is the emulator's end of the line with faults: bytes flipped at
// a seeded rate both ways, a mute switch (the board stops answering and
// hears nothing), and a hook on the bytes the board sends.
type faulty struct {
	io.ReadWriteCloser
	mu      sync.Mutex
	rng     *rand.Rand
	rate    float64 // chance a byte is flipped
	flipped atomic.Int64
	mute    atomic.Bool
	onWrite func(n int) // called with the bytes written so far
	written int
}

func (f *faulty) flip(b []byte) {
	if f.rate == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range b {
		if f.rng.Float64() < f.rate {
			b[i] ^= byte(1 << f.rng.IntN(8))
			f.flipped.Add(1)
		}
	}
}

func (f *faulty) Read(b []byte) (int, error) {
	n, err := f.ReadWriteCloser.Read(b)
	if f.mute.Load() {
		return n, err // heard by nobody: the emulator's board has gone deaf too
	}
	f.flip(b[:n])
	return n, err
}

func (f *faulty) Write(b []byte) (int, error) {
	if f.mute.Load() {
		return len(b), nil
	}
	c := append([]byte(nil), b...)
	f.flip(c)
	n, err := f.ReadWriteCloser.Write(c)
	f.mu.Lock()
	f.written += n
	hook, w := f.onWrite, f.written
	f.mu.Unlock()
	if hook != nil {
		hook(w)
	}
	return n, err
}

func fastLink(retries int) func(*bench.Config) {
	return func(c *bench.Config) {
		c.Link.Timeout = 250 * time.Millisecond
		c.Link.Retries = retries
	}
}

// Line noise both ways: frames fail their CRC, the link retries, the
// board answers a retried request it has done from its last answer (no
// operation twice), and the update ends as the simulated one does.
func TestLineNoise(t *testing.T) {
	p := getProfile(t, "uboot-nor")
	var fp *faulty
	r := newRig(t, p, rigOpts{host: fastLink(12), wrap: func(port io.ReadWriteCloser) io.ReadWriteCloser {
		fp = &faulty{ReadWriteCloser: port, rng: rand.New(rand.NewPCG(1, 2)), rate: 1.0 / 15000}
		return fp
	}})
	b := r.host.Board()
	sim := factory(t, p).Clone()
	sim.Running = nil
	upd := img(t, p, "2.0.0", 120000)
	for _, s := range []func(x any) (string, error){
		func(x any) (string, error) { return bootOf(x) },
		func(x any) (string, error) { return "", boardOf(x).Loader.Write(boardOf(x), "B", upd) },
		func(x any) (string, error) { return "", boardOf(x).Loader.Activate(boardOf(x), "B") },
		func(x any) (string, error) { return bootOf(x) },
		func(x any) (string, error) { return "", boardOf(x).Loader.Confirm(boardOf(x)) },
		func(x any) (string, error) { return bootOf(x) },
	} {
		ops, simOps := b.Chip.Ops(), sim.Chip.Ops()
		got, err := s(b)
		want, werr := s(sim)
		if err != nil || werr != nil || got != want {
			t.Fatalf("bench %q %v, simulated %q %v", got, err, want, werr)
		}
		if b.Chip.Ops()-ops != sim.Chip.Ops()-simOps {
			t.Fatalf("%d operations over the noisy link, %d simulated", b.Chip.Ops()-ops, sim.Chip.Ops()-simOps)
		}
	}
	st, es := r.host.Link().Stats(), r.emu.Stats()
	if fp.flipped.Load() == 0 || st.Retries == 0 || st.BadFrames+es.BadFrames == 0 {
		t.Fatalf("no noise to speak of: %d bytes flipped, %d retries, %d+%d bad frames", fp.flipped.Load(), st.Retries, st.BadFrames, es.BadFrames)
	}
	t.Logf("%d bytes flipped, %d retries, %d bad frames at the host, %d at the board, %d duplicates answered", fp.flipped.Load(), st.Retries, st.BadFrames, es.BadFrames, es.Duplicates)
}

// A board that stops answering: after its retries the request fails
// with ErrOffline and the reason, the board is offline, and what follows
// fails at once without a request.
func TestSilentBoard(t *testing.T) {
	p := getProfile(t, "esp32-ota")
	var fp *faulty
	r := newRig(t, p, rigOpts{host: fastLink(2), wrap: func(port io.ReadWriteCloser) io.ReadWriteCloser {
		fp = &faulty{ReadWriteCloser: port}
		return fp
	}})
	b := r.host.Board()
	boot(t, b)
	fp.mute.Store(true)
	err := b.Chip.Read(0x190000, make([]byte, 64))
	if !errors.Is(err, bench.ErrOffline) || !errors.Is(err, flash.ErrPowerLost) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("read from a silent board: %v", err)
	}
	if r.host.Offline() == nil || b.Chip.Powered() {
		t.Fatalf("offline %v, powered %v", r.host.Offline(), b.Chip.Powered())
	}
	n := r.host.Link().Stats().Requests
	if err := b.Chip.Erase(0x190000); !errors.Is(err, bench.ErrOffline) {
		t.Fatalf("erase after: %v", err)
	}
	if _, err := b.Loader.Boot(b); !errors.Is(err, flash.ErrPowerLost) {
		t.Fatalf("boot after: %v", err)
	}
	if got := r.host.Link().Stats().Requests; got != n {
		t.Fatalf("%d more requests to an offline board", got-n)
	}
}

// The board resets in the middle of an answer: the truncated frame is
// dropped, its Hello ends the request as a power loss, and after the
// power-on the device's next boot is that reset's boot.
func TestResetMidFrame(t *testing.T) {
	p := getProfile(t, "mcuboot-nrf52")
	var fp *faulty
	var e *emu.Emu
	r := newRig(t, p, rigOpts{baud: 115200, host: fastLink(3), wrap: func(port io.ReadWriteCloser) io.ReadWriteCloser {
		fp = &faulty{ReadWriteCloser: port}
		return fp
	}})
	e = r.emu
	b := r.host.Board()
	boot(t, b)
	var armed atomic.Bool
	fp.mu.Lock()
	start := fp.written
	fp.onWrite = func(n int) {
		if n-start > 1000 && armed.CompareAndSwap(false, true) {
			e.Reset()
		}
	}
	fp.mu.Unlock()
	err := b.Chip.Read(0x70000, make([]byte, 4096)) // unknown to the mirror: a 4 KiB answer
	if !errors.Is(err, flash.ErrPowerLost) || !errors.Is(err, bench.ErrReset) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read cut by a reset: %v", err)
	}
	if r.host.Link().Stats().BadFrames == 0 {
		t.Fatal("the truncated answer was not seen")
	}
	b.PowerOn()
	if x := boot(t, b); x.Slot != "primary" || x.Image.Version.String() != "1.0.0" {
		t.Fatalf("boot after the reset: %+v", x)
	}
	if err := b.Chip.Read(0x70000, make([]byte, 4096)); err != nil {
		t.Fatalf("read after: %v", err)
	}
	if s := e.Stats(); s.Boots != 2 || s.PowerOns != 1 {
		t.Fatalf("boots %d power-ons %d: want the attach's, the reset's, and no other", s.Boots, s.PowerOns)
	}
}

// A board of another protocol version is refused at attach with the
// reason, without waiting for a timeout.
func TestWrongProtocolVersion(t *testing.T) {
	p := getProfile(t, "single-nor")
	r := newRig(t, p, rigOpts{attachFail: true, emu: func(c *emu.Config) { c.Version = 2 }})
	if r.err == nil || !strings.Contains(r.err.Error(), "protocol version 2") {
		t.Fatalf("attach to a version 2 board: %v", r.err)
	}
}
