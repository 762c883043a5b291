package stomp

import (
	"fmt"
	"testing"

	"brickyard/mtp"
	"brickyard/mtp/mtptest"
)

var _ mtp.Waiter = (*agentConn)(nil)

// An agent's STOMP session is an mtp.Waiter (mtptest.Waiter), through the
// embedded broker.
func TestWaiter(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfg := config(t, b.Addr())
	l := listen(t, cfg)
	a := dial(t, cfg, "proto::agent")
	ca := accept(t, l)
	recv(t, ca) // stomp_connect
	mtptest.Waiter(t, a, ca, func(n int) []byte { return record(t, "proto::agent", ctrlID, fmt.Sprint("record-", n)) })
}
