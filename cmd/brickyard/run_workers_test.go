package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"brickyard/scenarios/report"
)

// workersScenario is a small real-time campaign whose outcomes the fault
// plan decides: a quarter of the U-Boot boards lose power during their
// install (install_failed), the rest update; a net-delay rule that never
// acts within the run picks devices over the whole fleet, so a shard
// that assigned faults over its own devices would show.
const workersScenario = `name: run-workers
clock: real
seed: 7
duration: 90s
fleet:
  mtp: websocket
  connect_rate: 200
  boards:
    - profile: uboot-nor
      count: 12
    - profile: mcuboot-nrf52
      count: 12
device: {reboot: 1s, trial: 3s}
images:
  - version: 2.0.0
    payload: 8KiB
campaign:
  image: 2.0.0
  start: 2s
  deadline: 40s
  waves:
    - share: 25%
    - share: rest
faults:
  - {kind: power-during-install, share: 0.25, board: uboot-nor}
  - {kind: net-delay, share: 0.3, after: 1h, duration: 1m, delay: 1s}
expect:
  - bricked == 0
`

// brickyard run --workers 3: the embedded controller in the parent, the
// devices in three worker processes. The campaign is one (its waves and
// their sizes), every device comes back with the outcome its faults give
// it, as the same scenario's devices in virtual time (one process) are
// and end: the same IDs, boards, waves and faults; the progress the
// parent recorded is the workers' devices, mirrored.
func TestRunWorkers_OneCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("a real-time campaign of about 20 s")
	}
	noLeaks(t)
	file := writeScenario(t, workersScenario)
	virt := t.TempDir()
	runFleetFor(t, "run", file, "--clock", "virtual", "--quiet", "--out", virt)
	want := readReport(t, virt)

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	wait := startFleetTo(t, ctx, io.Discard, "run", file, "--workers", "3", "--quiet", "--out", dir)
	code, out, errOut := wait()
	if code != 0 {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	r := readReport(t, dir)
	if r.Devices != 24 || len(r.Fleet) != 24 || r.Interrupted || r.Clock != "real" {
		t.Fatalf("%d devices, %d rows, interrupted %v, clock %s", r.Devices, len(r.Fleet), r.Interrupted, r.Clock)
	}
	faulted, failed := 0, 0
	for i, d := range r.Fleet {
		w := want.Fleet[i]
		if d.ID != w.ID || d.Board != w.Board || d.Wave != w.Wave || d.Faults != w.Faults || d.Outcome != w.Outcome {
			t.Errorf("device %d: workers %+v\nvirtual %+v", i, d, w)
		}
		if d.Faults != "" {
			faulted++
		}
		if d.Outcome == "install_failed" {
			failed++
			if len(d.Cuts) == 0 || d.Cuts[0].Phase != "install" {
				t.Errorf("device %s failed its install without its cut: %+v", d.ID, d.Cuts)
			}
		} else if d.Outcome != "updated" || d.Version != "2.0.0" || len(d.Timeline) == 0 {
			t.Errorf("device %+v", d)
		}
	}
	if faulted == 0 || failed != 3 {
		t.Errorf("%d devices with faults, %d failed installs (want 3): the check proves nothing", faulted, failed)
	}
	if len(r.ByWave) != 2 || r.ByWave[0].Devices+r.ByWave[1].Devices != 24 || !r.ByWave[1].Started {
		t.Errorf("waves %+v", r.ByWave)
	}
	last := r.Progress[len(r.Progress)-1]
	if countOf(last.Outcomes, "updated") != 21 || countOf(last.Outcomes, "install_failed") != 3 {
		t.Errorf("the parent's last progress %+v: the workers' devices were not mirrored", last.Outcomes)
	}
	if countOf(r.Messages, "sent Operate") != 24 {
		t.Errorf("messages %v", r.Messages)
	}
}

// A worker killed mid-run: the parent's controller goes on with the
// others, the killed worker's devices are in the report as lost (never
// left out), the exit status says a worker was lost, and the parent's
// one metrics endpoint showed the whole fleet while it ran. Over mutual
// TLS (fleet.tls, fleet.device_certs): the workers' devices have their
// certificates from the parent's CA, and the controller checks each.
func TestRunWorkers_KilledWorker(t *testing.T) {
	noLeaks(t)
	// The campaign opens only after an hour: the devices connect and wait.
	src := strings.Replace(strings.Replace(workersScenario, "start: 2s", "start: 1h", 1), "duration: 90s", "duration: 2h", 1)
	file := writeScenario(t, strings.Replace(src, "  mtp: websocket\n", "  mtp: websocket\n  tls: true\n  device_certs: true\n", 1))
	dir, metricsAddr := t.TempDir(), freeAddr(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	wait := startFleetTo(t, runCtx, io.Discard, "run", file, "--workers", "3", "--quiet", "--out", dir, "--metrics-addr", metricsAddr)
	pids := waitWorkers(t, 3, func() string { return scrape(metricsAddr) }, `brickyard_devices_by_conn{conn="connected"} 24`)
	victim := secondStarted(t, pids)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, victim)
	stop()
	code, out, errOut := wait()
	if code != 1 || !strings.Contains(errOut, "1 of 3 workers lost") || !strings.Contains(errOut, "killed by signal 9") {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	r := readReport(t, dir)
	if r.Devices != 24 || len(r.Fleet) != 24 || countOf(r.Outcomes, report.Lost) != 8 || countOf(r.Outcomes, "pending") != 16 || !r.Interrupted {
		t.Fatalf("devices %d, outcomes %v, interrupted %v", r.Devices, r.Outcomes, r.Interrupted)
	}
	for i, d := range r.Fleet {
		if lost := i >= 8 && i < 16; lost != (d.Outcome == report.Lost) {
			t.Errorf("device %d (%s): %s", i+1, d.ID, d.Outcome)
		}
	}
}

// A run's devices in workers need the real clock and no bench boards.
func TestRunWorkers_BadUse(t *testing.T) {
	file := writeScenario(t, workersScenario)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", file, "--workers", "2", "--clock", "virtual"}, "virtual-time run holds its fleet in one process"},
		{[]string{"run", file, "--workers", "25"}, "25 workers for 24 devices"},
		{[]string{"run", file, "--workers", "-1"}, "want 0 (as many as needed) to 1024"},
	} {
		_, errOut, code := runBrickyard(t, nil, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: code %d, %s; want %q", c.args, code, errOut, c.want)
		}
	}
}

// scrape is the body of a metrics endpoint, "" when it does not answer.
func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
