package mqtt

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// EmbeddedBroker is a mochi-mqtt broker (MQTT 5, 3.1.1) in this process,
// for tests and for runs that need no external broker. It listens on
// loopback only, lets every client connect and publish anywhere, and
// discards its log.
//
// The caller owns it: Start starts mochi's goroutines (an accept loop, an
// event loop, two per client) and Stop ends them. Start after Stop starts
// a fresh broker (no sessions survive) on the address the first Start
// bound: a broker restart, as reconnect tests need.
//
// mochi v2.7.9 has three concurrency bugs that many agents and one
// controller hit; the broker works around two and documents the third:
//
//   - Inflight.NextImmediate read-locks twice, so a client with QoS 1
//     deliveries in flight deadlocks the broker when other clients publish
//     to it meanwhile. The broker therefore grants every subscription QoS 0:
//     publishes are still acknowledged at QoS 1, deliveries are at most
//     once, and in this process on loopback one is lost only when a
//     client's outbound queue (8192 packets) overflows.
//   - Server.Close finds clients with Clients.GetByListener, which also
//     read-locks twice and hangs when a client disconnects meanwhile; Stop
//     disconnects the clients itself.
//   - Session takeover races: a client that connects with the client ID of
//     a connected one can be left without deliveries (the old connection's
//     cleanup deletes the new client). Close an agent's Conn before dialing
//     it again; Debian's mosquitto has no such race.
type EmbeddedBroker struct {
	// TLS, when set before Start, makes the listener a TLS one.
	TLS *tls.Config

	hooks []mochi.Hook // extra hooks, for tests

	mu   sync.Mutex
	addr string // requested, then bound
	srv  *mochi.Server
}

// NewEmbeddedBroker returns a stopped broker for addr, a loopback
// host:port ("127.0.0.1:0" picks a free port at the first Start).
func NewEmbeddedBroker(addr string) (*EmbeddedBroker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: embedded broker address: %w", err)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("mqtt: embedded broker address %q: loopback only", addr)
	}
	return &EmbeddedBroker{addr: addr}, nil
}

// Start listens and serves; it fails when the broker is running.
func (b *EmbeddedBroker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return fmt.Errorf("mqtt: embedded broker on %s is already running", b.addr)
	}
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: false})
	for _, h := range append([]mochi.Hook{new(allowAll), new(deliverQoS0)}, b.hooks...) {
		if err := srv.AddHook(h, nil); err != nil {
			return fmt.Errorf("mqtt: embedded broker hook %s: %w", h.ID(), err)
		}
	}
	ln := &tcpListener{TCP: listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "tcp", Address: b.addr, TLSConfig: b.TLS}), srv: srv}
	if err := srv.AddListener(ln); err != nil {
		return fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	b.addr, b.srv = ln.Address(), srv
	return nil
}

// Stop disconnects every client and stops the broker's goroutines; a
// stopped broker's Stop does nothing.
func (b *EmbeddedBroker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

// Addr is the broker's host:port (the bound one once started).
func (b *EmbeddedBroker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL is the Config.Broker value that reaches the broker.
func (b *EmbeddedBroker) URL() string {
	if b.TLS != nil {
		return "tls://" + b.Addr()
	}
	return "tcp://" + b.Addr()
}

// allowAll lets every client connect, publish and subscribe. (mochi's own
// auth.AllowHook is the same, but its package needs a module go.mod lacks.)
type allowAll struct{ mochi.HookBase }

func (*allowAll) ID() string { return "allow-all" }

func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (*allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// deliverQoS0 grants every subscription QoS 0 (see EmbeddedBroker).
type deliverQoS0 struct{ mochi.HookBase }

func (*deliverQoS0) ID() string { return "deliver-qos0" }

func (*deliverQoS0) Provides(b byte) bool { return b == mochi.OnSubscribe }

func (*deliverQoS0) OnSubscribe(_ *mochi.Client, pk packets.Packet) packets.Packet {
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i := range filters {
		filters[i].Qos = 0
	}
	pk.Filters = filters
	return pk
}

// tcpListener is mochi's TCP listener with a Close that disconnects the
// clients itself, from a copy of the client map taken under one read lock
// (see EmbeddedBroker).
type tcpListener struct {
	*listeners.TCP
	srv *mochi.Server
}

func (l *tcpListener) Close(listeners.CloseFn) {
	l.TCP.Close(func(id string) {
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}
