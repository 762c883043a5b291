package workers

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultStopGrace is how long a supervisor waits for its workers after
// telling them to stop before it kills those still running.
const DefaultStopGrace = 2 * time.Minute

// supervisor runs a pool of workers to their end, whatever their mode:
// it starts them, gives each its start message, hands their messages on,
// tells them to stop when its context ends and kills any still running
// Grace later, and keeps each one's last word and exit.
type supervisor struct {
	Spec  Spec // Handle and Exit are the supervisor's
	N     int
	Start func(k int) (Message, error) // worker k's start message
	// Handle sees every message of worker k but Done, from its reader
	// goroutine; Exit is called once worker k's process has ended.
	Handle func(k int, m Message)
	Exit   func(k int)
	// Tick, if set, is called about every second and after each exit,
	// from the supervisor's goroutine, with the workers still running,
	// those that reported and those lost.
	Tick  func(running, ok, lost int)
	Log   *zap.Logger
	Grace time.Duration // default DefaultStopGrace
}

// ended is how one worker ended: its last word, if it said one, and its
// process's exit.
type ended struct {
	done *Done
	exit error
}

// why is why the worker left no report ("" when it did).
func (e ended) why() string {
	switch {
	case e.done != nil && e.done.Report != "":
		return ""
	case e.done != nil && e.done.Error != "":
		if e.exit != nil {
			return e.done.Error + " (" + e.exit.Error() + ")"
		}
		return e.done.Error
	case e.exit != nil:
		return e.exit.Error()
	}
	return "exited without a report"
}

// run runs the workers until every one has exited, and returns how each
// ended (worker k at k-1). The error is for workers that could not start.
func (s supervisor) run(ctx context.Context) ([]ended, error) {
	n := s.N
	var mu sync.Mutex
	out := make([]ended, n)
	gone := make([]bool, n)
	exited := 0
	changed := make(chan struct{}, 1)
	spec := s.Spec
	spec.Handle = func(k int, m Message) {
		if m.T == KindDone {
			var d Done
			if err := m.Decode(&d); err == nil {
				mu.Lock()
				out[k-1].done = &d
				mu.Unlock()
			}
			return
		}
		if s.Handle != nil {
			s.Handle(k, m)
		}
	}
	spec.Exit = func(k int, err error) {
		mu.Lock()
		out[k-1].exit, gone[k-1] = err, true
		exited++
		mu.Unlock()
		if s.Exit != nil {
			s.Exit(k)
		}
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	pool, err := Start(spec, n)
	if err != nil {
		return nil, err
	}
	for k := 1; k <= n; k++ {
		msg, err := s.Start(k)
		if err == nil {
			err = pool.Worker(k).Send(msg)
		}
		if err != nil {
			s.Log.Warn("worker did not take its start", zap.Int("worker", k), zap.Error(err))
		}
	}
	grace := s.Grace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	var kill <-chan time.Time
	stop := ctx.Done()
	for {
		mu.Lock()
		all := exited == n
		running, ok, lost := n-exited, 0, 0
		for k := range n {
			switch {
			case !gone[k]:
			case out[k].why() == "":
				ok++
			default:
				lost++
			}
		}
		mu.Unlock()
		if s.Tick != nil {
			s.Tick(running, ok, lost)
		}
		if all {
			break
		}
		select {
		case <-stop:
			stop = nil // told once; then wait for them
			s.Log.Info("stopping the workers")
			pool.Broadcast(Message{T: KindStop})
			t := time.NewTimer(grace)
			defer t.Stop()
			kill = t.C
		case <-kill:
			kill = nil
			s.Log.Warn("workers still running after the stop: killing them", zap.Duration("grace", grace))
			pool.Kill()
		case <-tk.C:
		case <-changed:
		}
	}
	pool.Wait()
	return out, nil
}
