package inproc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"brickyard/mtp"
)

// pair is one session: two conns and a delivery goroutine per direction.
type pair struct {
	agent, ctrl *conn
	once        sync.Once
	broken      chan struct{}
	wg          sync.WaitGroup
}

type item struct {
	rec []byte
	due time.Time
}

type conn struct {
	pair      *pair
	net       *Network
	info      mtp.Info
	sender    string      // the agent's ID, for partitions and drops
	out       chan item   // this end's sends, to the delivery goroutine
	in        chan []byte // delivered to this end
	closeOnce sync.Once
	closed    chan struct{}
	owner     *listener // the controller side's listener, which forgets it at Close
}

func newPair(n *Network, agentID, ctrlID string) *pair {
	p := &pair{broken: make(chan struct{})}
	mk := func(local, peer string) *conn {
		return &conn{pair: p, net: n, sender: agentID, out: make(chan item, n.queueLen), in: make(chan []byte, n.queueLen),
			closed: make(chan struct{}), info: mtp.Info{Protocol: mtp.InProcess, Local: local, Peer: peer}}
	}
	p.agent, p.ctrl = mk(agentID, ctrlID), mk(ctrlID, agentID)
	p.wg.Add(2)
	go p.deliver(p.agent, p.ctrl)
	go p.deliver(p.ctrl, p.agent)
	return p
}

// deliver moves Records from one end's out queue to the other's in queue,
// each at its due time, in order. It stops when the session breaks or
// either end closes.
func (p *pair) deliver(from, to *conn) {
	defer p.wg.Done()
	for {
		var it item
		select {
		case it = <-from.out:
		case <-p.broken:
			return
		}
		if d := time.Until(it.due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-p.broken:
				t.Stop()
				return
			}
		}
		select {
		case to.in <- it.rec:
		case <-p.broken:
			return
		}
	}
}

func (p *pair) breakBoth() {
	p.once.Do(func() { close(p.broken) })
}

// Send implements mtp.Conn.
func (c *conn) Send(ctx context.Context, rec []byte) error {
	select {
	case <-c.closed:
		return mtp.ErrClosed
	case <-c.pair.broken:
		return fmt.Errorf("inproc: send to %s: %w", c.info.Peer, mtp.ErrBroken)
	default:
	}
	lost, delay := c.net.fate(c.sender)
	if lost {
		return nil
	}
	it := item{rec: append([]byte(nil), rec...), due: time.Now().Add(delay)}
	select {
	case c.out <- it:
		return nil
	case <-c.closed:
		return mtp.ErrClosed
	case <-c.pair.broken:
		return fmt.Errorf("inproc: send to %s: %w", c.info.Peer, mtp.ErrBroken)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recv implements mtp.Conn.
func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case rec := <-c.in:
		return rec, nil
	case <-c.closed:
		return nil, mtp.ErrClosed
	case <-c.pair.broken:
		select { // what was delivered before the break is still read
		case rec := <-c.in:
			return rec, nil
		default:
		}
		return nil, fmt.Errorf("inproc: session with %s ended: %w", c.info.Peer, mtp.ErrBroken)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements mtp.Conn: the peer sees ErrBroken.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.pair.breakBoth()
		if c.owner != nil {
			c.owner.mu.Lock()
			delete(c.owner.conns, c)
			c.owner.mu.Unlock()
		}
	})
	c.pair.wg.Wait()
	return nil
}

// Info implements mtp.Conn.
func (c *conn) Info() mtp.Info { return c.info }
