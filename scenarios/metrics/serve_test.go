package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"brickyard/sim/index"
)

func TestServe(t *testing.T) {
	before := runtime.NumGoroutine()
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	putFleet(t, idx,
		index.Device{ID: "a", Board: "rpi4", Version: "2.0", Outcome: "updated", Conn: "connected", Boots: 2},
		index.Device{ID: "b", Board: "rpi4", Version: "1.0", Outcome: "rolled_back", Conn: "connected", Boots: 3},
	)
	m := New(WithRecountInterval(time.Millisecond))
	m.Message(Sent, "Operate")
	m.Message(Received, "OperateResp")
	m.Latency(40 * time.Millisecond)
	m.Error(7004)
	m.Campaign(1, 2, 2, 2)

	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	followed, served := make(chan error, 1), make(chan error, 1)
	go func() { followed <- m.Follow(ctx, idx) }()
	go func() { served <- ServeListener(ctx, ln, m.Handler()) }()

	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	want := []string{
		`# TYPE brickyard_devices_by_outcome gauge`,
		`brickyard_devices_by_outcome{outcome="updated"} 1`,
		`brickyard_devices_by_outcome{outcome="rolled_back"} 1`,
		`brickyard_devices_by_outcome{outcome="bricked"} 0`,
		`brickyard_devices{board="rpi4"} 2`,
		`brickyard_devices_by_version{version="1.0"} 1`,
		`brickyard_device_boots_total 5`,
		`brickyard_usp_messages_total{direction="sent",role="agent",type="Operate"} 1`,
		`brickyard_usp_messages_total{direction="received",role="agent",type="OperateResp"} 1`,
		`brickyard_usp_errors_total{code="7004",role="agent"} 1`,
		`brickyard_usp_request_duration_seconds_bucket{role="agent",le="0.05"} 1`,
		`brickyard_usp_request_duration_seconds_count{role="agent"} 1`,
		`brickyard_campaign_devices{state="done",wave="1"} 2`,
		`brickyard_campaign_aborted 0`,
		`brickyard_reconnects_total 0`,
		`# TYPE go_goroutines gauge`,
	}
	eventually(t, "scrape", func() error {
		code, body, err := get("/metrics")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				return fmt.Errorf("no %q in the scrape", w)
			}
		}
		return nil
	})
	if code, body, err := get("/"); err != nil || code != http.StatusOK || !strings.Contains(body, "/metrics") {
		t.Errorf("GET /: %d %q %v", code, body, err)
	}
	if code, _, err := get("/nothing"); err != nil || code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d %v", code, err)
	}

	cancel()
	for name, ch := range map[string]chan error{"ServeListener": served, "Follow": followed} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not return after cancel", name)
		}
	}
	if _, _, err := get("/metrics"); err == nil {
		t.Error("still serving after ServeListener returned")
	}
	tr.CloseIdleConnections()
	noLeak(t, before)
}

// Serve with an address taken fails at once with the listen error.
func TestServeListenError(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Serve(context.Background(), ln.Addr().String(), http.NotFoundHandler()); err == nil {
		t.Fatal("Serve on a taken address returned nil")
	}
}

// Serve on a context that already ended returns nil and leaves nothing.
func TestServeCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Serve(ctx, "127.0.0.1:0", http.NotFoundHandler()); err != nil {
		t.Fatal(err)
	}
	noLeak(t, before)
}
