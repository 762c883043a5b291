package mtptest

import (
	"context"
	"testing"
	"time"

	"brickyard/mtp"
)

// Step is how long one step of a transport test (a dial, an accept, a
// receive) may take before the test fails.
const Step = 20 * time.Second

// Ctx is a context for one step of a test, cancelled when the test ends.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Step)
	t.Cleanup(cancel)
	return ctx
}

// Dial opens a session for agentID with d; the test's cleanup closes it.
func Dial(t testing.TB, d mtp.Dialer, agentID string) mtp.Conn {
	t.Helper()
	c, err := d.Dial(Ctx(t), agentID)
	if err != nil {
		t.Fatalf("dial %s: %v", agentID, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Accept takes the next session from l; the test's cleanup closes it.
func Accept(t testing.TB, l mtp.Listener) mtp.Conn {
	t.Helper()
	c, err := l.Accept(Ctx(t))
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
