package websocket

import (
	"errors"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// R-WS.4 / TP-469 7.2, default policy: the new session replaces the old.
func TestDuplicateEID_ReplaceOld(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	cfg.URL = l.URL()
	d := dialer(t, cfg)
	old, oldCtrl := session(t, l, d, "proto::twin")
	ctx := ctxT(t, 5*time.Second)
	_ = old.Send(ctx, []byte("never read")) // the old reader waits on Recv
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	agent, ctrl := session(t, l, d, "proto::twin")
	if el := time.Since(start); el > 2500*time.Millisecond { // not held up by the old session's unread Record
		t.Errorf("replacing took %v", el)
	}
	if _, err := oldCtrl.Recv(ctx); !errors.Is(err, mtp.ErrBroken) || !errors.Is(err, errReplaced) { // the unread Record is dropped
		t.Errorf("old session, controller side: %v", err)
	}
	if _, err := old.Recv(ctx); !errors.Is(err, mtp.ErrBroken) || closeCode(err) != gws.CloseNormalClosure {
		t.Errorf("old session, agent side: %v", err)
	}
	_ = agent.Send(ctx, []byte("still here"))
	if got, err := ctrl.Recv(ctx); err != nil || string(got) != "still here" {
		t.Errorf("new session: %q %v", got, err)
	}
	if l.current("proto::twin") != ctrl {
		t.Error("the new session is not the current one")
	}
}

// The other policy TP-469 7.2 allows: the newcomer is refused with 409.
func TestDuplicateEID_RefuseNew(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	cfg.Duplicate = RefuseNew
	l := listen(t, cfg)
	cfg.URL = l.URL()
	d := dialer(t, cfg)
	agent, ctrl := session(t, l, d, "proto::twin")
	ctx := ctxT(t, 5*time.Second)
	if _, err := d.Dial(ctx, "proto::twin"); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "409") {
		t.Errorf("second dial: %v", err)
	}
	_ = agent.Send(ctx, []byte("first stays"))
	if got, err := ctrl.Recv(ctx); err != nil || string(got) != "first stays" {
		t.Errorf("%q %v", got, err)
	}
	_ = agent.Close()
	if _, err := ctrl.Recv(ctx); !errors.Is(err, mtp.ErrBroken) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.current("proto::twin") != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	a2, _ := session(t, l, d, "proto::twin") // the ID is free again
	_ = a2.Close()
}
