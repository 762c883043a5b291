// Package vtime is a deterministic discrete-event scheduler: virtual time
// that moves only from one scheduled event to the next. The virtual-time
// runner drives every device core from one goroutine with it, so a run
// with the same seed executes the same events in the same order, byte for
// byte.
//
// Ordering rule: events run in order of their time; events scheduled for
// the same time run in the order they were scheduled. An event scheduled
// for a time already past runs at the current time, after the events
// already due.
//
// A Scheduler starts no goroutines and reads no clock; it is not safe for
// concurrent use.
package vtime

import (
	"container/heap"
	"time"
)

// ID names a scheduled event, for Cancel. The zero ID is never used.
type ID uint64

type event struct {
	at  time.Time
	id  ID
	fn  func()
	idx int // position in the heap, -1 once removed
}

// Scheduler holds the virtual clock and the pending events.
type Scheduler struct {
	now    time.Time
	nextID ID
	q      queue
	byID   map[ID]*event
	ran    uint64
}

// New returns a scheduler whose clock reads start.
func New(start time.Time) *Scheduler {
	return &Scheduler{now: start, byID: map[ID]*event{}}
}

// Now is the virtual time: the time of the event running, or of the last
// one run.
func (s *Scheduler) Now() time.Time { return s.now }

// Pending is the number of events scheduled and not yet run or cancelled.
func (s *Scheduler) Pending() int { return len(s.q) }

// Ran is the number of events run so far.
func (s *Scheduler) Ran() uint64 { return s.ran }

// At schedules fn at time t (now, if t is past).
func (s *Scheduler) At(t time.Time, fn func()) ID {
	if t.Before(s.now) {
		t = s.now
	}
	s.nextID++
	e := &event{at: t, id: s.nextID, fn: fn}
	heap.Push(&s.q, e)
	s.byID[e.id] = e
	return e.id
}

// After schedules fn d after now.
func (s *Scheduler) After(d time.Duration, fn func()) ID { return s.At(s.now.Add(d), fn) }

// Cancel removes a pending event and reports whether it was pending.
func (s *Scheduler) Cancel(id ID) bool {
	e, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	heap.Remove(&s.q, e.idx)
	return true
}

// Next is the time of the next pending event, and false when none is.
func (s *Scheduler) Next() (time.Time, bool) {
	if len(s.q) == 0 {
		return time.Time{}, false
	}
	return s.q[0].at, true
}

// Step runs the next event, advancing the clock to its time, and reports
// whether there was one.
func (s *Scheduler) Step() bool {
	if len(s.q) == 0 {
		return false
	}
	e := heap.Pop(&s.q).(*event)
	delete(s.byID, e.id)
	s.now = e.at
	s.ran++
	e.fn()
	return true
}

// RunUntil runs every event due at or before t, then sets the clock to t.
// It returns the number of events run.
func (s *Scheduler) RunUntil(t time.Time) int {
	n := 0
	for len(s.q) > 0 && !s.q[0].at.After(t) {
		s.Step()
		n++
	}
	if t.After(s.now) {
		s.now = t
	}
	return n
}

// queue is a min-heap by (time, id): ids grow, so equal times keep the
// order of scheduling.
type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].id < q[j].id
}
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx, q[j].idx = i, j
}
func (q *queue) Push(x any) {
	e := x.(*event)
	e.idx = len(*q)
	*q = append(*q, e)
}
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.idx = -1
	*q = old[:len(old)-1]
	return e
}
