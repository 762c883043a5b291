package vtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestOrder_TimeThenScheduling(t *testing.T) {
	s := New(t0)
	var log []string
	add := func(d time.Duration, name string) ID {
		return s.After(d, func() { log = append(log, fmt.Sprintf("%s@%v", name, s.Now().Sub(t0))) })
	}
	add(2*time.Second, "c")
	add(time.Second, "a")
	add(time.Second, "b")
	x := add(time.Second, "x")
	s.At(t0.Add(-time.Hour), func() {
		log = append(log, "past@"+s.Now().Sub(t0).String())
		s.After(0, func() { log = append(log, "nested@"+s.Now().Sub(t0).String()) })
	})
	if !s.Cancel(x) || s.Cancel(x) {
		t.Fatal("cancel")
	}
	if n := s.RunUntil(t0.Add(10 * time.Second)); n != 5 {
		t.Fatalf("ran %d", n)
	}
	got := strings.Join(log, " ")
	if got != "past@0s nested@0s a@1s b@1s c@2s" {
		t.Fatalf("order: %s", got)
	}
	if s.Now() != t0.Add(10*time.Second) || s.Pending() != 0 || s.Step() {
		t.Fatalf("now %v pending %d", s.Now(), s.Pending())
	}
}

// The same seed gives the same trace, however events are interleaved.
func TestDeterministic(t *testing.T) {
	trace := func(seed uint64) string {
		s := New(t0)
		rng := rand.New(rand.NewPCG(seed, 0))
		var b strings.Builder
		var tick func(dev int)
		tick = func(dev int) {
			fmt.Fprintf(&b, "%d@%d ", dev, s.Now().Sub(t0).Milliseconds())
			if s.Now().Sub(t0) < time.Minute {
				s.After(time.Duration(rng.IntN(5000))*time.Millisecond, func() { tick(dev) })
			}
		}
		for dev := range 50 {
			s.After(time.Duration(rng.IntN(1000))*time.Millisecond, func() { tick(dev) })
		}
		s.RunUntil(t0.Add(time.Hour))
		return b.String()
	}
	if trace(7) != trace(7) || trace(7) == trace(8) {
		t.Fatal("not deterministic, or not seeded")
	}
}

func BenchmarkScheduleAndRun(b *testing.B) {
	s := New(t0)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 100_000 { // a fleet's worth of pending timers
		s.After(time.Duration(rng.IntN(3600))*time.Second, func() {})
	}
	b.ReportAllocs()
	for b.Loop() {
		s.After(time.Duration(rng.IntN(3600))*time.Second, func() {})
		s.Step()
	}
}
