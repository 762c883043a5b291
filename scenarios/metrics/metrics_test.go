package metrics

import (
	"brickyard/scenarios/fileserver"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// eventually polls check until it returns nil, failing the test after a
// few seconds with check's last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 5s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeak fails the test if, within a few seconds, the goroutine count does
// not come back to before.
func noLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, %d before\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// family gathers m's registry and returns the metric family called name.
func family(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// series returns the label values → value of a gathered family (label
// values joined by ",").
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	f := family(t, m, name)
	if f == nil {
		return out
	}
	for _, mt := range f.GetMetric() {
		var vs []string
		for _, lp := range mt.GetLabel() {
			if lp.GetName() != "role" { // a constant label: TestRole checks it
				vs = append(vs, lp.GetValue())
			}
		}
		v := mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
		out[strings.Join(vs, ",")] = v
	}
	return out
}

func putFleet(t testing.TB, idx *index.Index, ds ...index.Device) {
	t.Helper()
	if err := idx.PutAll(ds); err != nil {
		t.Fatal(err)
	}
}

const fleetHeader = `
# HELP brickyard_devices_by_outcome Devices by campaign outcome (pending, updated, rolled_back, bricked, download_failed, install_failed, unreachable), from the fleet index.
# TYPE brickyard_devices_by_outcome gauge
`

func TestFollowTracksIndex(t *testing.T) {
	before := runtime.NumGoroutine()
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	putFleet(t, idx,
		index.Device{ID: "a", Board: "rpi4", Version: "1.0", Phase: "idle", Conn: "connected", Boots: 1},
		index.Device{ID: "b", Board: "rpi4", Version: "1.0", Phase: "idle", Conn: "connected", Boots: 1},
		index.Device{ID: "c", Board: "bbb", Version: "1.0", Phase: "downloading", Conn: "connecting", Boots: 2},
	)
	m := New(WithRecountInterval(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Follow(ctx, idx) }()

	eventually(t, "initial outcome gauges", func() error {
		return testutil.CollectAndCompare(m.fleet, strings.NewReader(fleetHeader+`
brickyard_devices_by_outcome{outcome="bricked"} 0
brickyard_devices_by_outcome{outcome="download_failed"} 0
brickyard_devices_by_outcome{outcome="install_failed"} 0
brickyard_devices_by_outcome{outcome="pending"} 3
brickyard_devices_by_outcome{outcome="rolled_back"} 0
brickyard_devices_by_outcome{outcome="unreachable"} 0
brickyard_devices_by_outcome{outcome="updated"} 0
`), "brickyard_devices_by_outcome")
	})
	if got := series(t, m, "brickyard_devices"); fmt.Sprint(got) != "map[bbb:1 rpi4:2]" {
		t.Errorf("devices by board: %v", got)
	}
	if got := series(t, m, "brickyard_devices_by_phase"); fmt.Sprint(got) != "map[downloading:1 idle:2]" {
		t.Errorf("devices by phase: %v", got)
	}
	if got := series(t, m, "brickyard_device_boots_total"); got[""] != 4 {
		t.Errorf("boots: %v", got)
	}

	// The fleet moves on: two devices update (rebooting into 2.0), one bricks.
	for _, id := range []string{"a", "b"} {
		if err := idx.Update(id, func(d *index.Device) {
			d.Version, d.Outcome, d.Phase, d.Boots = "2.0", "updated", "idle", d.Boots+1
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Update("c", func(d *index.Device) { d.Outcome, d.Phase, d.Conn = "bricked", "dead", "disconnected" }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gauges after the update", func() error {
		want := map[string]string{
			"brickyard_devices_by_outcome": "map[bricked:1 download_failed:0 install_failed:0 pending:0 rolled_back:0 unreachable:0 updated:2]",
			"brickyard_devices_by_version": "map[1.0:1 2.0:2]",
			"brickyard_devices_by_phase":   "map[dead:1 idle:2]",
			"brickyard_devices_by_conn":    "map[connected:2 connecting:0 disconnected:1]",
			"brickyard_device_boots_total": "map[:6]",
		}
		for name, w := range want {
			if got := fmt.Sprint(series(t, m, name)); got != w {
				return fmt.Errorf("%s = %s, want %s", name, got, w)
			}
		}
		return nil
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after cancel")
	}
	noLeak(t, before)
}

// Follow returns promptly when ctx ends while it waits out the recount
// interval, and its timer does not keep it alive.
func TestFollowStopsDuringThrottle(t *testing.T) {
	before := runtime.NumGoroutine()
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	m := New(WithRecountInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	first := m.fleet.snap.Load()
	go func() { done <- m.Follow(ctx, idx) }()
	eventually(t, "first recount", func() error {
		if m.fleet.snap.Load() == first {
			return fmt.Errorf("no recount yet")
		}
		return nil
	})
	putFleet(t, idx, index.Device{ID: "a"}) // Follow now waits an hour before recounting
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after cancel")
	}
	noLeak(t, before)
}

func TestFollowNilIndex(t *testing.T) {
	if err := New().Follow(context.Background(), nil); err == nil {
		t.Fatal("Follow(nil) returned nil")
	}
}

// A burst of changes within the recount interval costs few recounts, and
// the last state is what the gauges end on.
func TestFollowCoalesces(t *testing.T) {
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	m := New(WithRecountInterval(50 * time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	first := m.fleet.snap.Load()
	go func() { done <- m.Follow(ctx, idx) }()
	defer func() { cancel(); <-done }()

	eventually(t, "first recount", func() error {
		if m.fleet.snap.Load() == first {
			return fmt.Errorf("no recount yet")
		}
		return nil
	})
	snaps := map[*snapshot]bool{}
	var mu sync.Mutex
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			snaps[m.fleet.snap.Load()] = true
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	const n = 500
	for i := range n {
		putFleet(t, idx, index.Device{ID: fmt.Sprintf("d%03d", i), Version: "1.0"})
	}
	eventually(t, "all devices counted", func() error {
		if got := series(t, m, "brickyard_devices_by_version")["1.0"]; got != n {
			return fmt.Errorf("version 1.0: %v devices", got)
		}
		return nil
	})
	close(stop)
	<-watched
	mu.Lock()
	defer mu.Unlock()
	if len(snaps) > n/5 {
		t.Errorf("%d recounts seen for %d changes: not coalesced", len(snaps), n)
	}
}

func TestBucketCap(t *testing.T) {
	var ds []index.Device
	// 100 versions: v00 has 100 devices, v01 99, …, v99 1; plus one device
	// whose version is literally "other".
	for v := range 100 {
		for i := range 100 - v {
			ds = append(ds, index.Device{ID: fmt.Sprintf("%02d-%03d", v, i), Version: fmt.Sprintf("v%02d", v)})
		}
	}
	ds = append(ds, index.Device{ID: "x", Version: Other})
	s := summarise(ds)
	if len(s.version) != LabelLimit {
		t.Fatalf("%d version series, want %d", len(s.version), LabelLimit)
	}
	total, other := 0, 0
	for _, vc := range s.version {
		total += vc.n
		if vc.value == Other {
			other = vc.n
		}
		if vc.value == "v63" {
			t.Errorf("v63 (the 64th most common) kept its own series: %v", vc)
		}
	}
	if total != len(ds) {
		t.Errorf("versions sum to %d devices, want %d", total, len(ds))
	}
	// v63…v99 have 37+36+…+1 devices, plus the "other" one.
	if want := 37*38/2 + 1; other != want {
		t.Errorf("other = %d, want %d", other, want)
	}
}

func TestMessageCap(t *testing.T) {
	m := New()
	for i := range 100 {
		m.Message(Sent, fmt.Sprintf("Type%02d", i))
		m.Message(Sent, fmt.Sprintf("Type%02d", i))
	}
	m.Message(Received, "Type00") // an admitted type, new direction: its own series
	m.Message(Received, "Type99") // not admitted: other
	m.Message("sideways", "Type01")
	m.Message(Sent, "")            // unknown
	m.Message(Sent, "bad\xffutf8") // overflow anyway, but must not break a scrape
	got := series(t, m, "brickyard_usp_messages_total")
	if n := len(got); n != LabelLimit+1+2+1 {
		t.Errorf("%d series, want %d: %v", n, LabelLimit+1+2+1, got)
	}
	if got["sent,other"] != 2*(100-LabelLimit)+2 {
		t.Errorf("sent other = %v", got["sent,other"])
	}
	if got["sent,Type00"] != 2 || got["received,Type00"] != 1 || got["received,other"] != 1 || got["other,Type01"] != 1 {
		t.Errorf("series: %v", got)
	}
	types := map[string]bool{}
	for k := range got {
		types[strings.SplitN(k, ",", 2)[1]] = true
	}
	if len(types) != LabelLimit+1 {
		t.Errorf("%d distinct types, want %d", len(types), LabelLimit+1)
	}

	for c := range uint32(200) {
		m.Error(c)
	}
	errs := series(t, m, "brickyard_usp_errors_total")
	if len(errs) != LabelLimit+1 || errs["other"] != 200-LabelLimit || errs["7000"] != 0 || errs["0"] != 1 {
		t.Errorf("errors: %d series, other %v", len(errs), errs["other"])
	}
}

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "unknown",
		"Get":                   "Get",
		"a\xffb":                "a\uFFFDb",
		strings.Repeat("é", 40): strings.Repeat("é", 32),
		strings.Repeat("x", 99): strings.Repeat("x", MaxLabelLen),
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCampaign(t *testing.T) {
	m := New()
	m.Campaign(1, 10, 10, 8)
	m.Campaign(1, 10, 10, 10)
	for w := 2; w <= 70; w++ {
		m.Campaign(w, 1, 1, 0)
	}
	m.Campaign(70, 2, 2, 1) // an overflowed wave updated: replaces its share of other
	m.Aborted(true)
	got := series(t, m, "brickyard_campaign_devices")
	// label values in label-name order: state, wave
	if got["done,1"] != 10 || got["planned,1"] != 10 {
		t.Errorf("wave 1: %v", got)
	}
	// waves 1…64 have their own series; 65…70 are under other.
	if got["planned,other"] != 7 || got["done,other"] != 1 || got["planned,64"] != 1 || got["planned,65"] != 0 {
		t.Errorf("other: planned %v done %v", got["planned,other"], got["done,other"])
	}
	if len(got) != (LabelLimit+1)*3 {
		t.Errorf("%d series", len(got))
	}
	if v := testutil.ToFloat64(m.aborted); v != 1 {
		t.Errorf("aborted = %v", v)
	}
	m.Aborted(false)
	if v := testutil.ToFloat64(m.aborted); v != 0 {
		t.Errorf("aborted = %v", v)
	}
}

func TestConcurrent(t *testing.T) {
	m := New()
	types := []string{"Get", "GetResp", "Set", "SetResp", "Operate", "OperateResp", "Notify", "NotifyResp", "Error", "Add"}
	const workers, each = 64, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				dir := Sent
				if i%2 == 1 {
					dir = Received
				}
				m.Message(dir, types[(w+i)%len(types)])
				m.Latency(time.Duration(i) * time.Millisecond)
				m.Error(uint32(7000 + i%5))
				if i%100 == 0 {
					m.Reconnect()
					m.Campaign(w%3, workers, w, i)
				}
			}
		})
	}
	// Scrape while they count.
	wg.Go(func() {
		for range 20 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()

	total := 0.0
	for _, v := range series(t, m, "brickyard_usp_messages_total") {
		total += v
	}
	if total != workers*each {
		t.Errorf("messages: %v, want %d", total, workers*each)
	}
	if n := testutil.CollectAndCount(m.messages.vec); n != 2*len(types) {
		t.Errorf("%d message series, want %d", n, 2*len(types))
	}
	if v := testutil.ToFloat64(m.reconnects); v != workers*each/100 {
		t.Errorf("reconnects: %v", v)
	}
	if v := testutil.ToFloat64(m.errors.vec.WithLabelValues("7003")); v != workers*each/5 {
		t.Errorf("errors 7003: %v", v)
	}
	h := family(t, m, "brickyard_usp_request_duration_seconds").GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != workers*each {
		t.Errorf("latency samples: %d", h.GetSampleCount())
	}
}

// The hot path does not allocate once a label value has been seen.
func TestHotPathAllocs(t *testing.T) {
	m := New()
	m.Message(Sent, "Get")
	m.Error(7004)
	for name, f := range map[string]func(){
		"Message":   func() { m.Message(Sent, "Get") },
		"Error":     func() { m.Error(7004) },
		"Latency":   func() { m.Latency(3 * time.Millisecond) },
		"Reconnect": m.Reconnect,
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

// Two Metrics have separate registries and nothing goes to the default one.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	_, _ = a.Handler(), a.Handler() // a second handler on one registry must not panic
	a.Reconnect()
	if testutil.ToFloat64(b.reconnects) != 0 {
		t.Error("b saw a's reconnect")
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			t.Errorf("%s is on the default registry", f.GetName())
		}
	}
}

// The metric names, types and help texts pass promlint, and every metric
// the docs promise is there.
func TestLintAndNames(t *testing.T) {
	m := New()
	m.Message(Sent, "Get")
	m.Error(7000)
	m.Campaign(1, 1, 0, 0)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, Namespace+"_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", f.GetName())
		}
	}
	for _, name := range []string{
		"brickyard_devices_by_outcome", "brickyard_devices_by_conn", "brickyard_device_boots_total",
		"brickyard_usp_messages_total", "brickyard_usp_errors_total", "brickyard_reconnects_total",
		"brickyard_usp_request_duration_seconds", "brickyard_campaign_devices", "brickyard_campaign_aborted",
		"go_goroutines", "process_start_time_seconds",
	} {
		if !have[name] {
			t.Errorf("%s missing", name)
		}
	}
}

// TestRoleAndBuild: the traffic series say whose view they are (the role
// label), build_info says which binary, and the session counters count.
func TestRoleAndBuild(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		role string
	}{{nil, RoleAgent}, {[]Option{WithRole(RoleController)}, RoleController}, {[]Option{WithRole("bogus")}, RoleAgent}} {
		m := New(append(c.opts, WithBuild("v9.9.9", "abc123"))...)
		m.Message(Sent, "Get")
		m.Error(7004)
		m.Latency(time.Millisecond)
		m.DialFailure()
		m.DialFailure()
		m.SessionLost()
		for _, name := range []string{"brickyard_usp_messages_total", "brickyard_usp_errors_total", "brickyard_usp_request_duration_seconds"} {
			f := family(t, m, name)
			if f == nil || len(f.GetMetric()) != 1 {
				t.Fatalf("%s: %v", name, f)
			}
			var role string
			for _, lp := range f.GetMetric()[0].GetLabel() {
				if lp.GetName() == "role" {
					role = lp.GetValue()
				}
			}
			if role != c.role {
				t.Errorf("%s role %q, want %q", name, role, c.role)
			}
		}
		if got := series(t, m, "brickyard_build_info"); got[runtime.Version()+",abc123,v9.9.9"] != 1 || len(got) != 1 {
			t.Errorf("build_info %v", got)
		}
		if got := series(t, m, "brickyard_dial_failures_total"); got[""] != 2 {
			t.Errorf("dial failures %v", got)
		}
		if got := series(t, m, "brickyard_session_losses_total"); got[""] != 1 {
			t.Errorf("session losses %v", got)
		}
	}
	if v, _ := buildVersion(); v == "" {
		t.Error("no version from the build information")
	}
}

// TestBoardOutcome: devices by board and outcome, every pinned outcome
// of every board at zero included, boards beyond the cap under other as
// in brickyard_devices.
func TestBoardOutcome(t *testing.T) {
	var ds []index.Device
	ds = append(ds, index.Device{ID: "a", Board: "rpi4", Outcome: fleet.Updated}, index.Device{ID: "b", Board: "rpi4", Outcome: fleet.Bricked},
		index.Device{ID: "c", Board: "a-nrf52", Outcome: fleet.Updated}) // ties by name: a- is kept before b000…
	for i := range LabelLimit + 5 {
		ds = append(ds, index.Device{ID: fmt.Sprint("x", i), Board: fmt.Sprintf("b%03d", i), Outcome: fleet.Pending})
	}
	s := summarise(ds)
	got := map[string]int{}
	boards := map[string]bool{}
	for _, b := range s.boardOutcome {
		boards[b.board] = true
		for _, v := range b.outcomes {
			got[b.board+","+v.value] = v.n
		}
	}
	if got["rpi4,updated"] != 1 || got["rpi4,bricked"] != 1 || got["rpi4,rolled_back"] != 0 || got["a-nrf52,updated"] != 1 {
		t.Errorf("%v", got)
	}
	if _, ok := got["a-nrf52,unreachable"]; !ok {
		t.Error("a pinned outcome at zero is missing")
	}
	if len(boards) != len(s.board) || !boards[Other] {
		t.Errorf("%d boards here, %d in brickyard_devices; other %v", len(boards), len(s.board), boards[Other])
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if total != len(ds) {
		t.Errorf("%d devices counted, want %d", total, len(ds))
	}
}

// TestDeviceEvent: the devices' event-log lines make the fault, download
// and update series.
func TestDeviceEvent(t *testing.T) {
	m := New()
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, e := range []struct {
		id, kind, detail string
		at               int
	}{
		{"a", "download-start", "row=2", 0},
		{"a", "downloaded", "row=2 bytes=1000 version=2.0", 4},
		{"a", "power-cut", "phase=install op=3 write@0x1000", 5},
		{"a", "download-start", "row=2", 20},
		{"a", "downloaded", "row=2 bytes=1000 version=2.0", 22},
		{"a", "updated", "version=2.0", 60},
		{"b", "download-start", "row=2", 0},
		{"b", "download-failed", "row=2: connection reset", 3},
		{"b", "power-cut", "phase=trial: boot counter", 7},
		{"b", "rolled-back", "", 30},
		{"c", "net-drop", "up", 1},
		{"c", "link-fail", "partition", 2},
		{"c", "link-fail", "connection refused", 3}, // not a fault of the plan
		{"c", "updated", "", 9},                     // no download seen: no duration
		{"c", "boot", "slot=A", 10},                 // not counted
		{"d", "download-start", "row=2", 0},
		{"d", "downloaded", "row=2 bytes=x", 1}, // no byte count it can read
		{"d", "confirmed", "slot=B version=2.0", 90},
	} {
		m.DeviceEvent(e.id, e.kind, e.detail, at(e.at))
	}
	faults := series(t, m, "brickyard_faults_injected_total")
	if faults["power-cut:install"] != 1 || faults["power-cut:trial"] != 1 || faults["net-drop"] != 1 || faults["partition"] != 1 || len(faults) != 4 {
		t.Errorf("faults %v", faults)
	}
	if d := series(t, m, "brickyard_downloads_total"); d["ok"] != 3 || d["failed"] != 1 {
		t.Errorf("downloads %v", d)
	}
	if b := series(t, m, "brickyard_download_bytes_total"); b[""] != 2000 {
		t.Errorf("bytes %v", b)
	}
	dl := family(t, m, "brickyard_download_duration_seconds").GetMetric()[0].GetHistogram()
	if dl.GetSampleCount() != 4 || dl.GetSampleSum() != 4+2+3+1 {
		t.Errorf("download durations: %d, sum %g", dl.GetSampleCount(), dl.GetSampleSum())
	}
	upd := map[string]*dto.Histogram{}
	for _, mt := range family(t, m, "brickyard_update_duration_seconds").GetMetric() {
		upd[mt.GetLabel()[0].GetValue()] = mt.GetHistogram()
	}
	if upd["updated"].GetSampleCount() != 2 || upd["updated"].GetSampleSum() != 60+90 || upd["rolled_back"].GetSampleSum() != 30 || upd["bricked"].GetSampleCount() != 0 {
		t.Errorf("update durations %v", upd)
	}
	if len(m.events.start) != 0 {
		t.Errorf("%d devices still tracked after their outcomes", len(m.events.start))
	}
	for kind, want := range map[string]bool{"power-cut": true, "updated": true, "boot": false, "link-up": false} {
		if Counted(kind) != want {
			t.Errorf("Counted(%q) = %v", kind, !want)
		}
	}
}

// The file server's answers by status, read at every scrape; nothing
// before a server is handed over.
func TestFileServer(t *testing.T) {
	m := New()
	if f := family(t, m, "brickyard_fileserver_responses_total"); f != nil {
		t.Fatalf("exported before a server: %v", f)
	}
	st := fileserver.Stats{Requests: 9, BytesSent: 4096, Responses: map[int]int64{200: 5, 401: 1, 503: 3}}
	m.FileServer(func() fileserver.Stats { return st })
	if got := series(t, m, "brickyard_fileserver_responses_total"); fmt.Sprint(got) != "map[200:5 401:1 503:3]" {
		t.Errorf("responses %v", got)
	}
	st.Responses[503]++
	if got := series(t, m, "brickyard_fileserver_responses_total")["503"]; got != 4 {
		t.Errorf("503 after one more: %v", got)
	}
	if got := series(t, m, "brickyard_fileserver_requests_total")[""]; got != 9 {
		t.Errorf("requests %v", got)
	}
	if got := series(t, m, "brickyard_fileserver_bytes_total")[""]; got != 4096 {
		t.Errorf("bytes %v", got)
	}
}
