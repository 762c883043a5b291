package mtptest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"brickyard/mtp"
)

// Waiter checks agent's mtp.Waiter against its controller's end ctrl, with
// rec the Records the controller sends (distinct, as the agent receives
// them): RecvBy returns ErrDeadline for a past or passing deadline, ErrWoken
// for a Wake before or during the wait, a Record the controller sends
// during a wait; neither a deadline nor a wake ends the session, and the
// agent still sends afterwards. Every wait is bounded by Step.
func Waiter(t *testing.T, agent, ctrl mtp.Conn, rec func(n int) []byte) {
	t.Helper()
	w, ok := agent.(mtp.Waiter)
	if !ok {
		t.Fatalf("%T is not an mtp.Waiter", agent)
	}
	type res struct {
		b   []byte
		err error
	}
	recvBy := func(deadline time.Time) res {
		t.Helper()
		ch := make(chan res, 1)
		go func() { b, err := w.RecvBy(deadline); ch <- res{b, err} }()
		select {
		case r := <-ch:
			return r
		case <-time.After(Step):
			w.Wake()
			<-ch
			t.Fatalf("RecvBy(%v) still waiting after %v", deadline, Step)
			return res{}
		}
	}
	for i, d := range []time.Time{time.Now().Add(-time.Hour), time.Now(), time.Now().Add(20 * time.Millisecond)} {
		for range 2 {
			if r := recvBy(d); !errors.Is(r.err, mtp.ErrDeadline) {
				t.Fatalf("deadline %d: %d bytes, %v; want ErrDeadline", i, len(r.b), r.err)
			}
		}
	}
	w.Wake() // before the wait
	if r := recvBy(time.Time{}); !errors.Is(r.err, mtp.ErrWoken) {
		t.Fatalf("after Wake: %v", r.err)
	}
	if r := recvBy(time.Now().Add(10 * time.Millisecond)); !errors.Is(r.err, mtp.ErrDeadline) {
		t.Fatalf("after the wake was taken: %v", r.err)
	}
	// A Record ends a wait with no deadline.
	got := make(chan res, 1)
	go func() { b, err := w.RecvBy(time.Time{}); got <- res{b, err} }()
	if err := ctrl.Send(Ctx(t), rec(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || !bytes.Equal(r.b, rec(1)) {
			t.Fatalf("RecvBy with a Record sent: %d bytes, %v", len(r.b), r.err)
		}
	case <-time.After(Step):
		w.Wake()
		t.Fatal("a Record did not end the wait")
	}
	// A Wake ends one.
	go func() { b, err := w.RecvBy(time.Time{}); got <- res{b, err} }()
	w.Wake()
	select {
	case r := <-got:
		if !errors.Is(r.err, mtp.ErrWoken) {
			t.Fatalf("woken during the wait: %v", r.err)
		}
	case <-time.After(Step):
		t.Fatal("Wake did not end the wait")
	}
	// The session goes on, both ways.
	if err := ctrl.Send(Ctx(t), rec(2)); err != nil {
		t.Fatal(err)
	}
	if r := recvBy(time.Now().Add(Step)); r.err != nil || !bytes.Equal(r.b, rec(2)) {
		t.Fatalf("after the waits: %d bytes, %v", len(r.b), r.err)
	}
	if err := agent.Send(Ctx(t), rec(3)); err != nil {
		t.Fatal(err)
	}
	if b, err := ctrl.Recv(Ctx(t)); err != nil || !bytes.Equal(b, rec(3)) {
		t.Fatalf("the controller after the waits: %d bytes, %v", len(b), err)
	}
}
