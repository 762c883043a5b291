package stomp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/mtptest"
	"brickyard/usp"
	"brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// TestMain stops the RabbitMQ that the RabbitMQ tests and benchmark share
// (mtptest starts one per test binary).
func TestMain(m *testing.M) {
	code := m.Run()
	mtptest.StopRabbitMQ()
	os.Exit(code)
}

const ctrlID = "proto::controller"

// config is a pair of configurations on addr with destinations of the
// test's own (RabbitMQ is shared by the whole binary).
func config(t testing.TB, addr string) Config {
	tag := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return Config{Addr: addr, Login: "guest", Passcode: "guest",
		AgentDest: "/queue/" + tag + "-agent-{eid}", ControllerID: ctrlID,
		ControllerDest: "/queue/" + tag + "-controller", Logf: t.Logf}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func embedded(t testing.TB) *EmbeddedBroker {
	t.Helper()
	b, err := NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func listen(t testing.TB, cfg Config) mtp.Listener {
	t.Helper()
	l, err := NewListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dial(t testing.TB, cfg Config, agentID string) mtp.Conn {
	t.Helper()
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mtptest.Dial(t, d, agentID)
}

func accept(t testing.TB, l mtp.Listener) mtp.Conn { return mtptest.Accept(t, l) }

// record is a Get request from one endpoint to another, tagged by msgID.
func record(t testing.TB, from, to, msgID string) []byte {
	t.Helper()
	b, err := usp.Codec{LocalID: from}.Seal(to, usp.NewRequest(msgID, &uspmsg.Get{ParamPaths: []string{"Device."}}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// open decodes a Record received by to and returns its sender and msg_id
// (or the record type for Records without a Msg).
func open(t testing.TB, to string, b []byte) (from, msgID string, rec *usprecord.Record) {
	t.Helper()
	in, err := usp.Codec{LocalID: to}.Open(b)
	if err != nil {
		t.Fatalf("open a Record for %s: %v", to, err)
	}
	return in.From(), in.Msg.GetHeader().GetMsgId(), in.Record
}

func recv(t testing.TB, c mtp.Conn) []byte {
	t.Helper()
	b, err := c.Recv(ctx(t))
	if err != nil {
		t.Fatalf("recv on %s: %v", c.Info().Local, err)
	}
	return b
}

func send(t testing.TB, c mtp.Conn, b []byte) {
	t.Helper()
	if err := c.Send(ctx(t), b); err != nil {
		t.Fatalf("send on %s: %v", c.Info().Local, err)
	}
}

// mustBreak waits for err to wrap mtp.ErrBroken.
func mustBreak(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, mtp.ErrBroken) {
		t.Fatalf("%s: got %v, want an error wrapping ErrBroken", what, err)
	}
}

// noLeaks fails the test when goroutines of this package (not the tests'
// own) or of go-stomp's server connections outlive it.
func noLeaks(t testing.TB) {
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := ourGoroutines()
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		_, creator, ok := strings.Cut(g, "\ncreated by ")
		if !ok {
			continue
		}
		if strings.HasPrefix(creator, "github.com/go-stomp/stomp/v3/server/client.NewConn") ||
			strings.HasPrefix(creator, "brickyard/mtp/stomp.") && !strings.HasPrefix(creator, "brickyard/mtp/stomp.Test") &&
				!strings.HasPrefix(creator, "brickyard/mtp/stomp.Benchmark") && !strings.Contains(creator, "_test.go") {
			out = append(out, g)
		}
	}
	return out
}

// logs collects Logf lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
