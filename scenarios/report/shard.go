package report

import (
	"errors"
	"fmt"
)

// Lost is the outcome of a device whose shard's process ended before it
// reported (it crashed or was killed): what became of the device is not
// known. It is not one of Outcomes: it appears only in a report that has
// such devices, after them (OutcomeCounts' rule for other names).
const Lost = "lost"

// Shard is the part of a fleet one process ran: shard Index of Count, the
// devices First … Last (numbered from 1) of a fleet of Total. The devices
// of shard k of n are (k−1)·T/n+1 … k·T/n (integer division): ShardRange.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	First int `json:"first"`
	Last  int `json:"last"`
	Total int `json:"total"`
}

// ShardRange is the devices of shard k of n in a fleet of total: numbers
// first … last from 1 (first > last when the shard is empty, which happens
// only when n > total). It wants 1 ≤ k ≤ n and total ≥ 0.
func ShardRange(k, n, total int) (first, last int) {
	return (k-1)*total/n + 1, k * total / n
}

// NewShard is shard k of n of a fleet of total devices, with its range.
func NewShard(k, n, total int) *Shard {
	first, last := ShardRange(k, n, total)
	return &Shard{Index: k, Count: n, First: first, Last: last, Total: total}
}

// Check reports whether s is a shard as ShardRange makes them.
func (s *Shard) Check() error {
	switch {
	case s.Count < 1 || s.Index < 1 || s.Index > s.Count:
		return fmt.Errorf("shard %d/%d: want 1 ≤ index ≤ count", s.Index, s.Count)
	case s.Total < s.Count:
		return fmt.Errorf("shard %d/%d of %d devices: more shards than devices", s.Index, s.Count, s.Total)
	}
	first, last := ShardRange(s.Index, s.Count, s.Total)
	if s.First != first || s.Last != last {
		return fmt.Errorf("shard %d/%d of %d devices holds devices %d–%d, not %d–%d", s.Index, s.Count, s.Total, first, last, s.First, s.Last)
	}
	return nil
}

// String is "2/4".
func (s *Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Devices is the number of devices of the shard.
func (s *Shard) Devices() int { return s.Last - s.First + 1 }

// ShardStatus is one shard of a merged report and what became of it.
type ShardStatus struct {
	Index   int `json:"index"`
	Count   int `json:"count"`
	First   int `json:"first"`
	Last    int `json:"last"`
	Devices int `json:"devices"`
	// Status is "ok" (its report is merged) or "lost" (its process ended
	// without a report; its devices are Lost).
	Status string `json:"status"`
	// Detail says why a shard was lost, e.g. "killed by signal 9".
	Detail string `json:"detail,omitempty"`
}

// Shard statuses.
const (
	ShardOK   = "ok"
	ShardLost = "lost"
)

var errNoShard = errors.New("not a shard's report (it has no shard field): only the reports of brickyard fleet --shard K/N, or of a worker, merge")
