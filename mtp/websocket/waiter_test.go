package websocket

import (
	"fmt"
	"testing"

	"brickyard/mtp/mtptest"
)

// An agent's WebSocket session is an mtp.Waiter (mtptest.Waiter), in both
// write modes.
func TestWaiter(t *testing.T) {
	modes(t, func(t *testing.T, queue int) {
		checkLeaks(t)
		cfg := testConfig(t)
		cfg.SendQueue = queue
		l := listen(t, cfg)
		cfg.URL = l.URL()
		agent, ctrl := session(t, l, dialer(t, cfg), "proto::agent-1")
		mtptest.Waiter(t, agent, ctrl, func(n int) []byte { return []byte(fmt.Sprintf("record %d", n)) })
	})
}
