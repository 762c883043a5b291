package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"brickyard/boards"
	"brickyard/boards/bench"
	"brickyard/boards/image"
	"brickyard/flash"
	"brickyard/scenarios/agents"
)

// startBoardEmu builds brickyard and runs board-emu as a process of its
// own with args; it returns its UART's tcp:// address and its control
// endpoint. The process is interrupted at the end of the test.
func startBoardEmu(t *testing.T, args ...string) (port, power string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "brickyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"board-emu", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("board-emu exited: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("board-emu did not end on SIGINT")
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for port == "" || power == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("board-emu ended its output early")
			}
			if m := regexp.MustCompile(`serial port: (tcp://\S+)`).FindStringSubmatch(l); m != nil {
				port = m[1]
			}
			if m := regexp.MustCompile(`power: (http://[^/]+)/`).FindStringSubmatch(l); m != nil {
				power = m[1]
			}
		case <-timeout:
			t.Fatal("board-emu did not print its port and control endpoint")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return port, power
}

// brickyard board-emu as a process of its own, its UART on a TCP port
// and its power line on its HTTP control endpoint: brickyard attaches to
// it, updates it, cuts its power at an operation and brings it back
// through that endpoint, as with a board on a lab's serial server and
// PDU.
func TestBoardEmuProcess(t *testing.T) {
	port, power := startBoardEmu(t, "--board", "esp32-ota", "--baud", "0", "--off", "--seed", "7")
	set, err := loadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("esp32-ota")
	key := agents.SigningKey(7)
	h, err := bench.Open(context.Background(), bench.Config{Port: port, Baud: 921600, Profile: &p,
		Keys: image.NewKeyring(key.Public().(ed25519.PublicKey)), Power: bench.PDU{URL: power, Hostname: "emu", Port: 1},
		PowerHold: 10 * time.Millisecond, BootTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b := h.Board()
	v2, _ := image.ParseVersion("2.0.0")
	raw, err := image.Pack(key, image.Header{Version: v2, BoardID: "esp32-ota"}, make([]byte, 20000))
	if err != nil {
		t.Fatal(err)
	}
	upd := flash.NewBlob(raw, 0xFF)
	steps := []struct {
		want string
		do   func() (string, error)
	}{
		{"ota_0 1.0.0", func() (string, error) { return bootOf(b) }},
		{"", func() (string, error) { return "", b.Loader.Write(b, "ota_1", upd) }},
		{"", func() (string, error) { return "", b.Loader.Activate(b, "ota_1") }},
		{"ota_1 2.0.0 trial", func() (string, error) { return bootOf(b) }},
		{"", func() (string, error) { return "", b.Loader.Confirm(b) }},
		{"ota_1 2.0.0", func() (string, error) { return bootOf(b) }},
	}
	for i, s := range steps {
		if got, err := s.do(); err != nil || got != s.want {
			t.Fatalf("step %d: %q %v, want %q", i, got, err, s.want)
		}
	}
	if err := b.Chip.ArmCut(b.Chip.Ops()+3, flash.CutTorn, nil); err == nil {
		t.Fatal("a torn cut without a generator was armed")
	}
	if err := b.Chip.ArmCut(b.Chip.Ops()+3, flash.CutBefore, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Write(b, "ota_0", upd); !errors.Is(err, flash.ErrPowerLost) {
		t.Fatalf("write with a cut: %v", err)
	}
	b.PowerOn()
	if got, err := bootOf(b); err != nil || got != "ota_1 2.0.0" {
		t.Fatalf("boot after the cut: %q %v", got, err)
	}
}

func bootOf(b *boards.Board) (string, error) {
	r, err := b.Loader.Boot(b)
	if err != nil {
		return "", err
	}
	s := r.Slot + " " + r.Image.Version.String()
	if r.Trial {
		s += " trial"
	}
	return strings.TrimSpace(s), nil
}

const smallBoards = `boards:
  single-small:
    bootloader: single-bank
    flash: {size: 256KiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: app, offset: 0x10000, size: 64KiB}
`

// brickyard sweep --bench sweeps a board of the configuration's bench
// over its link, here board-emu in its own process, and counts what the
// sweep of the simulated board counts.
func TestSweepBench(t *testing.T) {
	boardsFile := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(boardsFile, []byte(smallBoards), 0o600); err != nil {
		t.Fatal(err)
	}
	port, power := startBoardEmu(t, "--boards", boardsFile, "--board", "single-small", "--baud", "0", "--seed", "3", "--payload-size", "4KiB")
	conf := writeFile(t, `bench:
  boards:
    - name: emu-1
      port: `+port+`
      profile: single-small
      pdu: `+power+`
      pdu_hostname: emu
      pdu_port: 1
      power_hold: 10ms
`)
	var got, want sweepCounts
	out, errOut, code := runBrickyard(t, nil, "--config", conf, "sweep", "--boards", boardsFile, "--bench", "emu-1", "--seed", "3", "--payload-size", "9000", "--format", "json")
	if code != 0 {
		t.Fatalf("sweep --bench: %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBrickyard(t, nil, "sweep", "--boards", boardsFile, "--board", "single-small", "--seed", "3", "--payload-size", "9000", "--format", "json")
	if code != 0 {
		t.Fatalf("sweep: %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || got.Cuts == 0 {
		t.Fatalf("over the link %+v, simulated %+v", got, want)
	}
}

// sweepCounts is what two sweeps with different signing keys share: the
// counts (brick points' reasons quote digests, which the key changes).
type sweepCounts struct {
	Ops, Cuts, Updated, Bricked int
	RolledBack                  int `json:"rolled_back"`
	Phases                      []struct {
		Name         string
		Ops, Updated int
		RolledBack   int `json:"rolled_back"`
		Bricked      int
	}
}
