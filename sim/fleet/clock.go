package fleet

import "time"

// Clock is the time source of the real-time runner (tailscale's tstime
// shape): Now, and timers whose channel is returned beside them because an
// interface cannot expose a field.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) (TimerController, <-chan time.Time)
}

// TimerController stops or resets a timer made by a Clock.
type TimerController interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// StdClock is the real clock.
type StdClock struct{}

// Now is time.Now.
func (StdClock) Now() time.Time { return time.Now() }

// NewTimer is time.NewTimer.
func (StdClock) NewTimer(d time.Duration) (TimerController, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}
