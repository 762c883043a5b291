package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"brickyard/mtp"
)

func modes(t *testing.T, f func(t *testing.T, queue int)) {
	t.Run("direct", func(t *testing.T) { f(t, 0) })
	t.Run("queue", func(t *testing.T) { f(t, 4) })
}

// Records flow both ways, in order, including one far larger than the
// write buffer (session checks that websocket_connect came first, R-MTP.6).
func TestSession_BothWays(t *testing.T) {
	modes(t, func(t *testing.T, queue int) {
		checkLeaks(t)
		cfg := testConfig(t)
		cfg.SendQueue = queue
		l := listen(t, cfg)
		cfg.URL = l.URL()
		agent, ctrl := session(t, l, dialer(t, cfg), "proto::agent-1")

		if got := agent.Info(); got != (mtp.Info{Protocol: mtp.WebSocket, Local: "proto::agent-1", Peer: ctrlID}) {
			t.Errorf("agent info %+v", got)
		}
		if got := ctrl.Info(); got != (mtp.Info{Protocol: mtp.WebSocket, Local: ctrlID, Peer: "proto::agent-1"}) {
			t.Errorf("controller info %+v", got)
		}
		ctx := ctxT(t, 5*time.Second)
		big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB: 100 client frames
		recs := [][]byte{[]byte("r0"), big, []byte("r2")}
		for _, r := range recs {
			if err := agent.Send(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for i, want := range recs {
			got, err := ctrl.Recv(ctx)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("controller recv %d: %d bytes, %v", i, len(got), err)
			}
			if err := ctrl.Send(ctx, got); err != nil {
				t.Fatal(err)
			}
		}
		for i, want := range recs {
			if got, err := agent.Recv(ctx); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("agent recv %d: %d bytes, %v", i, len(got), err)
			}
		}
		if err := agent.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := agent.Recv(ctx); !errors.Is(err, mtp.ErrClosed) {
			t.Errorf("recv after close: %v", err)
		}
		if err := agent.Send(ctx, []byte("x")); !errors.Is(err, mtp.ErrClosed) {
			t.Errorf("send after close: %v", err)
		}
		_, err := ctrl.Recv(ctx)
		if !errors.Is(err, mtp.ErrBroken) || closeCode(err) != 1000 {
			t.Errorf("controller after the agent's close: %v", err)
		}
	})
}

// A Recv or Accept whose ctx ends returns ctx's error and loses nothing.
func TestRecvAndAccept_Ctx(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	cfg.URL = l.URL()
	agent, ctrl := session(t, l, dialer(t, cfg), "proto::a")
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := agent.Recv(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("recv: %v", err)
	}
	if _, err := l.Accept(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("accept: %v", err)
	}
	ctx := ctxT(t, 5*time.Second)
	_ = ctrl.Send(ctx, []byte("late"))
	if got, err := agent.Recv(ctx); err != nil || string(got) != "late" {
		t.Fatalf("%q %v", got, err)
	}
}

// Close may be called many times and concurrently with Send and Recv.
func TestClose_Concurrent(t *testing.T) {
	modes(t, func(t *testing.T, queue int) {
		checkLeaks(t)
		cfg := testConfig(t)
		cfg.SendQueue = queue
		l := listen(t, cfg)
		cfg.URL = l.URL()
		agent, ctrl := session(t, l, dialer(t, cfg), "proto::a")
		ctx := ctxT(t, 5*time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for agent.Send(ctx, []byte("spam")) == nil {
			}
		}()
		go func() {
			for {
				if _, err := ctrl.Recv(ctx); err != nil {
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- agent.Close() }()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		<-done
	})
}

// Source-address fan-out: each Dial takes the next source address.
func TestSources_FanOut(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	cfg.URL = l.URL()
	src, err := mtp.ParseSources("127.0.0.2-127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources = src
	d := dialer(t, cfg)
	for i, want := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.2"} {
		agent, ctrl := session(t, l, d, fmt.Sprintf("proto::a%d", i))
		if ip := ctrl.RemoteAddr().(*net.TCPAddr).IP.String(); ip != want {
			t.Errorf("dial %d: the controller sees %s, want %s", i, ip, want)
		}
		if ip := agent.LocalAddr().(*net.TCPAddr).IP.String(); ip != want {
			t.Errorf("dial %d: bound to %s, want %s", i, ip, want)
		}
	}
}
