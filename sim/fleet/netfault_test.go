package fleet

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp/inproc"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
)

// The fault plan's network windows apply in real time too: devices in a
// partition cannot open their session until it ends, then connect; a
// net-drop window of probability 1 loses every Record, logged as net-drop;
// a net-delay window loses nothing; devices outside the windows are
// untouched.
func TestRealNetworkWindows(t *testing.T) {
	const n = 8
	net := inproc.NewNetwork(1, inproc.Faults{}, 0)
	l, err := net.Listen("proto::controller")
	if err != nil {
		t.Fatal(err)
	}
	f, s := factory(t, "uboot-nor")
	camp := &Campaign{}
	connects := map[string]int{}
	var ctrlMu sync.Mutex
	stopCtrl := serveController(l, camp, &ctrlMu, connects)
	defer stopCtrl()
	idx, _ := index.New()
	cfg := RealConfig{Seed: 3, Schema: s, Boards: []BoardGroup{{Name: "uboot-nor", Factory: f, Count: n}},
		Dialer: net.Dialer("proto::controller"), Index: idx,
		Plan: faults.Plan{
			{Kind: faults.NetPartition, Devices: []string{idOf(1), idOf(2)}, Duration: 1500 * time.Millisecond},
			{Kind: faults.NetDrop, Devices: []string{idOf(3)}, Drop: 1, After: 0, Duration: time.Hour},
			{Kind: faults.NetDelay, Devices: []string{idOf(4)}, Delay: 100 * time.Millisecond, Duration: time.Hour},
		},
		Device: func(_ int, c *device.Config) { c.RetryMinimumWait = time.Second },
	}
	var log strings.Builder
	var logMu sync.Mutex
	cfg.Log = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })
	r, err := NewReal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	for idx.Count(index.ByConn, ConnConnected) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("not all connected: %v", idx.Counts(index.ByConn))
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(400 * time.Millisecond) // the controller's subscriptions go out and (but for SIM3) come back
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	stopCtrl()
	logMu.Lock()
	text := log.String()
	logMu.Unlock()
	for k := 1; k <= n; k++ {
		id := idOf(k)
		fails := strings.Count(text, id+" link-fail partition")
		drops := strings.Count(text, id+" net-drop")
		switch k {
		case 1, 2:
			if fails == 0 || drops != 0 {
				t.Errorf("%s: %d partition failures, %d drops; want some, none", id, fails, drops)
			}
		case 3:
			if fails != 0 || drops == 0 {
				t.Errorf("%s: %d partition failures, %d drops; want none, some", id, fails, drops)
			}
		default:
			if fails != 0 || drops != 0 {
				t.Errorf("%s: %d partition failures, %d drops; want none", id, fails, drops)
			}
		}
	}
}
