package workers

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary is its own worker: with the helper argument it
// attaches to its channel and acts as the argument says.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && len(os.Args[1]) > 7 && os.Args[1][:7] == "helper-" {
		helper(os.Args[1][7:])
		return
	}
	os.Exit(m.Run())
}

func helper(what string) {
	c, err := Attach()
	if err != nil {
		os.Exit(9)
	}
	switch what {
	case "echo": // say hello, echo every message back until stop
		_ = c.SendBody(KindHello, Hello{PID: os.Getpid()})
		for {
			m, err := c.Recv()
			if err != nil || m.T == KindStop {
				_ = c.SendBody(KindDone, Done{Report: "none"})
				os.Exit(0)
			}
			_ = c.Send(m)
		}
	case "exit3":
		os.Exit(3)
	case "hang": // until the parent kills it
		_ = c.SendBody(KindHello, Hello{PID: os.Getpid()})
		select {}
	}
}

func startPool(t *testing.T, what string, n int) (*Pool, *sync.Mutex, map[int][]Message, map[int]error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got, exits := map[int][]Message{}, map[int]error{}
	p, err := Start(Spec{Path: exe, Args: []string{"helper-" + what},
		Handle: func(k int, m Message) { mu.Lock(); got[k] = append(got[k], m); mu.Unlock() },
		Exit:   func(k int, err error) { mu.Lock(); exits[k] = err; mu.Unlock() }}, n)
	if err != nil {
		t.Fatal(err)
	}
	return p, &mu, got, exits
}

func waitFor(t *testing.T, mu *sync.Mutex, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		ok := cond()
		mu.Unlock()
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("timed out")
}

func TestPool_MessagesAndStop(t *testing.T) {
	p, mu, got, exits := startPool(t, "echo", 3)
	waitFor(t, mu, func() bool { return len(got[1]) > 0 && len(got[2]) > 0 && len(got[3]) > 0 })
	if err := p.Worker(2).Send(Message{T: "ping"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, mu, func() bool { return len(got[2]) == 2 })
	p.Broadcast(Message{T: KindStop})
	p.Wait()
	for k := 1; k <= 3; k++ {
		if exits[k] != nil || got[k][len(got[k])-1].T != KindDone {
			t.Errorf("worker %d: exit %v, messages %+v", k, exits[k], got[k])
		}
	}
	if got[2][1].T != "ping" {
		t.Errorf("worker 2 echoed %+v", got[2])
	}
}

func TestPool_ExitStatusAndKill(t *testing.T) {
	p, _, _, exits := startPool(t, "exit3", 1)
	p.Wait()
	var ee *ExitError
	if !errors.As(exits[1], &ee) || ee.Status != 3 || ee.Error() != "exit status 3" {
		t.Fatalf("exit %v", exits[1])
	}
	p, mu, got, exits := startPool(t, "hang", 2)
	waitFor(t, mu, func() bool { return len(got[1]) > 0 && len(got[2]) > 0 })
	if err := syscall.Kill(p.Worker(1).PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Worker(1).Exited()
	p.Kill()
	p.Wait()
	if !errors.As(exits[1], &ee) || ee.Signal != syscall.SIGKILL || ee.Error() != "killed by signal 9 (killed)" {
		t.Fatalf("exit %v", exits[1])
	}
	if err := p.Worker(1).Send(Message{T: "x"}); err == nil {
		t.Fatal("a send to a dead worker succeeded")
	}
}
