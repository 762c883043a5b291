package inproc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"brickyard/mtp"
)

func session(t *testing.T, n *Network) (agent, ctrl mtp.Conn, l mtp.Listener) {
	t.Helper()
	l, err := n.Listen("ctrl")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan mtp.Conn, 1)
	go func() {
		c, err := l.Accept(context.Background())
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	agent, err = n.Dialer("ctrl").Dial(context.Background(), "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	return agent, <-accepted, l
}

func TestSession_BothWaysInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(1, Faults{Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond}, 0)
		agent, ctrl, l := session(t, n)
		if agent.Info().Peer != "ctrl" || ctrl.Info().Peer != "agent-1" || ctrl.Info().Protocol != mtp.InProcess {
			t.Fatalf("info %+v / %+v", agent.Info(), ctrl.Info())
		}
		start := time.Now()
		for i := range 20 {
			if err := agent.Send(t.Context(), fmt.Appendf(nil, "r%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 20 {
			got, err := ctrl.Recv(t.Context())
			if err != nil || string(got) != fmt.Sprintf("r%d", i) {
				t.Fatalf("recv %d: %q %v", i, got, err)
			}
		}
		if el := time.Since(start); el < 10*time.Millisecond {
			t.Fatalf("delivered after %v, before the delay", el)
		}
		_ = ctrl.Send(t.Context(), []byte("back"))
		if got, err := agent.Recv(t.Context()); err != nil || string(got) != "back" {
			t.Fatalf("reply %q %v", got, err)
		}
		_ = agent.Close()
		_ = l.Close()
	})
}

func TestFaults_DropAndPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(1, Faults{Drop: 1}, 0)
		agent, ctrl, l := session(t, n)
		_ = agent.Send(t.Context(), []byte("lost"))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		if _, err := ctrl.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dropped record arrived: %v", err)
		}
		cancel()
		_ = l.Close()

		n = NewNetwork(1, Faults{}, 0)
		agent, ctrl, l = session(t, n)
		n.Partition("agent-1", true)
		_ = agent.Send(t.Context(), []byte("cut off"))
		n.Partition("agent-1", false)
		_ = agent.Send(t.Context(), []byte("through"))
		if got, err := ctrl.Recv(t.Context()); err != nil || string(got) != "through" {
			t.Fatalf("after the partition: %q %v", got, err)
		}
		_ = l.Close()
	})
}

func TestBreakAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(1, Faults{}, 0)
		agent, ctrl, l := session(t, n)
		n.Break("agent-1")
		if _, err := agent.Recv(t.Context()); !errors.Is(err, mtp.ErrBroken) {
			t.Fatalf("agent after break: %v", err)
		}
		if err := ctrl.Send(t.Context(), []byte("x")); !errors.Is(err, mtp.ErrBroken) {
			t.Fatalf("controller after break: %v", err)
		}

		agent, ctrl, _ = func() (mtp.Conn, mtp.Conn, mtp.Listener) {
			accepted := make(chan mtp.Conn, 1)
			go func() { c, _ := l.Accept(context.Background()); accepted <- c }()
			a, err := n.Dialer("ctrl").Dial(t.Context(), "agent-2")
			if err != nil {
				t.Fatal(err)
			}
			return a, <-accepted, l
		}()
		_ = agent.Close()
		_ = agent.Close() // idempotent
		if _, err := agent.Recv(t.Context()); !errors.Is(err, mtp.ErrClosed) {
			t.Fatalf("recv after close: %v", err)
		}
		if _, err := ctrl.Recv(t.Context()); !errors.Is(err, mtp.ErrBroken) {
			t.Fatalf("peer of a closed conn: %v", err)
		}
		_ = l.Close()
		if _, err := l.Accept(t.Context()); !errors.Is(err, mtp.ErrClosed) {
			t.Fatalf("accept after close: %v", err)
		}
		if _, err := n.Dialer("ctrl").Dial(t.Context(), "agent-3"); !errors.Is(err, mtp.ErrBroken) {
			t.Fatalf("dial a closed controller: %v", err)
		}
		if _, err := n.Listen("ctrl"); err != nil {
			t.Fatalf("listen again after close: %v", err)
		}
	})
}

// Break while the controller accepts new sessions: the listener's table
// of sessions is read under its own lock (the race detector once caught
// Break reading it under the network's). Closed sessions leave the table.
func TestBreakWhileAccepting(t *testing.T) {
	n := NewNetwork(1, Faults{}, 0)
	l, err := n.Listen("proto::c")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const agents = 50
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range agents {
			c, err := l.Accept(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			_ = c.Close()
		}
	}()
	go func() {
		defer wg.Done()
		for i := range agents {
			n.Break("proto::a" + strconv.Itoa(i/2))
		}
	}()
	d := n.Dialer("proto::c")
	for i := range agents {
		c, err := d.Dial(ctx, "proto::a"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	wg.Wait()
	ll := l.(*listener)
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if len(ll.conns) != 0 {
		t.Fatalf("%d closed sessions still in the listener's table", len(ll.conns))
	}
}
