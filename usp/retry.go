package usp

import (
	"math"
	"math/rand/v2"
	"time"
)

// Default retry parameters of TR-369 (Controller.{i}.USPNotifRetry… and
// MTP.{i}.WebSocket.SessionRetry…): 5 s and ×2.000.
const (
	DefaultRetryMinimumWait        = 5 * time.Second
	DefaultRetryIntervalMultiplier = 2000
)

// RetryWait is the wait before retry n (1 for the first retry) of a session
// (R-WS.x, E2E) or a notification (R-NOT.2): a duration drawn uniformly
// from [m·(k/1000)^(n−1), m·(k/1000)^n], where m is the minimum wait and k
// the interval multiplier in thousandths. From the 10th retry on, the 10th
// range repeats. A zero m or k means the default. The draw comes from rng,
// so a seeded generator gives the same schedule.
//
// With the defaults: 5–10 s, 10–20 s, …, 1280–2560 s, then 2560–5120 s for
// the 10th and every later retry.
func RetryWait(n int, m time.Duration, k uint32, rng *rand.Rand) time.Duration {
	if m <= 0 {
		m = DefaultRetryMinimumWait
	}
	if k == 0 {
		k = DefaultRetryIntervalMultiplier
	}
	n = max(1, min(n, 10))
	f := float64(k) / 1000
	lo := float64(m) * math.Pow(f, float64(n-1))
	hi := float64(m) * math.Pow(f, float64(n))
	if hi <= lo {
		return time.Duration(lo)
	}
	return time.Duration(lo + rng.Float64()*(hi-lo))
}
