package mtp

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Relisten is a Listener that outlives the broker connections of the
// Listeners it is made of: when the current one's Accept fails with
// ErrBroken (its broker went away), Relisten closes it and makes the next
// with listen, retrying with a backoff from MinWait, doubling to MaxWait,
// until one is made, ctx ends or Close is called. A controller behind a
// broker thus keeps serving across a broker restart; with MQTT, giving
// every Listener one mqtt.Handover lets the next resume the sessions of
// the one before.
//
// Accept runs on the caller's goroutine (making the next Listener
// included); Relisten starts no goroutine. Logf, when set, hears of every
// Listener lost and made.
type Relisten struct {
	listen           func(ctx context.Context) (Listener, error)
	MinWait, MaxWait time.Duration // default 100 ms and 5 s
	Logf             func(format string, args ...any)

	mu     sync.Mutex
	cur    Listener
	closed bool
	quit   chan struct{}
	made   int
}

// NewRelisten makes the first Listener with listen (its error is returned
// as it is: a controller whose broker is not there at the start fails
// fast) and returns the Relisten around it.
func NewRelisten(ctx context.Context, listen func(ctx context.Context) (Listener, error)) (*Relisten, error) {
	l, err := listen(ctx)
	if err != nil {
		return nil, err
	}
	return &Relisten{listen: listen, cur: l, quit: make(chan struct{}), made: 1}, nil
}

// Listeners is how many Listeners it has made.
func (r *Relisten) Listeners() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.made
}

// Current is the Listener in use, nil between a loss and the next one.
func (r *Relisten) Current() Listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Accept implements Listener.
func (r *Relisten) Accept(ctx context.Context) (Conn, error) {
	for {
		r.mu.Lock()
		l, closed := r.cur, r.closed
		r.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if l == nil {
			if err := r.remake(ctx); err != nil {
				return nil, err
			}
			continue
		}
		c, err := l.Accept(ctx)
		if err == nil || !errors.Is(err, ErrBroken) || ctx.Err() != nil {
			if errors.Is(err, ErrClosed) && r.isClosed() {
				return nil, ErrClosed
			}
			return c, err
		}
		r.logf("mtp: the controller's listener lost its broker (%v); listening again", err)
		r.mu.Lock()
		if r.cur == l {
			r.cur = nil
		}
		r.mu.Unlock()
		_ = l.Close()
	}
}

// remake makes the next Listener, waiting between attempts.
func (r *Relisten) remake(ctx context.Context) error {
	wait := r.MinWait
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	most := r.MaxWait
	if most <= 0 {
		most = 5 * time.Second
	}
	for attempt := 1; ; attempt++ {
		l, err := r.listen(ctx)
		if err == nil {
			r.mu.Lock()
			if r.closed {
				r.mu.Unlock()
				_ = l.Close()
				return ErrClosed
			}
			r.cur = l
			r.made++
			r.mu.Unlock()
			r.logf("mtp: the controller listens again (attempt %d)", attempt)
			return nil
		}
		if attempt == 1 || attempt&(attempt-1) == 0 {
			r.logf("mtp: listening again failed (attempt %d): %v", attempt, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.quit:
			t.Stop()
			return ErrClosed
		}
		wait = min(2*wait, most)
	}
}

func (r *Relisten) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Relisten) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// Close implements Listener: it closes the current Listener and stops any
// attempt to make another.
func (r *Relisten) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.quit)
	l := r.cur
	r.cur = nil
	r.mu.Unlock()
	if l != nil {
		return l.Close()
	}
	return nil
}
