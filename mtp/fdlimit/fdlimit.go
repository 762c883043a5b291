// Package fdlimit compares the open files a run will need with what the
// process may hold (RLIMIT_NOFILE, `ulimit -n`), so that a fleet fails
// before it opens its first connection, with a message that says how many
// agents fit and how to shard, instead of failing half-way with EMFILE.
//
// # The rule
//
// A run of A agents that each hold F open files in this process, with a
// reserve of R files for everything else (listeners, the controller's
// connections, logs, the Go runtime), while O files are open already,
// needs
//
//	need = A·F + R + O
//
// and fits when need ≤ L, the soft limit after Raise (which lifts the soft
// limit to the hard one). Otherwise ⌊(L − R − O) / F⌋ agents fit (zero
// when the reserve and the open files alone exceed L), and the fleet has
// to run in ⌈A / fits⌉ shards, one process each.
//
// Files per agent, by transport (see docs/scale.md): a WebSocket agent
// with its controller in the same process holds 2 (both ends of the TCP
// connection); an MQTT or STOMP agent holds 1 here, and its broker holds
// one more in the broker's process.
package fdlimit

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
)

// ErrUnknown is returned by Count where the open files cannot be counted,
// and by Limit and Raise where the system has no RLIMIT_NOFILE: callers
// treat the figure as unknown.
var ErrUnknown = errors.New("fdlimit: not known on " + runtime.GOOS)

// Plan is a planned run: Agents agents of PerAgent open files each, a
// Reserve of files for the rest of the process, Open files open already,
// and the process's Limit of open files.
type Plan struct {
	Agents   int
	PerAgent int
	Reserve  int
	Open     int
	Limit    int
}

// Need is the number of open files the plan needs:
// Agents·PerAgent + Reserve + Open (saturating at math.MaxInt).
func (p Plan) Need() int {
	agents := max(p.Agents, 0)
	per := max(p.PerAgent, 0)
	fixed := satAdd(max(p.Reserve, 0), max(p.Open, 0))
	if per != 0 && agents > (math.MaxInt-fixed)/per {
		return math.MaxInt
	}
	return agents*per + fixed
}

// Fit reports how many agents fit under Limit, and whether all of Agents
// do (Need ≤ Limit). fits is ⌊(Limit − Reserve − Open) / PerAgent⌋,
// zero when the reserve and the open files alone exceed the limit; with
// PerAgent ≤ 0 the agents cost nothing here and fits is Agents whenever
// the rest fits.
func (p Plan) Fit() (fits int, ok bool) {
	room := p.Limit - satAdd(max(p.Reserve, 0), max(p.Open, 0))
	if room < 0 {
		return 0, false
	}
	if p.PerAgent <= 0 {
		return max(p.Agents, 0), true
	}
	fits = room / p.PerAgent
	return min(fits, max(p.Agents, 0)), p.Need() <= p.Limit
}

// Shards is the number of processes the agents have to be split over so
// that each shard fits: ⌈Agents / fits⌉; 0 when not even one agent fits,
// 1 when the plan fits as it is.
func (p Plan) Shards() int {
	fits, ok := p.Fit()
	switch {
	case ok:
		return 1
	case fits == 0:
		return 0
	}
	return (p.Agents + fits - 1) / fits
}

// Err is nil when the plan fits, else an error that says what is needed,
// what the process may hold, how many agents fit and how to shard.
func (p Plan) Err() error {
	fits, ok := p.Fit()
	if ok {
		return nil
	}
	head := fmt.Sprintf("%s agents need about %s open files but this process may hold %s (ulimit -n)",
		group(p.Agents), group(p.Need()), group(p.Limit))
	if fits == 0 {
		return fmt.Errorf("%s; no agent fits: the reserve (%s) and the files open already (%s) take it all: raise the limit (ulimit -n, LimitNOFILE=)",
			head, group(p.Reserve), group(p.Open))
	}
	k := p.Shards()
	how := fmt.Sprintf("e.g. --shard 1/%d and --shard 2/%d in two processes", k, k)
	if k > 2 {
		how = fmt.Sprintf("e.g. --shard 1/%d … --shard %d/%d in %d processes", k, k, k, k)
	}
	return fmt.Errorf("%s; %s agents fit: run the fleet in shards, %s", head, group(fits), how)
}

// Check fails when agents agents of filesPerAgent open files each, plus
// reserve, plus the files open now (Count; taken as 0 where unknown), do
// not fit under the soft limit of open files after Raise has lifted it to
// the hard limit. The error says how many agents fit and how to shard
// (Plan.Err). Check raises the limit as a side effect and never lowers it;
// where the limit cannot be read (ErrUnknown) it returns nil.
func Check(agents, filesPerAgent, reserve int) error {
	_, _ = Raise() // best effort: Limit below reads what it achieved
	soft, _, err := Limit()
	if err != nil {
		return nil // no limit to respect
	}
	open, err := Count()
	if err != nil {
		open = 0
	}
	return Plan{Agents: agents, PerAgent: filesPerAgent, Reserve: reserve, Open: open, Limit: clamp(soft)}.Err()
}

// Count is the number of files the process has open now: the entries of
// /proc/self/fd on Linux, less the one used to read it. Elsewhere it
// returns ErrUnknown.
func Count() (int, error) {
	if runtime.GOOS != "linux" && runtime.GOOS != "android" {
		return 0, ErrUnknown
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("fdlimit: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("fdlimit: %w", err)
	}
	return max(len(names)-1, 0), nil // the directory's own descriptor
}

// clamp turns an rlimit (RLIM_INFINITY is the largest uint64) into an int.
func clamp(v uint64) int {
	if v > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// group writes n with a comma every three digits: 20,150.
func group(n int) string {
	s := strconv.Itoa(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}
