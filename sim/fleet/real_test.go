package fleet

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/boards/boardtest"
	"brickyard/mtp"
	"brickyard/mtp/inproc"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
)

// serveController runs a Campaign behind an mtp.Listener: one goroutine
// per session, the Campaign under a mutex. It returns a stop function that
// waits for every goroutine it started.
func serveController(l mtp.Listener, c *Campaign, mu *sync.Mutex, connects map[string]int) (stop func()) {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				id := conn.Info().Peer
				send := func(ss []Send) {
					for _, s := range ss {
						if s.To == id {
							conn.Send(ctx, s.Data)
						}
					}
				}
				mu.Lock()
				connects[id]++
				ss := c.Connected(id, time.Now())
				mu.Unlock()
				send(ss)
				for {
					rec, err := conn.Recv(ctx)
					if err != nil {
						mu.Lock()
						c.Disconnected(id, time.Now())
						mu.Unlock()
						return
					}
					mu.Lock()
					ss := c.Receive(id, rec, time.Now())
					mu.Unlock()
					send(ss)
				}
			}()
		}
	}()
	return func() {
		cancel()
		l.Close()
		wg.Wait()
	}
}

// 20 devices, one goroutine each, over mtp/inproc to a controller
// goroutine, images over HTTP with Basic auth off: every device updates
// (or rolls back, for the health-fail share), sessions broken by the
// network are reopened after the retry wait, and Run stops every
// goroutine it started.
func TestRealCampaign(t *testing.T) {
	const n = 20
	before := runtime.NumGoroutine()
	images := map[string][]byte{}
	mux := http.NewServeMux()
	for _, b := range []string{"uboot-nor", "mcuboot-nrf52"} {
		img := boardtest.Image(boardtest.Spec{Board: b, Version: "2.0.0", PayloadSize: 9000})
		images["/"+b+"/2.0.0.img"] = img
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		img, ok := images[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(img)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	net := inproc.NewNetwork(1, inproc.Faults{Delay: time.Millisecond, Jitter: time.Millisecond}, 0)
	l, err := net.Listen("proto::controller")
	if err != nil {
		t.Fatal(err)
	}
	var cfg RealConfig
	boardOf := map[string]string{}
	for i, b := range []string{"uboot-nor", "mcuboot-nrf52"} {
		f, s := factory(t, b)
		cfg.Schema = s
		cfg.Boards = append(cfg.Boards, BoardGroup{Name: b, Factory: f, Count: n / 2})
		for k := range n / 2 {
			boardOf[idOf(i*n/2+k+1)] = b
		}
	}
	camp := &Campaign{URL: func(id string) string { return srv.URL + "/" + boardOf[id] + "/2.0.0.img" }}
	connects := map[string]int{}
	var ctrlMu sync.Mutex
	connectsOf := func(id string) int { ctrlMu.Lock(); defer ctrlMu.Unlock(); return connects[id] }
	stopCtrl := serveController(l, camp, &ctrlMu, connects)
	defer stopCtrl()

	idx, _ := index.New()
	cfg.Seed, cfg.Dialer, cfg.Index = 5, net.Dialer("proto::controller"), idx
	cfg.ConnectRate, cfg.ConnectJitter = 200, 20*time.Millisecond
	cfg.Plan = faults.Plan{{Kind: faults.HealthFail, Share: 0.1}, {Kind: faults.DownloadSlow, Share: 0.2, Rate: 20000}}
	cfg.Device = func(_ int, c *device.Config) {
		c.RebootDuration, c.TrialPeriod = 200*time.Millisecond, 2*time.Second
	}
	var log strings.Builder
	var logMu sync.Mutex
	cfg.Log = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })
	r, err := NewReal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: timed out; outcomes %v", what, idx.Counts(index.ByOutcome))
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitFor("campaign", func() bool {
		return idx.Count(index.ByOutcome, Updated) == n-2 && idx.Count(index.ByOutcome, RolledBack) == 2 &&
			idx.Count(index.ByConn, ConnConnected) == n
	})
	// The network breaks three sessions: the devices reconnect after the
	// TR-369 retry wait (5–10 s).
	broken := []string{r.ID(0), r.ID(7), r.ID(15)}
	was := map[string]int{}
	for _, id := range broken {
		was[id] = connectsOf(id)
		net.Break(id)
	}
	waitFor("reconnect", func() bool {
		for _, id := range broken {
			if connectsOf(id) <= was[id] {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	stopCtrl()
	srv.Close()
	srv.Client().CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	for n := range r.Len() {
		v, _ := r.Device(n).Value("Device.DeviceInfo.SoftwareVersion", time.Now())
		want := "2.0.0"
		if r.Outcome(n) == RolledBack {
			want = "1.0.0"
		}
		if v != want {
			t.Errorf("%s: outcome %s running %s", r.ID(n), r.Outcome(n), v)
		}
	}
	// Every goroutine Run, the controller and the server started is gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left (before: %d):\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
	logMu.Lock()
	lines := strings.Count(log.String(), "\n")
	logMu.Unlock()
	t.Logf("outcomes %v; %d log lines; %d Boot!", idx.Counts(index.ByOutcome), lines, camp.Boots)
}

func idOf(k int) string { return fmt.Sprintf("os::00256D-SIM%06d", k) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// SwitchPower is a lab's power switch: off cuts the device and keeps it
// off past its reboot time, on brings it back.
// idleController serves a Campaign with no image to download over an
// in-process network until the test ends, and returns its dialer.
func idleController(t *testing.T) mtp.Dialer {
	t.Helper()
	net := inproc.NewNetwork(1, inproc.Faults{}, 0)
	l, err := net.Listen("proto::controller")
	if err != nil {
		t.Fatal(err)
	}
	var ctrlMu sync.Mutex
	t.Cleanup(serveController(l, &Campaign{URL: func(string) string { return "" }}, &ctrlMu, map[string]int{}))
	return net.Dialer("proto::controller")
}

func TestRealSwitchPower(t *testing.T) {
	dialer := idleController(t)
	f, s := factory(t, "uboot-nor")
	idx, _ := index.New()
	var log strings.Builder
	var logMu sync.Mutex
	cfg := RealConfig{Seed: 1, Schema: s, Boards: []BoardGroup{{Name: "uboot-nor", Factory: f, Count: 1}},
		Dialer: dialer, Index: idx,
		Device: func(_ int, c *device.Config) { c.RebootDuration = 50 * time.Millisecond },
		Log:    writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })}
	r, err := NewReal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	logged := func(s string) int { logMu.Lock(); defer logMu.Unlock(); return strings.Count(log.String(), s) }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: timed out\n%s", what, log.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitFor("connected", func() bool { return idx.Count(index.ByConn, ConnConnected) == 1 })
	if err := r.SwitchPower(0, false); err != nil {
		t.Fatal(err)
	}
	waitFor("switched off", func() bool { return logged("power-switch off") == 1 && logged("power-cut") == 1 })
	// Ten reboot times later it is still off: its reboot did not power it.
	deadline := time.Now().Add(500 * time.Millisecond) // ten reboot times
	waitFor("ten reboot times", func() bool { return time.Now().After(deadline) })
	if n := logged(" power-on"); n != 1 {
		t.Fatalf("%d power-ons while switched off:\n%s", n, log.String())
	}
	if err := r.SwitchPower(0, true); err != nil {
		t.Fatal(err)
	}
	waitFor("back", func() bool { return logged(" power-on") == 2 && idx.Count(index.ByConn, ConnConnected) == 1 })
	cancel()
	<-ran
	if err := r.SwitchPower(5, true); err == nil {
		t.Fatal("switched a device that does not exist")
	}
}
