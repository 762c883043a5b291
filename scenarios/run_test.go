package scenarios

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/configs"
	"brickyard/mtp/mtptest"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/sim/index"
)

func profiles(t testing.TB) profile.Set {
	t.Helper()
	set, err := profile.Parse("configs/boards.yaml", configs.Boards(), profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const smallVirtual = `
name: small
clock: virtual
seed: 7
fleet:
  connect_rate: 50
  boards:
    - profile: uboot-nor
      count: 40
    - profile: mcuboot-nrf52
      count: 30
    - profile: esp32-ota
      count: 30
device:
  reboot: 5s
  trial: 60s
images:
  - version: 2.0.0
    payload: 16KiB
  - version: 2.1.0
    payload: 16KiB
    bad: true
campaign:
  image: 2.0.0
  deadline: 5m
  abort:
    failure_rate: 0.5
    min_devices: 5
  waves:
    - name: canary
      share: 10%
    - name: main
      share: 50%
    - name: bad canary
      share: 20%
      image: 2.1.0
    - name: bad rest
      share: rest
      image: 2.1.0
faults:
  - kind: power-during-install
    share: 0.1
    wave: 2
expect:
  - bricked == 0
  - updated >= 0.5
`

func runSmall(t *testing.T, src string) (*report.Report, []byte) {
	t.Helper()
	sc, err := Parse("small.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	return r, buf.Bytes()
}

func TestVirtualSmall(t *testing.T) {
	r, js := runSmall(t, smallVirtual)
	t.Logf("outcomes %v aborted %q duration %v", r.Outcomes, r.Aborted, r.Duration)
	for _, w := range r.ByWave {
		t.Logf("wave %+v", w)
	}
	t.Logf("latency %+v messages %v", r.Latency, r.Messages)
	_, js2 := runSmall(t, smallVirtual)
	if !bytes.Equal(js, js2) {
		t.Fatal("same seed, different report.json")
	}
}

func count(r *report.Report, outcome string) int {
	for _, c := range r.Outcomes {
		if c.Name == outcome {
			return c.N
		}
	}
	return 0
}

// The outcome counts follow from the fault plan: 10 % install cuts in wave
// 2 fail their install (and nothing else does), the bad image rolls back in
// every device that got it, the abort rule stops the last wave, nothing is
// bricked and every device has exactly one outcome.
func TestVirtualOutcomesFollowPlan(t *testing.T) {
	r, _ := runSmall(t, smallVirtual)
	want := map[string]int{"updated": 55, "install_failed": 5, "rolled_back": 20, "aborted": 20}
	total := 0
	for _, c := range r.Outcomes {
		total += c.N
		if c.N != want[c.Name] {
			t.Errorf("%s = %d, want %d", c.Name, c.N, want[c.Name])
		}
	}
	if total != r.Devices || len(r.Fleet) != r.Devices {
		t.Errorf("%d outcomes and %d fleet entries for %d devices", total, len(r.Fleet), r.Devices)
	}
	if r.Aborted == "" || !r.ByWave[2].Aborted || r.ByWave[3].Started {
		t.Errorf("abort: %q, waves %+v", r.Aborted, r.ByWave)
	}
	for _, d := range r.Fleet {
		switch {
		case d.Outcome == "install_failed" && d.Seen != "interrupted":
			t.Errorf("%s: install failed but the controller saw %q", d.ID, d.Seen)
		case d.Outcome == "updated" && (d.Seen != "updated" || d.Version != "2.0.0"):
			t.Errorf("%s: updated but seen %q version %q", d.ID, d.Seen, d.Version)
		case d.Outcome == "rolled_back" && (d.Seen != "rolled_back" || d.Version != "1.0.0"):
			t.Errorf("%s: rolled back but seen %q version %q", d.ID, d.Seen, d.Version)
		}
	}
	for _, e := range r.Expectations {
		if !e.OK {
			t.Errorf("expectation %s failed (%g)", e.Expr, e.Value)
		}
	}
}

// Each activation procedure updates the whole fleet.
func TestVirtualProcedures(t *testing.T) {
	for _, proc := range []string{"download-auto", "download-activate", "boot-image"} {
		t.Run(proc, func(t *testing.T) {
			src := `
name: proc
seed: 3
fleet:
  boards:
    - profile: uboot-nor
      count: 6
    - profile: mcuboot-nrf52
      count: 6
    - profile: esp32-ota
      count: 6
    - profile: single-nor
      count: 6
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 8KiB
campaign:
  image: 2.0.0
  procedure: ` + proc + `
  window: {start: 20s, end: 1h, mode: AnyTime}
expect: [updated == 1.0]
`
			r, _ := runSmall(t, src)
			if n := count(r, "updated"); n != 24 {
				t.Errorf("updated %d of 24: %+v", n, r.Outcomes)
			}
			if failed := Failed(r); len(failed) > 0 {
				t.Errorf("failed: %+v", failed)
			}
		})
	}
}

const realSmall = `
name: real-small
clock: real
seed: 5
duration: 1m
fleet:
  connect_rate: 200
  boards:
    - profile: uboot-nor
      count: 12
    - profile: esp32-ota
      count: 12
device: {reboot: 300ms, trial: 2s}
images:
  - version: 2.0.0
    payload: 8KiB
  - version: 3.0.0
    payload: 8KiB
    bad: true
campaign:
  image: 2.0.0
  start: 500ms
  deadline: 20s
  waves:
    - share: 50%
    - share: rest
      image: 3.0.0
faults:
  - kind: health-fail
    share: 0.25
    wave: 1
`

// A real-time run over each MTP, with the embedded brokers and with the
// real ones (Debian's mosquitto, RabbitMQ's STOMP plugin): the embedded
// controller, its Basic-auth file server and 24 device goroutines. The
// outcomes are the fault plan's, whatever the transport.
func TestRealTransports(t *testing.T) {
	for _, tc := range []struct {
		name, fleet string
		broker      func(t *testing.T) string
	}{
		{"websocket", "  mtp: websocket\n", nil},
		{"websocket-tls-device-certs", "  mtp: websocket\n  tls: true\n  device_certs: true\n", nil},
		{"mqtt-embedded", "  mtp: mqtt\n", nil},
		{"mqtt-qos0", "  mtp: mqtt\n  mqtt_qos: 0\n", nil},
		{"stomp-embedded", "  mtp: stomp\n", nil},
		{"mqtt-mosquitto", "  mtp: mqtt\n", func(t *testing.T) string { return mtptest.StartMosquitto(t) }},
		{"stomp-rabbitmq", "  mtp: stomp\n  username: guest\n  password: guest\n", func(t *testing.T) string { return mtptest.StartRabbitMQ(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fleet := tc.fleet
			if tc.broker != nil {
				fleet += "  broker: " + tc.broker(t) + "\n"
			}
			sc, err := Parse("real.yaml", []byte(strings.Replace(realSmall, "fleet:\n", "fleet:\n"+fleet, 1)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(context.Background(), sc, Options{Profiles: profiles(t), ProgressEvery: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Interrupted {
				t.Fatalf("interrupted (%s)", r.MTP)
			}
			// Wave 1: 12 devices, 3 of them health-fail → 9 updated, 3
			// rolled back; wave 2: the bad image rolls back everywhere.
			if u, rb := count(r, "updated"), count(r, "rolled_back"); u != 9 || rb != 15 {
				t.Errorf("%s: updated %d (want 9), rolled back %d (want 15): %+v", r.MTP, u, rb, r.Outcomes)
			}
			if r.Latency.Count == 0 || r.Wall == 0 {
				t.Errorf("latency %+v wall %v", r.Latency, r.Wall)
			}
			// Every sample of the rollout counts the whole fleet, those
			// not powered on yet as pending.
			for i, smp := range r.Progress {
				sum := 0
				for _, c := range smp.Outcomes {
					sum += c.N
				}
				if sum != r.Devices {
					t.Errorf("%s: sample %d at %v counts %d devices of %d", r.MTP, i, smp.At, sum, r.Devices)
				}
			}
		})
	}
}

// Ctrl-C: the run stops and still returns what happened.
func TestInterrupt(t *testing.T) {
	sc, err := Parse("x.yaml", []byte(strings.Replace(smallVirtual, "clock: virtual", "clock: real", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := func(p Progress) {
		if p.Conn["connected"] > 0 { // under way: interrupt it
			cancel()
		}
	}
	r, err := Run(ctx, sc, Options{Profiles: profiles(t), ProgressEvery: 50 * time.Millisecond, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || len(r.Fleet) != 100 {
		t.Fatalf("interrupted %v, %d devices", r.Interrupted, len(r.Fleet))
	}
}

// Ctrl-C on the virtual clock lands within a step of virtual time, however
// many events the step holds: here one step of an hour would hold the whole
// campaign of 10,000 devices, and the interrupt, already there when the run
// starts, stops it within its first thousand events. The partial report
// still has every device.
func TestInterruptVirtual(t *testing.T) {
	sc, err := Builtin("power-cuts-10k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := Run(ctx, sc, Options{Profiles: profiles(t), ProgressEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || len(r.Fleet) != 10_000 || r.Duration >= report.Seconds(time.Hour.Seconds()) {
		t.Fatalf("interrupted %v, %d devices, %v virtual seconds", r.Interrupted, len(r.Fleet), r.Duration)
	}
	if n := count(r, "pending"); n != 10_000 {
		t.Fatalf("%d of 10,000 devices pending: the run went on after the interrupt (%+v)", n, r.Outcomes)
	}
}

// TestMain stops the RabbitMQ that the STOMP test started (one per test
// binary).
func TestMain(m *testing.M) {
	code := m.Run()
	mtptest.StopRabbitMQ()
	os.Exit(code)
}

// The file server over HTTPS, answering a share of the downloads 503 and
// stalling another until the devices' download timeout: those devices end
// download_failed, the others update, none is lost.
func TestRealServerFaults(t *testing.T) {
	src := strings.Replace(realSmall, "    - share: rest\n      image: 3.0.0\n", "    - share: rest\n", 1)
	src = strings.Replace(src, "faults:\n  - kind: health-fail\n    share: 0.25\n    wave: 1\n", "", 1)
	src += `server:
  tls: true
  download_timeout: 1s
  faults:
    - share: 0.3
      status: 503
    - share: 0.2
      stall: true
`
	sc, err := Parse("server.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t), ProgressEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	u, f := count(r, "updated"), count(r, "download_failed")
	if u+f != 24 || u == 0 || f == 0 {
		t.Fatalf("updated %d, download_failed %d of 24: %+v", u, f, r.Outcomes)
	}
	for _, d := range r.Fleet {
		if d.Outcome == "download_failed" && d.Seen != "download_failed" {
			t.Errorf("%s: download failed but the controller saw %q", d.ID, d.Seen)
		}
	}
}

// A run feeds its metrics: messages by type, latencies, campaign progress
// and the fleet's devices by outcome.
func TestRunMetrics(t *testing.T) {
	sc, err := Parse("small.yaml", []byte(smallVirtual))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.WithRole(metrics.RoleController))
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Follow(ctx, idx) }()
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t), Metrics: m, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range mt.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.GetCounter() != nil:
				got[key] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				got[key] = mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				got[key] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"brickyard_usp_messages_total,direction=sent,role=controller,type=Operate":    80,
		"brickyard_usp_messages_total,direction=received,role=controller,type=Notify": 450, // 250 and an OnBoardRequest per device and boot
		"brickyard_usp_request_duration_seconds,role=controller":                      float64(r.Latency.Count),
		"brickyard_campaign_aborted":                                                  1,
	} {
		if got[key] != want {
			t.Errorf("%s = %g, want %g", key, got[key], want)
		}
	}
	// The devices' events: every outcome's update timed, the downloads
	// and the plan's power cuts during install counted.
	if u, rb := got["brickyard_update_duration_seconds,outcome=updated"], got["brickyard_update_duration_seconds,outcome=rolled_back"]; u != float64(count(r, "updated")) || rb != float64(count(r, "rolled_back")) || u == 0 {
		t.Errorf("update durations: %g updated, %g rolled back; the report has %d and %d", u, rb, count(r, "updated"), count(r, "rolled_back"))
	}
	if ok := got["brickyard_downloads_total,result=ok"]; ok < float64(count(r, "updated")) || got["brickyard_download_bytes_total"] < ok*16*1024 {
		t.Errorf("downloads %g, %g bytes", ok, got["brickyard_download_bytes_total"])
	}
	if got["brickyard_faults_injected_total,kind=power-cut:install"] == 0 {
		t.Errorf("no power cut counted: %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Images given as files, signed with the user's own key (trusted through
// trust:), install like built ones; a file signed with an untrusted key, or
// holding another version, is an error naming the image before anything runs.
func TestGivenImageFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := image.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := image.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("release.pub.pem", pem)
	v, _ := image.ParseVersion("2.0.0")
	img, err := image.Pack(priv, image.Header{Version: v, BoardID: "uboot-nor"}, bytes.Repeat([]byte{0xA5}, 9000))
	if err != nil {
		t.Fatal(err)
	}
	write("uboot-2.0.0.img", img)
	src := `name: files
fleet:
  boards:
    - profile: uboot-nor
      count: 5
    - profile: esp32-ota
      count: 5
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 8KiB
    files:
      uboot-nor: uboot-2.0.0.img
trust: [release.pub.pem]
campaign:
  image: 2.0.0
expect: [updated == 10]
`
	write("s.yaml", []byte(src))
	sc, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	if failed := Failed(r); len(failed) > 0 {
		t.Fatalf("%+v: %+v", failed, r.Outcomes)
	}
	for _, tc := range []struct{ edit, want string }{
		{"trust: [release.pub.pem]\n", "is its key in trust?"},
		{"      uboot-nor: uboot-2.0.0.img", "no such file"},
	} {
		bad := strings.Replace(src, tc.edit, map[string]string{"trust: [release.pub.pem]\n": "", "      uboot-nor: uboot-2.0.0.img": "      uboot-nor: missing.img"}[tc.edit], 1)
		write("bad.yaml", []byte(bad))
		sc, err := Load(filepath.Join(dir, "bad.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), sc, Options{Profiles: profiles(t)})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml:") {
			t.Errorf("%q: %v", tc.want, err)
		}
	}
}

// An image larger than its board's slot is refused before it is made or
// read: a built payload, and a given file (here a sparse 3 GiB file, which
// would take seconds and gigabytes to read).
func TestImageLargerThanSlot(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, tc := range map[string]struct{ images, want string }{
		"built": {"  - version: 2.0.0\n    payload: 900MiB\n", "does not fit the"},
		"file":  {"  - version: 2.0.0\n    files:\n      uboot-nor: big.img\n", "more than the"},
	} {
		t.Run(name, func(t *testing.T) {
			src := "name: big\nfleet:\n  boards:\n    - profile: uboot-nor\n      count: 2\nimages:\n" + tc.images + "campaign:\n  image: 2.0.0\n"
			p := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Run(context.Background(), sc, Options{Profiles: profiles(t)})
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "images.0") {
				t.Fatalf("error %v, want %q naming images.0", err, tc.want)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 256<<20 {
				t.Errorf("%d MiB allocated before the refusal", grown>>20)
			}
		})
	}
}

// Debian's mosquitto killed and restarted mid-campaign (a real-time run of
// 120 devices over MQTT): every agent reconnects with TR-369's retry
// waits, the embedded controller listens again and resumes its agents, and
// what was lost with the old sessions goes again. Every device ends in
// exactly one outcome, and what the controller concluded from USP agrees
// with each device's real end (once, 180 healthy devices were reported
// unreachable because the soak Gets sent around the restart were lost).
func TestRealBrokerRestart(t *testing.T) {
	m := mtptest.NewMosquitto(t)
	src := `name: broker-restart
clock: real
seed: 9
duration: 4m
fleet:
  mtp: mqtt
  broker: ` + m.Addr + `
  connect_rate: 200
  boards:
    - profile: uboot-nor
      count: 60
    - profile: esp32-ota
      count: 60
device: {reboot: 300ms, trial: 20s}
images:
  - version: 2.0.0
    payload: 8KiB
campaign:
  image: 2.0.0
  start: 500ms
  deadline: 2m
  soak: 8s
  request_timeout: 10m # longer than the deadline: only a new session can bring a lost request back in time
  waves:
    - share: 25%
    - share: rest
`
	sc, err := Parse("restart.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	progress := make(chan Progress, 1)
	opt := Options{Profiles: profiles(t), ProgressEvery: 100 * time.Millisecond, Progress: func(p Progress) {
		select {
		case progress <- p:
		default:
		}
	}}
	type result struct {
		r   *report.Report
		err error
	}
	done := make(chan result, 1)
	go func() { r, err := Run(ctx, sc, opt); done <- result{r, err} }()
	// Stop the broker once the second wave is under way (soak Gets and
	// Download()s in flight), keep it down longer than a retry wait, and
	// start it again on the same port.
	restarted := false
	var res result
wait:
	for {
		select {
		case p := <-progress:
			if !restarted && len(p.Waves) == 2 && p.Waves[1].Opened && p.Outcomes["updated"] >= 20 {
				m.Stop()
				// The outage must last in wall-clock time: the agents' own
				// retry waits (1 s and more) are what it exercises.
				time.Sleep(3 * time.Second)
				m.Start()
				restarted = true
			}
		case res = <-done:
			break wait
		}
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	r := res.r
	if !restarted || r.Interrupted {
		t.Fatalf("restarted %v, interrupted %v: %+v", restarted, r.Interrupted, r.Outcomes)
	}
	if n := count(r, "pending"); n != 0 || len(r.Fleet) != 120 {
		t.Fatalf("%d devices pending of %d: %+v", n, len(r.Fleet), r.Outcomes)
	}
	bad := 0
	for _, d := range r.Fleet {
		if d.Seen != d.Outcome {
			bad++
			if bad <= 5 {
				t.Errorf("%s: the device ended %s, the controller saw %q", d.ID, d.Outcome, d.Seen)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d devices: the controller's view disagrees with the device (outcomes %+v)", bad, len(r.Fleet), r.Outcomes)
	}
	if u := count(r, "updated"); u != 120 {
		t.Errorf("%d of 120 updated: %+v", u, r.Outcomes)
	}
}
