package stomp

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	gframe "github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server"
	"github.com/go-stomp/stomp/v3/server/client"
	"github.com/go-stomp/stomp/v3/server/queue"
	"github.com/go-stomp/stomp/v3/server/topic"
)

// EmbeddedBroker is go-stomp's STOMP 1.2 server in this process, on a
// loopback address, for tests and single-machine runs. Its semantics are
// go-stomp's: destinations starting with "/queue" are queues (each message
// to one subscriber, kept while nobody subscribes), the rest are topics;
// no authentication; the heart-beats the clients ask for.
//
// It runs go-stomp's server/client connections under its own request
// loop, not server.Serve: Serve never returns, and its loop goroutine and
// client connections would outlive the listener. Close stops accepting,
// closes every client connection and waits until each has said goodbye to
// the loop, then ends the loop. (A go-stomp connection whose reader is
// blocked handing over a frame when its socket closes keeps one goroutine
// of go-stomp's; that is go-stomp's to fix.)
type EmbeddedBroker struct {
	ln   net.Listener
	reqs chan client.Request
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup // acceptLoop and loop

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	accepted int // client connections started, for the final drain
	stopped  bool
	gone     int           // connections the loop has seen say goodbye
	left     chan struct{} // closed and replaced at each goodbye
}

// NewEmbeddedBroker listens on addr, which must be a loopback address
// ("127.0.0.1:0" picks a port), and serves until Close.
func NewEmbeddedBroker(addr string) (*EmbeddedBroker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("stomp: broker address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("stomp: embedded broker address %q is not loopback", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stomp: embedded broker: %w", err)
	}
	return serveBroker(ln), nil
}

// serveBroker serves on ln (a test may pass a TLS listener).
func serveBroker(ln net.Listener) *EmbeddedBroker {
	b := &EmbeddedBroker{ln: ln, reqs: make(chan client.Request, 128), quit: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, left: make(chan struct{})}
	b.wg.Add(2)
	go b.acceptLoop()
	go b.loop()
	return b
}

// Addr is the address the broker listens on.
func (b *EmbeddedBroker) Addr() string { return b.ln.Addr().String() }

// departed is how many client connections have ended, with their
// subscriptions gone from the destinations, and a channel closed at the
// next. A connection's subscriptions outlive its socket until go-stomp
// has cleaned it up: a queue message sent before then may go to the
// dead subscription and be lost (auto acknowledgement), as on any broker.
func (b *EmbeddedBroker) departed() (int, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gone, b.left
}

// Close stops the broker and waits for its goroutines. Clients see their
// connection drop.
func (b *EmbeddedBroker) Close() error {
	b.once.Do(func() {
		close(b.quit)
		_ = b.ln.Close()
	})
	b.wg.Wait()
	return nil
}

func (b *EmbeddedBroker) acceptLoop() {
	defer b.wg.Done()
	cfg := brokerConfig{}
	backoff := time.Duration(0)
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, say: wait and try again, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-b.quit:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		b.mu.Lock()
		if b.stopped {
			b.mu.Unlock()
			_ = nc.Close()
			continue
		}
		b.conns[nc] = struct{}{}
		b.accepted++
		b.mu.Unlock()
		client.NewConn(cfg, trackedConn{nc, b}, b.reqs)
	}
}

// loop is go-stomp's request processor (server/processor.go) with an end:
// after quit it only counts DisconnectedOp until every connection is gone.
func (b *EmbeddedBroker) loop() {
	defer b.wg.Done()
	qm := queue.NewManager(queue.NewMemoryQueueStorage())
	tm := topic.NewManager()
	gone := 0
	for {
		select {
		case r := <-b.reqs:
			if r.Op == client.DisconnectedOp {
				gone++
				b.mu.Lock()
				b.gone = gone
				close(b.left)
				b.left = make(chan struct{})
				b.mu.Unlock()
				continue
			}
			process(qm, tm, r)
		case <-b.quit:
			b.mu.Lock()
			b.stopped = true
			for nc := range b.conns {
				_ = nc.Close()
			}
			b.mu.Unlock()
			giveUp := time.After(5 * time.Second) // a go-stomp connection that never says goodbye
			for {
				b.mu.Lock()
				all := gone >= b.accepted
				b.mu.Unlock()
				if all {
					return
				}
				select {
				case r := <-b.reqs:
					if r.Op == client.DisconnectedOp {
						gone++
					}
				case <-giveUp:
					return
				}
			}
		}
	}
}

func process(qm *queue.Manager, tm *topic.Manager, r client.Request) {
	isQueue := func(dest string) bool { return strings.HasPrefix(dest, server.QueuePrefix) }
	switch r.Op {
	case client.SubscribeOp:
		if isQueue(r.Sub.Destination()) {
			_ = qm.Find(r.Sub.Destination()).Subscribe(r.Sub)
		} else {
			tm.Find(r.Sub.Destination()).Subscribe(r.Sub)
		}
	case client.UnsubscribeOp:
		if isQueue(r.Sub.Destination()) {
			qm.Find(r.Sub.Destination()).Unsubscribe(r.Sub)
		} else {
			tm.Find(r.Sub.Destination()).Unsubscribe(r.Sub)
		}
	case client.EnqueueOp, client.RequeueOp:
		dest, ok := r.Frame.Header.Contains(gframe.Destination)
		if !ok {
			return // go-stomp panics here; its client code checks first
		}
		switch {
		case isQueue(dest) && r.Op == client.EnqueueOp:
			_ = qm.Find(dest).Enqueue(r.Frame)
		case isQueue(dest):
			_ = qm.Find(dest).Requeue(r.Frame)
		case r.Op == client.EnqueueOp:
			tm.Find(dest).Enqueue(r.Frame)
		}
	}
}

// trackedConn forgets itself in the broker's set when go-stomp closes it.
type trackedConn struct {
	net.Conn
	b *EmbeddedBroker
}

func (c trackedConn) Close() error {
	c.b.mu.Lock()
	delete(c.b.conns, c.Conn)
	c.b.mu.Unlock()
	return c.Conn.Close()
}

// brokerConfig is go-stomp's client.Config: anyone may connect, the
// clients' heart-beats are taken as asked (no minimum), nothing is logged.
type brokerConfig struct{}

func (brokerConfig) Authenticate(login, passcode string) bool { return true }
func (brokerConfig) HeartBeat() time.Duration                 { return 0 }
func (brokerConfig) Logger() gostomp.Logger                   { return quietLogger{} }

type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Debug(string)                    {}
func (quietLogger) Info(string)                     {}
func (quietLogger) Warning(string)                  {}
func (quietLogger) Error(string)                    {}
