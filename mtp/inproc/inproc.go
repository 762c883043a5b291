// Package inproc is an in-process transport: agents and a controller in one
// process exchange Records through buffered queues, with optional seeded
// loss, delay and partitions. It is the transport of unit tests and of
// real-time runs that need no network; there is no USP Connect Record for
// it (the session itself tells the controller who the agent is).
package inproc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"brickyard/mtp"
)

// Faults are applied to every Record sent on the network.
type Faults struct {
	Drop   float64       // probability that a Record is lost
	Delay  time.Duration // added to every Record
	Jitter time.Duration // up to this much more, uniformly; order is kept
}

// Network is a set of controllers that agents can dial by endpoint ID.
type Network struct {
	mu          sync.Mutex
	rng         *rand.Rand
	faults      Faults
	listeners   map[string]*listener
	partitioned map[string]bool // agent IDs cut off from their controller
	queueLen    int
}

// NewNetwork returns a network whose faults draw from a generator seeded
// with seed. queueLen bounds each direction of each session (default 256);
// a full queue makes Send wait.
func NewNetwork(seed uint64, f Faults, queueLen int) *Network {
	if queueLen <= 0 {
		queueLen = 256
	}
	return &Network{rng: rand.New(rand.NewPCG(seed, 0x1a9)), faults: f,
		listeners: map[string]*listener{}, partitioned: map[string]bool{}, queueLen: queueLen}
}

// Partition cuts agentID off (on) or reconnects it: while cut off, Records
// in both directions are lost, as in a network partition; sessions stay up.
func (n *Network) Partition(agentID string, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if on {
		n.partitioned[agentID] = true
	} else {
		delete(n.partitioned, agentID)
	}
}

// Break ends agentID's current sessions as a network failure would: both
// ends see ErrBroken.
func (n *Network) Break(agentID string) {
	n.mu.Lock()
	ls := make([]*listener, 0, len(n.listeners))
	for _, l := range n.listeners {
		ls = append(ls, l)
	}
	n.mu.Unlock()
	var victims []*conn
	for _, l := range ls { // a listener's conns are under its own lock (Accept adds to them)
		l.mu.Lock()
		for c := range l.conns {
			if c.info.Peer == agentID {
				victims = append(victims, c)
			}
		}
		l.mu.Unlock()
	}
	for _, c := range victims {
		c.pair.breakBoth()
		c.pair.wg.Wait()
	}
}

// fate decides, under the network's lock, whether a Record from agent is
// lost and how long it is delayed.
func (n *Network) fate(agent string) (lost bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.partitioned[agent] {
		return true, 0
	}
	if n.faults.Drop > 0 && n.rng.Float64() < n.faults.Drop {
		return true, 0
	}
	delay = n.faults.Delay
	if n.faults.Jitter > 0 {
		delay += time.Duration(n.rng.Int64N(int64(n.faults.Jitter) + 1))
	}
	return false, delay
}

// Listen registers the controller controllerID.
func (n *Network) Listen(controllerID string) (mtp.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[controllerID]; ok {
		return nil, fmt.Errorf("inproc: %q is already listening", controllerID)
	}
	l := &listener{net: n, id: controllerID, accept: make(chan *conn), done: make(chan struct{}), conns: map[*conn]bool{}}
	n.listeners[controllerID] = l
	return l, nil
}

// Dialer returns the agents' Dialer for controllerID.
func (n *Network) Dialer(controllerID string) mtp.Dialer { return dialer{n, controllerID} }

type dialer struct {
	net  *Network
	ctrl string
}

// Dial implements mtp.Dialer.
func (d dialer) Dial(ctx context.Context, agentID string) (mtp.Conn, error) {
	d.net.mu.Lock()
	l := d.net.listeners[d.ctrl]
	d.net.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("inproc: no controller %q: %w", d.ctrl, mtp.ErrBroken)
	}
	p := newPair(d.net, agentID, d.ctrl)
	select {
	case l.accept <- p.ctrl:
		return p.agent, nil
	case <-l.done:
		return nil, fmt.Errorf("inproc: controller %q closed: %w", d.ctrl, mtp.ErrBroken)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type listener struct {
	net    *Network
	id     string
	accept chan *conn
	once   sync.Once
	done   chan struct{}
	mu     sync.Mutex
	conns  map[*conn]bool
}

// Accept implements mtp.Listener.
func (l *listener) Accept(ctx context.Context) (mtp.Conn, error) {
	select {
	case c := <-l.accept:
		l.mu.Lock()
		l.conns[c] = true
		c.owner = l
		l.mu.Unlock()
		return c, nil
	case <-l.done:
		return nil, mtp.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements mtp.Listener.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		delete(l.net.listeners, l.id)
		l.net.mu.Unlock()
		l.mu.Lock()
		conns := l.conns
		l.conns = map[*conn]bool{}
		l.mu.Unlock()
		for c := range conns {
			c.pair.breakBoth()
			c.pair.wg.Wait()
		}
	})
	return nil
}
