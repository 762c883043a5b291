package mtp

import (
	"errors"
	"testing"
	"time"
)

// WaitBy's timer: none for the zero time, ErrDeadline for a passed one,
// a channel that fires for a coming one, reusable; its wakes coalesce.
func TestWaitBy(t *testing.T) {
	w := NewWaitBy()
	if c, stop, err := w.Arm(time.Time{}); c != nil || err != nil {
		t.Fatalf("zero deadline: %v, %v", c, err)
	} else {
		stop()
	}
	if _, _, err := w.Arm(time.Now().Add(-time.Second)); !errors.Is(err, ErrDeadline) {
		t.Fatalf("passed deadline: %v", err)
	}
	for range 2 { // the one timer, twice
		c, stop, err := w.Arm(time.Now().Add(10 * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("the deadline did not fire")
		}
		stop()
	}
	w.Wake()
	w.Wake() // one pending at most
	<-w.Woken()
	select {
	case <-w.Woken():
		t.Fatal("two wakes pending")
	default:
	}
}
