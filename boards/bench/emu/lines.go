package emu

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// Wire is a control line between a host and an emulator in one process:
// a periph gpiotest pin that the host drives as its gpio.PinOut and the
// emulator watches as its gpio.PinIn (Lines). Out queues the edge; the
// pin takes the level when the emulator takes the edge (gpiotest's
// WaitForEdge), so that the emulator reads every level in the order the
// host set them.
//
// Out returns once the emulator has acted on the edge, as a copper line
// is seen at once: a host that sets the boot-mode strap and then resets
// the board has the board sample the strap it set. The emulator has acted
// on an edge when its watcher comes back for the next one (Emu.watch sets
// the level between the two). With no emulator watching, Out waits at
// most wireWait.
type Wire struct {
	*gpiotest.Pin

	mu      sync.Mutex
	cond    *sync.Cond
	queued  uint64 // edges Out queued (or dropped)
	settled uint64 // edges the emulator acted on (or that were dropped)
	taken   bool   // the last WaitForEdge took an edge, not yet acted on
}

// wireWait bounds Out's wait for an emulator that does not watch.
const wireWait = 2 * time.Second

// NewWire returns a line at level l.
func NewWire(name string, l gpio.Level) *Wire {
	w := &Wire{Pin: &gpiotest.Pin{N: name, L: l, EdgesChan: make(chan gpio.Level, 64)}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// Out sets the line's level and waits until the emulator has acted on it
// (see Wire). When the emulator has not taken the last 64 edges, the
// oldest is dropped: the newest level always arrives.
func (w *Wire) Out(l gpio.Level) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		select {
		case w.EdgesChan <- l:
			w.queued++
			n := w.queued
			expired := false
			t := time.AfterFunc(wireWait, func() {
				w.mu.Lock()
				expired = true
				w.cond.Broadcast()
				w.mu.Unlock()
			})
			for w.settled < n && !expired {
				w.cond.Wait()
			}
			t.Stop()
			return nil
		default:
		}
		select {
		case <-w.EdgesChan:
			w.queued++
			w.settled++ // dropped: nothing left to wait for
		default:
		}
	}
}

// WaitForEdge is gpiotest's, and marks the edge the previous call took as
// acted on.
func (w *Wire) WaitForEdge(timeout time.Duration) bool {
	w.mu.Lock()
	if w.taken {
		w.taken = false
		w.settled++
		w.cond.Broadcast()
	}
	w.mu.Unlock()
	ok := w.Pin.WaitForEdge(timeout)
	if ok {
		w.mu.Lock()
		w.taken = true
		w.mu.Unlock()
	}
	return ok
}

// In is a no-op beyond gpiotest's: the wire keeps its queued edges.
func (w *Wire) In(gpio.Pull, gpio.Edge) error { return nil }

var _ gpio.PinIO = (*Wire)(nil)

// ControlHandler serves the emulator's power and reset lines over HTTP,
// for an emulator in another process, in pdudaemon's URL form:
//
//	GET /power/control/on?hostname=H&port=P      power on
//	GET /power/control/off?hostname=H&port=P     power off
//	GET /power/control/reboot?hostname=H&port=P  power off, then on
//	GET /reset                                   pulse the reset line
//	GET /boot-mode?asserted=1|0                  set the boot-mode strap
//
// hostname and port are accepted and ignored (the emulator is one
// outlet); a request without them is refused as pdudaemon refuses it.
func ControlHandler(e *Emu) http.Handler {
	mux := http.NewServeMux()
	power := func(on ...bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("hostname") == "" || q.Get("port") == "" {
				http.Error(w, "Invalid request: hostname and port are required", http.StatusInternalServerError)
				return
			}
			for _, v := range on {
				e.SetPower(v)
			}
			fmt.Fprintln(w, "OK - accepted request")
		}
	}
	mux.Handle("GET /power/control/on", power(true))
	mux.Handle("GET /power/control/off", power(false))
	mux.Handle("GET /power/control/reboot", power(false, true))
	mux.HandleFunc("GET /reset", func(w http.ResponseWriter, _ *http.Request) {
		e.Reset()
		fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("GET /boot-mode", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("asserted") {
		case "1", "true":
			e.SetBootMode(true)
		case "0", "false":
			e.SetBootMode(false)
		default:
			http.Error(w, "asserted=1 or asserted=0", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "OK")
	})
	return mux
}
