package fdlimit

import (
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestPlanFit(t *testing.T) {
	for _, c := range []struct {
		name   string
		p      Plan
		need   int
		fits   int
		ok     bool
		shards int
	}{
		{"fits exactly", Plan{Agents: 9925, PerAgent: 2, Reserve: 150, Limit: 20000}, 20000, 9925, true, 1},
		{"one file short", Plan{Agents: 9925, PerAgent: 2, Reserve: 151, Limit: 20000}, 20001, 9924, false, 2},
		{"the brief's example", Plan{Agents: 10000, PerAgent: 2, Reserve: 150, Limit: 20000}, 20150, 9925, false, 2},
		{"open files count", Plan{Agents: 5000, PerAgent: 1, Reserve: 64, Open: 10, Limit: 20000}, 5074, 5000, true, 1},
		{"open files tip it over", Plan{Agents: 19930, PerAgent: 1, Reserve: 64, Open: 10, Limit: 20000}, 20004, 19926, false, 2},
		{"three shards", Plan{Agents: 25000, PerAgent: 2, Reserve: 100, Limit: 20000}, 50100, 9950, false, 3},
		{"reserve alone too big", Plan{Agents: 10, PerAgent: 1, Reserve: 1000, Open: 30, Limit: 1024}, 1040, 0, false, 0},
		{"room for none", Plan{Agents: 10, PerAgent: 2, Reserve: 1023, Limit: 1024}, 1043, 0, false, 0},
		{"no agents", Plan{PerAgent: 2, Reserve: 10, Limit: 1024}, 10, 0, true, 1},
		{"agents cost nothing here", Plan{Agents: 1e6, PerAgent: 0, Reserve: 10, Limit: 1024}, 10, 1e6, true, 1},
		{"unlimited", Plan{Agents: 1e6, PerAgent: 2, Reserve: 10, Limit: math.MaxInt}, 2e6 + 10, 1e6, true, 1},
		{"overflow saturates", Plan{Agents: math.MaxInt / 2, PerAgent: 3, Limit: 1 << 20}, math.MaxInt, 1 << 20 / 3, false, (math.MaxInt/2 + 1<<20/3 - 1) / (1 << 20 / 3)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Need(); got != c.need {
				t.Errorf("Need = %d, want %d", got, c.need)
			}
			fits, ok := c.p.Fit()
			if fits != c.fits || ok != c.ok {
				t.Errorf("Fit = %d, %v; want %d, %v", fits, ok, c.fits, c.ok)
			}
			if got := c.p.Shards(); got != c.shards {
				t.Errorf("Shards = %d, want %d", got, c.shards)
			}
			if (c.p.Err() == nil) != c.ok {
				t.Errorf("Err = %v with ok %v", c.p.Err(), c.ok)
			}
			if !c.ok && c.fits > 0 {
				// Each shard fits on its own.
				s := c.p
				s.Agents = (c.p.Agents + c.shards - 1) / c.shards
				if err := s.Err(); err != nil {
					t.Errorf("a shard of %d agents does not fit: %v", s.Agents, err)
				}
			}
		})
	}
}

func TestPlanErr(t *testing.T) {
	for _, c := range []struct {
		p    Plan
		want string
	}{
		{Plan{Agents: 10000, PerAgent: 2, Reserve: 150, Limit: 20000},
			"10,000 agents need about 20,150 open files but this process may hold 20,000 (ulimit -n); 9,925 agents fit: run the fleet in shards, e.g. --shard 1/2 and --shard 2/2 in two processes"},
		{Plan{Agents: 25000, PerAgent: 2, Reserve: 100, Limit: 20000},
			"25,000 agents need about 50,100 open files but this process may hold 20,000 (ulimit -n); 9,950 agents fit: run the fleet in shards, e.g. --shard 1/3 … --shard 3/3 in 3 processes"},
		{Plan{Agents: 10, PerAgent: 1, Reserve: 1000, Open: 30, Limit: 1024},
			"10 agents need about 1,040 open files but this process may hold 1,024 (ulimit -n); no agent fits: the reserve (1,000) and the files open already (30) take it all: raise the limit (ulimit -n, LimitNOFILE=)"},
	} {
		err := c.p.Err()
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.p, err, c.want)
		}
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 20150: "20,150",
		1234567: "1,234,567", -1234: "-1,234", math.MaxInt64: "9,223,372,036,854,775,807"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	n, err := Count()
	if runtime.GOOS != "linux" {
		if err == nil {
			t.Fatalf("Count on %s = %d, want ErrUnknown", runtime.GOOS, n)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("Count = %d, want at least stdin, stdout, stderr", n)
	}
	var files []*os.File
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	m, err := Count()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	// Other goroutines (the runtime, the test framework) may open or
	// close a file meanwhile, rarely; five more is what we opened.
	if m-n != 5 {
		t.Errorf("Count went from %d to %d after opening 5 files", n, m)
	}
}

func TestLimitAndRaise(t *testing.T) {
	soft, hard, err := Limit()
	if err != nil {
		t.Skipf("no RLIMIT_NOFILE here: %v", err)
	}
	if soft == 0 || soft > hard {
		t.Fatalf("Limit = %d, %d", soft, hard)
	}
	got, err := Raise() // raising to the hard limit is allowed; lowering never happens
	if err != nil {
		t.Fatal(err)
	}
	if got < soft || got > hard {
		t.Fatalf("Raise = %d with soft %d, hard %d", got, soft, hard)
	}
	if runtime.GOOS == "linux" && got != hard {
		t.Fatalf("Raise = %d, want the hard limit %d", got, hard)
	}
}

func TestCheckFitsHere(t *testing.T) {
	if err := Check(0, 2, 16); err != nil {
		t.Fatal(err)
	}
	if err := Check(1, 1, 0); err != nil {
		t.Fatal(err)
	}
}

// The limit is lowered only in a child process (this test binary run
// again): the test process's own limit is never lowered.
const childEnv = "FDLIMIT_TEST_CHILD"

// TestCheckChild is the child's side: it sets RLIMIT_NOFILE as the parent
// asked ("soft/hard"), runs Check, and prints its result.
func TestCheckChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestCheckLowLimit in a child process")
	}
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	soft, hard, _ := strings.Cut(spec, "/")
	s, _ := strconv.ParseUint(soft, 10, 64)
	h, _ := strconv.ParseUint(hard, 10, 64)
	if h != 0 {
		r.Max = h
	}
	r.Cur = s
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	agents, _ := strconv.Atoi(os.Getenv(childEnv + "_AGENTS"))
	if err := Check(agents, 2, 10); err != nil {
		os.Stdout.WriteString("CHECK: " + err.Error() + "\n")
		return
	}
	os.Stdout.WriteString("CHECK: ok\n")
}

func TestCheckLowLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the child counts /proc/self/fd")
	}
	_, hard, err := Limit()
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, limit string, agents int) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+limit, childEnv+"_AGENTS="+strconv.Itoa(agents),
			"GORACE=atexit_sleep_ms=0") // the race runtime's exit pause
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "CHECK: "); ok {
				return v
			}
		}
		t.Fatalf("child printed no result:\n%s", out)
		return ""
	}
	t.Run("too many", func(t *testing.T) {
		// Soft and hard limit 64: 100 agents of 2 files and a reserve of
		// 10 need 210 plus what the child has open.
		got := run(t, "64/64", 100)
		if !strings.HasPrefix(got, "100 agents need about 2") ||
			!strings.Contains(got, "open files but this process may hold 64 (ulimit -n); ") ||
			!strings.Contains(got, " agents fit: run the fleet in shards, e.g. --shard 1/") {
			t.Fatalf("Check: %s", got)
		}
		// The child has a handful of files open; with them at most 27 fit.
		if fits, err := fitsIn(got); err != nil || fits < 15 || fits > 27 {
			t.Fatalf("agents that fit in %q: %d (%v)", got, fits, err)
		}
		t.Log(got)
	})
	t.Run("fits", func(t *testing.T) {
		if got := run(t, "64/64", 10); got != "ok" {
			t.Fatalf("Check: %s", got)
		}
	})
	t.Run("fits after Raise", func(t *testing.T) {
		if hard < 512 {
			t.Skipf("hard limit %d", hard)
		}
		// Only the soft limit is low: Check raises it to the hard one.
		if got := run(t, "64/0", 100); got != "ok" {
			t.Fatalf("Check: %s", got)
		}
	})
}

// fitsIn reads the number of agents that fit from Check's message.
func fitsIn(msg string) (int, error) {
	_, rest, _ := strings.Cut(msg, "(ulimit -n); ")
	num, _, _ := strings.Cut(rest, " ")
	return strconv.Atoi(strings.ReplaceAll(num, ",", ""))
}
