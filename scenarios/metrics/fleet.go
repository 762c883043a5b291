package metrics

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// Label values the fleet gauges always export, at zero when no device has
// them, so that alerts such as brickyard_devices_by_outcome{outcome="bricked"} > 0
// have a series to look at from the start. Read only.
var (
	pinnedOutcomes = []string{fleet.Pending, fleet.Updated, fleet.RolledBack, fleet.Bricked, fleet.DownloadFailed, fleet.InstallFailed, fleet.Unreachable}
	pinnedConns    = []string{fleet.ConnConnected, fleet.ConnConnecting, fleet.ConnDisconnected}
)

// Follow keeps the fleet-index gauges current: it recounts idx, then
// watches it and recounts after each change, waiting the recount interval
// (WithRecountInterval) first so that a burst of changes costs one
// recount. It blocks until ctx ends and then returns nil; it starts no
// goroutine. Run one Follow per Metrics at a time: the last recount wins.
func (m *Metrics) Follow(ctx context.Context, idx *index.Index) error {
	if idx == nil {
		return errors.New("metrics: Follow needs an index")
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Watch before reading: a change between the two fires the
		// channel, so none is missed (at worst one recount too many).
		changed := idx.Watch("", "")
		m.fleet.recount(idx)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		if m.interval <= 0 {
			continue
		}
		if timer == nil {
			timer = time.NewTimer(m.interval)
		} else {
			timer.Reset(m.interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

// fleetCollector exports the fleet-index gauges from the last snapshot
// Follow took, so that a scrape sees one consistent index state.
type fleetCollector struct {
	snap atomic.Pointer[snapshot]

	phase, outcome, conn, version, board, boots, boardOutcome *prometheus.Desc
}

// snapshot is one recount of the index: per field, the label values in
// name order with their device counts, capped at LabelLimit values.
type snapshot struct {
	phase, outcome, conn, version, board []valueCount
	boardOutcome                         []boardCount // board by board, as in board
	boots                                uint64
}

// boardCount is one board's devices by outcome.
type boardCount struct {
	board    string
	outcomes []valueCount
}

type valueCount struct {
	value string
	n     int
}

func newFleetCollector() *fleetCollector {
	desc := func(name, help string, label ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, label, nil)
	}
	c := &fleetCollector{
		phase:   desc("devices_by_phase", "Devices by update phase (idle, downloading, installing, rebooting, trial, ...), from the fleet index.", "phase"),
		outcome: desc("devices_by_outcome", "Devices by campaign outcome (pending, updated, rolled_back, bricked, download_failed, install_failed, unreachable), from the fleet index.", "outcome"),
		conn:    desc("devices_by_conn", "Devices by connection state (connected, connecting, disconnected), from the fleet index.", "conn"),
		version: desc("devices_by_version", "Devices by running firmware version, from the fleet index; at most 64 versions, the rest under version=\"other\".", "version"),
		board:   desc("devices", "Devices by board profile, from the fleet index; at most 64 boards, the rest under board=\"other\".", "board"),
		boots:   desc("device_boots_total", "Boots of every device in the fleet index since the run started."),
		boardOutcome: desc("devices_by_board_outcome", "Devices by board profile and campaign outcome, from the fleet index; the boards as in brickyard_devices.",
			"board", "outcome"),
	}
	c.snap.Store(summarise(nil))
	return c
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.phase, c.outcome, c.conn, c.version, c.board, c.boots, c.boardOutcome} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap.Load()
	for _, g := range []struct {
		desc *prometheus.Desc
		vs   []valueCount
	}{{c.phase, s.phase}, {c.outcome, s.outcome}, {c.conn, s.conn}, {c.version, s.version}, {c.board, s.board}} {
		for _, v := range g.vs {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(v.n), v.value)
		}
	}
	for _, b := range s.boardOutcome {
		for _, v := range b.outcomes {
			ch <- prometheus.MustNewConstMetric(c.boardOutcome, prometheus.GaugeValue, float64(v.n), b.board, v.value)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.boots, prometheus.CounterValue, float64(s.boots))
}

// recount takes a snapshot of idx: one read transaction, so the gauges
// agree with each other.
func (c *fleetCollector) recount(idx *index.Index) {
	c.snap.Store(summarise(idx.All()))
}

// summarise folds the device records into a snapshot.
func summarise(ds []index.Device) *snapshot {
	phase, outcome, conn := map[string]int{}, map[string]int{}, map[string]int{}
	version, board := map[string]int{}, map[string]int{}
	var boots uint64
	for i := range ds {
		d := &ds[i]
		phase[d.Phase]++
		outcome[d.Outcome]++
		conn[d.Conn]++
		version[d.Version]++
		board[d.Board]++
		boots += uint64(d.Boots)
	}
	for _, o := range pinnedOutcomes {
		outcome[o] += 0
	}
	for _, s := range pinnedConns {
		conn[s] += 0
	}
	boards := bucket(board)
	// The boards that keep their own series in brickyard_devices keep it
	// here; the others are summed under Other, as there.
	own := map[string]bool{}
	for _, b := range boards {
		own[b.value] = b.value != Other
	}
	byBoard := map[string]map[string]int{}
	for i := range ds {
		b := labelValue(ds[i].Board)
		if !own[b] {
			b = Other
		}
		if byBoard[b] == nil {
			byBoard[b] = map[string]int{}
		}
		byBoard[b][ds[i].Outcome]++
	}
	var bo []boardCount
	for _, b := range boards {
		counts := byBoard[b.value]
		for _, o := range pinnedOutcomes {
			counts[o] += 0
		}
		bo = append(bo, boardCount{board: b.value, outcomes: bucket(counts)})
	}
	return &snapshot{
		phase:        bucket(phase),
		outcome:      bucket(outcome),
		conn:         bucket(conn),
		version:      bucket(version),
		board:        boards,
		boardOutcome: bo,
		boots:        boots,
	}
}

// bucket turns value → count into label values in name order, made safe
// (labelValue) and capped: when there are more than LabelLimit values, the
// LabelLimit-1 most common (ties by name) keep their own and the rest are
// summed under Other.
func bucket(counts map[string]int) []valueCount {
	merged := make(map[string]int, len(counts))
	for v, n := range counts {
		merged[labelValue(v)] += n
	}
	out := make([]valueCount, 0, len(merged))
	for v, n := range merged {
		out = append(out, valueCount{v, n})
	}
	if len(out) > LabelLimit {
		slices.SortFunc(out, func(a, b valueCount) int {
			return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.value, b.value))
		})
		other := 0
		kept := out[:0:0]
		for _, vc := range out[LabelLimit-1:] {
			other += vc.n
		}
		for _, vc := range out[:LabelLimit-1] {
			if vc.value == Other {
				other += vc.n
				continue
			}
			kept = append(kept, vc)
		}
		out = append(kept, valueCount{Other, other})
	}
	slices.SortFunc(out, func(a, b valueCount) int { return cmp.Compare(a.value, b.value) })
	return out
}
