package mqtt

import (
	"errors"
	"testing"
	"time"

	"brickyard/mtp"
)

// An agent's session is an mtp.Waiter: RecvBy returns a Record, or
// ErrDeadline once its deadline has passed (a past one at once), or
// ErrWoken for a Wake before or during the wait; neither ends the session,
// and a Record sent meanwhile is the next call's.
func TestWaiter(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		agent := dial(t, c, "a1")
		w, ok := agent.(mtp.Waiter)
		if !ok {
			t.Fatal("an agent's session is not an mtp.Waiter")
		}
		ctrl := accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)

		// The wait that must end soon, bounded by the test's own
		// deadline so that a lost one fails instead of hanging.
		recvBy := func(deadline time.Time) ([]byte, error) {
			t.Helper()
			type res struct {
				b   []byte
				err error
			}
			ch := make(chan res, 1)
			go func() { b, err := w.RecvBy(deadline); ch <- res{b, err} }()
			select {
			case r := <-ch:
				return r.b, r.err
			case <-time.After(10 * time.Second):
				w.Wake()
				r := <-ch
				t.Fatalf("RecvBy(%v) still waiting 10 s later (then: %d bytes, %v)", deadline, len(r.b), r.err)
				return nil, nil
			}
		}
		for i, d := range []time.Time{time.Now().Add(-time.Hour), time.Now(), time.Now().Add(20 * time.Millisecond)} {
			// The same deadline twice: the second is not set again on
			// the socket, and must still bind.
			for range 2 {
				if b, err := recvBy(d); !errors.Is(err, mtp.ErrDeadline) {
					t.Fatalf("deadline %d: %d bytes, %v; want ErrDeadline", i, len(b), err)
				}
			}
		}

		w.Wake() // before the wait: the next RecvBy returns at once
		if _, err := recvBy(time.Time{}); !errors.Is(err, mtp.ErrWoken) {
			t.Fatalf("after Wake: %v", err)
		}
		// The wake was taken: a deadline binds again.
		if _, err := recvBy(time.Now().Add(10 * time.Millisecond)); !errors.Is(err, mtp.ErrDeadline) {
			t.Fatalf("after the wake was taken: %v", err)
		}
		// During the wait, with no deadline: a Record ends it.
		type res struct {
			b   []byte
			err error
		}
		got := make(chan res, 1)
		go func() { b, err := w.RecvBy(time.Time{}); got <- res{b, err} }()
		send(t, ctrl, "first")
		select {
		case r := <-got:
			if r.err != nil || string(decode(t, r.b).GetNoSessionContext().GetPayload()) != "first" {
				t.Fatalf("RecvBy with a Record sent: %q, %v", r.b, r.err)
			}
		case <-time.After(10 * time.Second):
			w.Wake()
			t.Fatal("a Record did not end the wait")
		}
		// A Wake ends it.
		done := make(chan error, 1)
		go func() { _, err := w.RecvBy(time.Time{}); done <- err }()
		w.Wake()
		select {
		case err := <-done:
			if !errors.Is(err, mtp.ErrWoken) {
				t.Fatalf("woken during the wait: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wake did not end the wait")
		}
		// Neither ended the session.
		send(t, ctrl, "second")
		rec, err := recvBy(time.Now().Add(10 * time.Second))
		if err != nil || string(decode(t, rec).GetNoSessionContext().GetPayload()) != "second" {
			t.Fatalf("after waits: %q, %v", rec, err)
		}
		send(t, agent, "reply")
		if got := recvBody(t, ctrl); got != "reply" {
			t.Fatalf("controller got %q", got)
		}
	})
}

// A Record queued (mtp.Batcher) goes out as soon as the session's reader
// waits for the broker: the answer to a request must not wait for a
// request that only it can bring, whatever the caller's Flush.
func TestWaiter_QueuedGoesOutOnWait(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		agent := dial(t, c, "a1")
		ctrl := accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
		if err := agent.(mtp.Batcher).Queue(tctx(t), record("a1", ctrlID, "queued")); err != nil {
			t.Fatal(err)
		}
		w := agent.(mtp.Waiter)
		done := make(chan error, 1)
		go func() { _, err := w.RecvBy(time.Now().Add(time.Minute)); done <- err }()
		got := recvBody(t, ctrl) // bounded: fails if the Record stayed queued
		w.Wake()
		if err := <-done; !errors.Is(err, mtp.ErrWoken) {
			t.Errorf("RecvBy: %v", err)
		}
		if got != "queued" {
			t.Fatalf("controller got %q", got)
		}
	})
}
