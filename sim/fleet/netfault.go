package fleet

import (
	"time"

	"brickyard/sim/faults"
)

// activeWindow is the network fault of ws in force at off (time since the
// run started), if any: a partition beats a drop, which beats a delay.
func activeWindow(ws []faults.Window, off time.Duration) (w faults.Window, ok bool) {
	for _, x := range ws {
		if off >= x.Start && off < x.End {
			if !ok || rank(x.Kind) > rank(w.Kind) {
				w, ok = x, true
			}
		}
	}
	return w, ok
}

// delayed is a Record held back by a net-delay window in the real-time
// shell: sent (out) or handed to the device (in) at at, if the session is
// still sess then.
type delayed struct {
	at   time.Time
	sess uint64
	rec  []byte
}

// netHeld applies a network fault to a Record going dir ("up" or "down")
// through queue q: true when the fault dropped it (logged) or holds it in
// q for later.
func (s *shell) netHeld(now time.Time, q *[]delayed, rec []byte, dir string) bool {
	at, ok := s.netVerdict(now, *q)
	if !ok {
		s.r.logf(now, s.rd.id, "net-drop", dir)
		return true
	}
	if at.After(now) {
		*q = append(*q, delayed{at: at, sess: s.sess, rec: rec})
		return true
	}
	return false
}

// netVerdict is what the device's network faults do to one Record now:
// lose it (false), or deliver it at the returned time (now when nothing
// delays it). Records of one direction keep their order: one never
// overtakes a delayed one (q).
func (s *shell) netVerdict(now time.Time, q []delayed) (time.Time, bool) {
	at := now
	if w, ok := activeWindow(s.rd.faults.Net, now.Sub(s.r.start)); ok {
		switch w.Kind {
		case faults.NetPartition:
			return time.Time{}, false
		case faults.NetDrop:
			if s.rng.Float64() < w.Drop {
				return time.Time{}, false
			}
		case faults.NetDelay:
			at = now.Add(w.Delay)
		}
	}
	if n := len(q); n > 0 && at.Before(q[n-1].at) {
		at = q[n-1].at
	}
	return at, true
}

// partitioned reports whether a partition window is in force now.
func (s *shell) partitioned(now time.Time) bool {
	w, ok := activeWindow(s.rd.faults.Net, now.Sub(s.r.start))
	return ok && w.Kind == faults.NetPartition
}
