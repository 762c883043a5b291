package fleet

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/profile"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
	"brickyard/usp/dm"
)

var t0 = time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)

var fixtures struct {
	once      sync.Once
	err       error
	schema    *dm.Schema
	factories map[string]*boards.Board
}

// factory returns the shared factory board of profile name (from
// configs/boards.yaml) running 1.0.0, and the fleet schema.
func factory(tb testing.TB, name string) (*boards.Board, *dm.Schema) {
	tb.Helper()
	fixtures.once.Do(func() {
		data, err := os.ReadFile("../../configs/boards.yaml")
		if err != nil {
			fixtures.err = err
			return
		}
		set, err := profile.Parse("configs/boards.yaml", data, profile.Loaders())
		if err != nil {
			fixtures.err = err
			return
		}
		fixtures.factories = map[string]*boards.Board{}
		for _, n := range []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota", "single-nor"} {
			p, err := set.Get(n)
			if err != nil {
				fixtures.err = err
				return
			}
			img := boardtest.Blob(boardtest.Spec{Board: n, Version: "1.0.0", PayloadSize: 6000}, p.Flash.Erased)
			b, err := p.Provision(boardtest.Keyring(), img)
			if err != nil {
				fixtures.err = err
				return
			}
			fixtures.factories[n] = b
		}
		fixtures.schema, fixtures.err = device.NewSchema()
	})
	if fixtures.err != nil {
		tb.Fatal(fixtures.err)
	}
	return fixtures.factories[name], fixtures.schema
}

func imageURL(board string) string { return "https://fw.example/" + board + "/2.0.0.img" }

// campaignConfig is a fleet of n devices split over boards, a Campaign to
// 2.0.0 starting at t0+at, and the images.
func campaignConfig(tb testing.TB, seed uint64, n int, bs []string, at time.Duration, plan faults.Plan) (Config, *Campaign) {
	tb.Helper()
	cfg := Config{Seed: seed, Start: t0, Plan: plan, Images: map[string][]byte{}, ConnectRate: 50, ConnectJitter: time.Second}
	board := map[string]string{}
	for i, b := range bs {
		f, s := factory(tb, b)
		cfg.Schema = s
		c := n / len(bs)
		if i < n%len(bs) {
			c++
		}
		cfg.Boards = append(cfg.Boards, BoardGroup{Name: b, Factory: f, Count: c})
		cfg.Images[imageURL(b)] = boardtest.Image(boardtest.Spec{Board: b, Version: "2.0.0", PayloadSize: 9000})
	}
	// IDs are assigned in group order: map them back to boards.
	k := 0
	for _, g := range cfg.Boards {
		for range g.Count {
			k++
			board[fmt.Sprintf("os::00256D-SIM%06d", k)] = g.Name
		}
	}
	camp := &Campaign{At: t0.Add(at), URL: func(id string) string { return imageURL(board[id]) }}
	cfg.Controller = camp
	return cfg, camp
}

var faultyPlan = faults.Plan{
	{Kind: faults.PowerDuringInstall, Share: 0.1},
	{Kind: faults.PowerDuringInstall, Share: 0.05, Torn: true},
	{Kind: faults.HealthFail, Share: 0.1},
	{Kind: faults.PowerDuringTrial, Share: 0.05},
	{Kind: faults.PowerAtUptime, Share: 0.05, After: 30 * time.Second, Within: 5 * time.Minute},
	{Kind: faults.NetDrop, Share: 0.2, Drop: 0.3, After: 10 * time.Second, Within: time.Minute, Duration: 2 * time.Minute},
	{Kind: faults.NetDelay, Share: 0.2, Delay: 2 * time.Second, Within: time.Minute, Duration: 5 * time.Minute},
	{Kind: faults.NetPartition, Share: 0.05, After: 30 * time.Second, Within: time.Minute, Duration: 3 * time.Minute},
	{Kind: faults.DownloadSlow, Share: 0.1, Rate: 2000},
	{Kind: faults.DownloadTruncated, Share: 0.03},
	{Kind: faults.DownloadCorrupt, Share: 0.03},
}

func runLog(t *testing.T, seed uint64) ([]byte, map[string]int) {
	var log bytes.Buffer
	cfg, _ := campaignConfig(t, seed, 50, []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota"}, 20*time.Second, faultyPlan)
	cfg.Log = &log
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Index = idx
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RunUntil(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	return log.Bytes(), idx.Counts(index.ByOutcome)
}

// The same seed gives the same event log, byte for byte; another seed
// gives another.
func TestVirtualDeterministic(t *testing.T) {
	a, ca := runLog(t, 42)
	b, cb := runLog(t, 42)
	if !bytes.Equal(a, b) {
		la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
		for i := range min(len(la), len(lb)) {
			if la[i] != lb[i] {
				t.Fatalf("seed 42: logs differ at line %d:\n%s\n%s", i+1, la[i], lb[i])
			}
		}
		t.Fatalf("seed 42: logs differ in length: %d and %d lines", len(la), len(lb))
	}
	if fmt.Sprint(ca) != fmt.Sprint(cb) {
		t.Fatalf("outcomes differ: %v %v", ca, cb)
	}
	c, _ := runLog(t, 43)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 42 and 43 gave the same log")
	}
	lines := bytes.Count(a, []byte("\n"))
	for _, k := range []string{" link-up", " net-drop", " power-cut ", " rolled-back ", " confirmed ", " power-off "} {
		if !bytes.Contains(a, []byte(k)) {
			t.Errorf("the log has no %q line", k)
		}
	}
	head := strings.SplitAfterN(string(a), "\n", 13)
	t.Logf("seed 42: %d log lines, outcomes %v; first lines:\n%s", lines, ca, strings.Join(head[:12], ""))
}

// A campaign over 200 devices of two A/B boards: every device ends in one
// outcome, and the counts follow from the fault plan.
func TestVirtualCampaign(t *testing.T) {
	plan := faults.Plan{
		{Kind: faults.PowerDuringInstall, Share: 0.08},
		{Kind: faults.PowerDuringInstall, Share: 0.04, Torn: true},
		{Kind: faults.HealthFail, Share: 0.1},
	}
	cfg, camp := campaignConfig(t, 7, 200, []string{"uboot-nor", "mcuboot-nrf52"}, time.Minute, plan)
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Index = idx
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done, err := v.Run(t0.Add(3*time.Hour), func(v *Virtual) bool { return v.Count(Pending) == 0 })
	if err != nil {
		t.Fatal(err)
	}
	// Let rolled-back and updated devices settle (no late changes).
	if err := v.RunUntil(v.Now().Add(30 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatalf("not every device finished: %v", idx.Counts(index.ByOutcome))
	}
	want := map[string]int{}
	for n := range v.Len() {
		f := v.Faults(n)
		var w string
		switch {
		case f.PowerDuringInstall != nil:
			w = InstallFailed
		case f.HealthFail:
			w = RolledBack
		default:
			w = Updated
		}
		want[w]++
		if got := v.Outcome(n); got != w {
			t.Errorf("%s (%s, faults %+v): outcome %s, want %s", v.ID(n), v.Board(n), f, got, w)
		}
		ver, err := v.Device(n).Value("Device.DeviceInfo.SoftwareVersion", v.Now())
		if err != nil {
			t.Fatal(err)
		}
		if (w == Updated) != (ver == "2.0.0") {
			t.Errorf("%s: outcome %s running %s", v.ID(n), w, ver)
		}
	}
	got := idx.Counts(index.ByOutcome)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("index outcomes %v, want %v", got, want)
	}
	if want[InstallFailed] != 24 || want[Bricked] != 0 {
		t.Errorf("fault plan: %v", want)
	}
	if n := idx.Len(); n != 200 {
		t.Errorf("index holds %d devices", n)
	}
	if byVer := idx.Counts(index.ByVersion); byVer["2.0.0"] != want[Updated] {
		t.Errorf("index versions %v", byVer)
	}
	t.Logf("outcomes %v; %d events, virtual %s, wall %s; controller saw %d Boot!, %d TransferComplete!, %d OperationComplete, %d errors",
		got, v.Events(), v.Now().Sub(t0), time.Since(start), camp.Boots, camp.Transfers, camp.OperComplete, camp.Errors)
}

// A day of virtual time with hourly Periodic! for 1,000 devices.
func TestVirtualDayPeriodic(t *testing.T) {
	n := 1000
	cfg, camp := campaignConfig(t, 3, n, []string{"uboot-nor", "mcuboot-nrf52"}, 0, nil)
	camp.URL = nil
	camp.Periodic = true
	cfg.ConnectRate = 100
	cfg.Device = func(_ int, c *device.Config) { c.PeriodicInterval = 3600 }
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Index = idx
	start := time.Now()
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	if err := v.RunUntil(t0.Add(24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	if camp.Periodics < 23*n || camp.Periodics > 25*n {
		t.Errorf("%d Periodic! for %d devices over a day", camp.Periodics, n)
	}
	if c := idx.Count(index.ByConn, ConnConnected); c != n {
		t.Errorf("%d connected", c)
	}
	t.Logf("%d devices, 24h virtual: %d Periodic!, %d events, build %s, wall %s", n, camp.Periodics, v.Events(), built, wall)
}

// The devices of a run share their equal data model rows, and the run
// keeps a bounded table of them.
func TestVirtualInternsRows(t *testing.T) {
	cfg, camp := campaignConfig(t, 1, 20, []string{"uboot-nor"}, 0, nil)
	camp.URL = nil
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RunUntil(t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(v.rows) == 0 || len(v.rows) > 40 {
		t.Errorf("%d distinct rows interned for 20 devices", len(v.rows))
	}
	for i := range maxInterned + 10 {
		s := fmt.Sprint("row-", i)
		if got := v.intern(s); got != s {
			t.Fatalf("intern(%q) = %q", s, got)
		}
	}
	if len(v.rows) > maxInterned {
		t.Errorf("the table holds %d rows, past its bound %d", len(v.rows), maxInterned)
	}
	a := v.intern(strings.Clone("shared"))
	if b := v.intern(strings.Clone("shared")); unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("equal rows are not shared")
	}
}

// Records for an Endpoint ID go to the device with that ID.
func TestVirtualLookup(t *testing.T) {
	cfg, camp := campaignConfig(t, 1, 30, []string{"uboot-nor", "esp32-ota"}, 0, nil)
	camp.URL = nil
	cfg.IDFormat = "os::00256D-SIM%d" // not in numeric order once sorted
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for n := range v.Len() {
		if k, ok := v.lookup(v.ID(n)); !ok || int(k) != n {
			t.Errorf("lookup(%s) = %d, %v; want %d", v.ID(n), k, ok, n)
		}
	}
	if _, ok := v.lookup("os::00256D-SIM0"); ok {
		t.Error("found a device that is not there")
	}
}
