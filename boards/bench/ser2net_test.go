package bench_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"brickyard/boards/bench"
)

// ser2net runs Debian's ser2net in front of the rig's pseudo-terminal,
// serving it as a raw TCP port on loopback, and returns tcp://host:port.
// ser2net opens the slave when a client connects and sets its line (baud,
// 8N1, raw, CLOCAL).
func ser2net(t testing.TB, slave string, baud int) string {
	t.Helper()
	bin, err := exec.LookPath("ser2net")
	if err != nil {
		t.Fatalf("ser2net (Debian package ser2net, installed by .ci/install-deps) is needed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-n", "-u", "-P", t.TempDir()+"/ser2net.pid",
		"-Y", "connection: &bench",
		"-Y", fmt.Sprintf("  accepter: tcp,%s,%s", host, port),
		"-Y", fmt.Sprintf("  connector: serialdev,%s,%dn81,local", slave, baud),
		"-Y", "  options:",
		"-Y", "    kickolduser: true",
		"-Y", "    chardelay: false")
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
	})
	// ser2net says nothing when it is ready: it is when it accepts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("ser2net exited: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ser2net does not accept on %s: %v\n%s", addr, err, out.String())
		}
	}
	return "tcp://" + addr
}

// The link through ser2net: brickyard on ser2net's raw TCP port, ser2net
// on the pseudo-terminal, board-emu behind it. An update ends as the
// simulated one does.
func TestOverSer2net(t *testing.T) {
	p := getProfile(t, "mcuboot-nrf52")
	r := newRig(t, p, rigOpts{noPower: true, baud: 921600, noHost: true})
	addr := ser2net(t, r.pty.SlavePath, 921600)
	h, err := bench.Open(context.Background(), bench.Config{Port: addr, Baud: 921600, Profile: &p, Keys: keyring()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b := h.Board()
	sim := factory(t, p).Clone()
	upd := img(t, p, "2.0.0", 30000)
	x := boot(t, b)
	if x.Slot != "primary" || x.Image.Version.String() != "1.0.0" {
		t.Fatalf("boot: %s", bootString(x))
	}
	if err := b.Loader.Write(b, "secondary", upd); err != nil {
		t.Fatal(err)
	}
	if err := sim.Loader.Write(sim, "secondary", upd); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, "secondary"); err != nil {
		t.Fatal(err)
	}
	if err := sim.Loader.Activate(sim, "secondary"); err != nil {
		t.Fatal(err)
	}
	if x, y := boot(t, b), boot(t, sim); bootString(x) != bootString(y) || !x.Trial {
		t.Fatalf("trial boot through ser2net: %s, simulated %s", bootString(x), bootString(y))
	}
}
