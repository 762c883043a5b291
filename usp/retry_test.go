package usp_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"brickyard/usp"
)

// usp.md §5.1 / §7.4: with the defaults, retry n waits within
// [5·2^(n−1), 5·2^n] s, and the 10th range repeats.
func TestRetryWait_DefaultSchedule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 14; n++ {
		e := min(n, 10)
		lo := time.Duration(5<<(e-1)) * time.Second
		hi := time.Duration(5<<e) * time.Second
		for range 200 {
			if w := usp.RetryWait(n, 0, 0, rng); w < lo || w > hi {
				t.Fatalf("retry %d waited %v, want within [%v, %v]", n, w, lo, hi)
			}
		}
	}
}

func TestRetryWait_SeededAndConfigurable(t *testing.T) {
	a := usp.RetryWait(3, 2*time.Second, 1500, rand.New(rand.NewPCG(9, 9)))
	b := usp.RetryWait(3, 2*time.Second, 1500, rand.New(rand.NewPCG(9, 9)))
	if a != b || a < 4500*time.Millisecond || a > 6750*time.Millisecond {
		t.Fatalf("got %v and %v", a, b)
	}
	if w := usp.RetryWait(4, time.Second, 1000, rand.New(rand.NewPCG(1, 1))); w != time.Second {
		t.Fatalf("multiplier 1.000 must give a constant wait, got %v", w)
	}
}
