package websocket

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"brickyard/mtp"
)

// TestDialTarget: an agent aimed at another port and path (its
// Controller.{i}.MTP.{i}.WebSocket values) opens its session there.
func TestDialTarget(t *testing.T) {
	checkLeaks(t)
	a := listen(t, testConfig(t))
	bc := testConfig(t)
	bc.URL = "ws://127.0.0.1:0/moved/usp"
	b := listen(t, bc)
	cfg := testConfig(t)
	cfg.URL = a.URL()
	d := dialer(t, cfg)
	_, port, _ := net.SplitHostPort(b.Addr().String())
	pn, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	accepted := make(chan mtp.Conn, 1)
	go func() {
		c, err := b.Accept(ctx)
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := d.DialTarget(ctx, "os::00256D-WSMOVED", mtp.Target{Host: "127.0.0.1", Port: pn, Path: "moved/usp"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, ok := <-accepted
	if !ok || cc.Info().Peer != "os::00256D-WSMOVED" {
		t.Fatalf("the moved listener did not get the agent")
	}
	cc.Close()
}
