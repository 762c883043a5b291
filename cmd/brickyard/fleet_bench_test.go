package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"brickyard/boards/bench/emu"
)

// A bench board of the configuration joins brickyard fleet next to its
// simulated devices: board-emu on a pseudo-terminal, its power behind
// its HTTP control endpoint, listed in bench.boards; the controller under
// test sees it as one more agent, and the report has it as bench/NAME.
func TestFleet_BenchBoard(t *testing.T) {
	set, err := loadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("uboot-nor")
	board, err := emuBoard(p, boardEmuFlags{seed: 1, version: "1.0.0", payload: "16KiB"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := emu.New(emu.Config{Board: board, Baud: 921600})
	if err != nil {
		t.Fatal(err)
	}
	pty, err := emu.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	ectx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ectx, pty.Master) }()
	defer func() { stop(); <-served }()
	ctrl := httptest.NewServer(emu.ControlHandler(e))
	defer ctrl.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, tc := startTestController(t, ctx, cancel)
	conf := writeFile(t, `bench:
  boards:
    - name: emu-1
      port: `+pty.SlavePath+`
      baud: 921600
      profile: uboot-nor
      pdu: `+ctrl.URL+`
      pdu_hostname: emu
      pdu_port: 1
      power_hold: 20ms
`)
	dir := t.TempDir()
	runFleetFor(t, "--config", conf, "fleet", "--ws-url", l.URL(), "--controller-id", testCtrl,
		"--devices", "2", "--duration", "6s", "--out", dir)
	r := readReport(t, dir)
	if r.Devices != 3 {
		t.Fatalf("%d devices", r.Devices)
	}
	var benchDev string
	for _, d := range r.Fleet {
		if d.Board == "bench/emu-1" {
			benchDev = d.ID
			if d.Version != "1.0.0" || d.Boots != 1 || d.Offline != "" {
				t.Fatalf("bench device %+v", d)
			}
		}
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if benchDev == "" || tc.versions[benchDev] != "1.0.0" {
		t.Fatalf("the controller did not hear the bench board (%q): %v", benchDev, tc.versions)
	}
}
