package mtp

import "time"

// WaitBy is what a channel-fed Waiter needs besides its queue: the wake
// Wake posts (one pending at most) and one reusable timer for RecvBy's
// deadline. The zero value is not usable: NewWaitBy.
type WaitBy struct {
	wake  chan struct{}
	timer *time.Timer
}

// NewWaitBy returns a WaitBy with no wake pending.
func NewWaitBy() *WaitBy { return &WaitBy{wake: make(chan struct{}, 1)} }

// Wake posts a wake for the RecvBy under way or the next (Waiter.Wake).
func (w *WaitBy) Wake() {
	select {
	case w.wake <- struct{}{}:
	default: // one is pending already
	}
}

// Woken is the channel a posted wake arrives on.
func (w *WaitBy) Woken() <-chan struct{} { return w.wake }

// Arm returns the channel that fires at deadline (nil, never, for the
// zero time) and a stop for the caller to defer; ErrDeadline when it has
// passed. For one RecvBy at a time.
func (w *WaitBy) Arm(deadline time.Time) (<-chan time.Time, func(), error) {
	if deadline.IsZero() {
		return nil, func() {}, nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return nil, nil, ErrDeadline
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	return w.timer.C, func() { w.timer.Stop() }, nil
}
