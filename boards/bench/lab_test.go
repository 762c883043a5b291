package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"brickyard/boards/bench"
)

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The board's console on a raw TCP port: a client that connects sees the
// next boot's log, and none of the link's frames.
func TestConsoleServer(t *testing.T) {
	p := getProfile(t, "uboot-nor")
	r := newRig(t, p, rigOpts{})
	s := bench.ServeConsole(listen(t), r.host.Console())
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := r.host.Board()
	boot(t, b) // the attach's boot
	if _, err := c.Write([]byte("typed by a person\r\n")); err != nil {
		t.Fatal(err)
	}
	boot(t, b) // a reset: its log goes to the client
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got bytes.Buffer
	rd := bufio.NewReader(c)
	for !strings.Contains(got.String(), "board-emu: running 1.0.0 from A") {
		line, err := rd.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			t.Fatalf("console client: %v after %q", err, got.String())
		}
	}
	if !strings.Contains(got.String(), "U-Boot 2023.01") || bytes.Contains(got.Bytes(), []byte{0, 0xA5}) {
		t.Fatalf("console text: %q", got.String())
	}
	if err := r.host.Board().Chip.Read(0x100000, make([]byte, 64)); err != nil {
		t.Fatalf("the link after the client typed: %v", err)
	}
}

// pdudaemon runs Debian's pdudaemon with its HTTP listener on loopback
// and the given PDUs; it returns the listener's base URL.
func pdudaemon(t testing.TB, pdus map[string]any) string {
	t.Helper()
	bin, err := exec.LookPath("pdudaemon")
	if err != nil {
		t.Fatalf("pdudaemon (Debian package pdudaemon, installed by .ci/install-deps) is needed: %v", err)
	}
	l := listen(t)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf, _ := json.Marshal(map[string]any{
		"daemon": map[string]any{"hostname": "127.0.0.1", "port": port, "listener": "http", "logging_level": "DEBUG"},
		"pdus":   pdus,
	})
	path := filepath.Join(t.TempDir(), "pdudaemon.conf")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--conf", path, "--logfile", "-")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("pdudaemon:\n%s", out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case err := <-exited:
			t.Fatalf("pdudaemon exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pdudaemon does not listen on %s\n%s", addr, out.String())
		}
	}
}

func get(t testing.TB, url string) {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "OK") {
		t.Fatalf("GET %s: %s %q", url, resp.Status, body)
	}
}

// A lab's pdudaemon switches a bench board through brickyard's endpoint:
// with its esphome-http driver (a relay's web API), and with its
// localcmdline driver calling brickyard's pdudaemon-form URL with curl,
// as LAVA asks pdudaemon.
func TestPdudaemonSwitchesBenchBoard(t *testing.T) {
	p := getProfile(t, "single-nor")
	r := newRig(t, p, rigOpts{})
	outlet := func(_ context.Context, on bool) error { return r.power.Out(gpio.Level(on)) }
	l := listen(t)
	srv := &http.Server{Handler: bench.PDUHandler("brickyard", map[int]bench.Outlet{1: outlet})}
	go srv.Serve(l)
	defer srv.Close()
	ours := l.Addr().String()
	curl := "curl -fsS 'http://" + ours + "/power/control/%s?hostname=brickyard&port=1'"
	daemon := pdudaemon(t, map[string]any{
		ours:    map[string]any{"driver": "esphome-http", "switch_ids": []string{"outlet-1"}},
		"bench": map[string]any{"driver": "localcmdline", "cmd_on": strings.Replace(curl, "%s", "on", 1) + " # %s", "cmd_off": strings.Replace(curl, "%s", "off", 1) + " # %s"},
	})
	wait := func(on bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.emu.WaitPowered(ctx, on); err != nil {
			t.Fatalf("board powered %v: %v", on, err)
		}
	}
	wait(true)
	get(t, daemon+"/power/control/off?hostname="+ours+"&port=1")
	wait(false)
	get(t, daemon+"/power/control/on?hostname=bench&port=1")
	wait(true)
	get(t, daemon+"/power/control/off?hostname=bench&port=1")
	wait(false)
	get(t, "http://"+ours+"/power/control/reboot?hostname=brickyard&port=1&delay=0")
	wait(true)
}
