package mqtt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// link311 is this package's MQTT 3.1.1 client: CONNECT, SUBSCRIBE, PUBLISH
// at QoS 0 and 1 both ways, PINGREQ and DISCONNECT; clean sessions only.
//
// It owns two goroutines from connect311 until close returns. The reader
// owns the socket's read side: it decodes packets, hands PUBLISHes to
// onMessage, completes waiting publishes and subscribes, and queues
// PUBACKs. The writer owns the write side: it writes the bounded out queue
// in batches and sends PINGREQ when the connection has been idle for the
// keepalive. A connection that reads nothing for twice the keepalive, or
// cannot write for as long, is dead (socket deadlines end it).
type link311 struct {
	nc      net.Conn
	br      *bufio.Reader
	p       linkParams
	ka      time.Duration
	out     chan []byte   // frames for the writer
	quit    chan struct{} // closed by close: the writer says DISCONNECT and stops
	dead    chan struct{} // closed once the connection has ended
	wdone   chan struct{} // closed when the writer returns
	deadErr error         // set before dead is closed
	failOne sync.Once
	quitOne sync.Once
	wg      sync.WaitGroup

	lastRead atomic.Int64 // unix nanoseconds of the last packet read

	mu      sync.Mutex
	nextID  uint16
	pending map[uint16]chan packet311 // PUBACK or SUBACK awaited, by packet identifier
}

var errClosedLocal = errors.New("closed by this endpoint")

func connect311(ctx context.Context, nc net.Conn, p linkParams) (*link311, error) {
	l := &link311{nc: nc, br: bufio.NewReaderSize(nc, 2048), p: p, ka: time.Duration(p.keepAlive) * time.Second,
		out: make(chan []byte, 64), quit: make(chan struct{}), dead: make(chan struct{}), wdone: make(chan struct{}),
		pending: map[uint16]chan packet311{}}
	if err := l.handshake(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	l.lastRead.Store(time.Now().UnixNano())
	l.wg.Add(2)
	go l.readLoop()
	go l.writeLoop()
	return l, nil
}

// handshake writes CONNECT and reads CONNACK, bounded by ctx.
func (l *link311) handshake(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = l.nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.nc.SetDeadline(time.Unix(1, 0)) })
	err := func() error {
		if _, err := l.nc.Write(appendConnect(nil, l.p.clientID, l.p.username, l.p.password, l.p.keepAlive)); err != nil {
			return err
		}
		ack, err := readPacket311(l.br, 16)
		if err != nil {
			return err
		}
		if ack.kind != pktConnack {
			return malformed("packet type %d before CONNACK", ack.kind)
		}
		if ack.returnCode != 0 {
			return fmt.Errorf("CONNACK return code %d (%s)", ack.returnCode, connackReason(ack.returnCode))
		}
		return nil
	}()
	if !stop() {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	return l.nc.SetDeadline(time.Time{})
}

func connackReason(rc byte) string {
	switch rc {
	case 1:
		return "unacceptable protocol version"
	case 2:
		return "identifier rejected"
	case 3:
		return "server unavailable"
	case 4:
		return "bad user name or password"
	case 5:
		return "not authorized"
	}
	return "unknown"
}

// fail ends the connection once, recording why.
func (l *link311) fail(err error) {
	l.failOne.Do(func() {
		l.deadErr = err
		close(l.dead)
		_ = l.nc.Close()
	})
}

func (l *link311) done() <-chan struct{} { return l.dead }
func (l *link311) cause() error          { <-l.dead; return l.deadErr }

// close asks the writer to send DISCONNECT, gives it a second, then closes
// the socket (which ends a stuck write and the reader) and waits.
func (l *link311) close() {
	l.quitOne.Do(func() { close(l.quit) })
	t := time.NewTimer(time.Second)
	select {
	case <-l.wdone:
	case <-t.C:
	}
	t.Stop()
	l.fail(errClosedLocal)
	l.wg.Wait()
}

// writeTimeout bounds one write: twice the keepalive, or 30 s without one.
func (l *link311) writeTimeout() time.Duration {
	if l.ka > 0 {
		return 2 * l.ka
	}
	return 30 * time.Second
}

func (l *link311) readLoop() {
	defer l.wg.Done()
	for {
		if l.ka > 0 {
			_ = l.nc.SetReadDeadline(time.Now().Add(2 * l.ka))
		}
		pk, err := readPacket311(l.br, l.p.maxPacket)
		if ne, ok := err.(net.Error); ok && ne.Timeout() && l.ka > 0 {
			err = fmt.Errorf("keepalive: nothing from the broker for %v: %w", 2*l.ka, err)
		}
		if err != nil {
			l.fail(err)
			return
		}
		l.lastRead.Store(time.Now().UnixNano())
		switch pk.kind {
		case pktPublish:
			l.p.onMessage(message{topic: pk.topic, payload: pk.payload, oversize: pk.oversize})
			if pk.qos == 1 && l.enqueue(context.Background(), appendPuback(nil, pk.id)) != nil {
				return
			}
		case pktPuback, pktSuback:
			l.mu.Lock()
			ch := l.pending[pk.id]
			delete(l.pending, pk.id)
			l.mu.Unlock()
			if ch != nil {
				ch <- pk // buffered, one per identifier
			}
		case pktPingresp:
		case pktDisconnect:
			l.fail(fmt.Errorf("broker sent DISCONNECT, reason 0x%02x", pk.returnCode))
			return
		default:
			l.fail(malformed("unexpected packet type %d", pk.kind))
			return
		}
	}
}

func (l *link311) writeLoop() {
	defer l.wg.Done()
	defer close(l.wdone)
	var tick <-chan time.Time
	if l.ka > 0 {
		t := time.NewTicker(max(l.ka/2, 500*time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	lastWrite := time.Now()
	bufs := make(net.Buffers, 0, 64)
	for {
		select {
		case f := <-l.out:
			batch := append(bufs[:0], f)
			for len(batch) < cap(bufs) && len(l.out) > 0 {
				batch = append(batch, <-l.out)
			}
			n := len(batch)
			_ = l.nc.SetWriteDeadline(time.Now().Add(l.writeTimeout()))
			_, err := batch.WriteTo(l.nc) // consumes batch, not bufs
			clear(bufs[:n])
			if err != nil {
				l.fail(err)
				return
			}
			lastWrite = time.Now()
		case now := <-tick:
			if now.Sub(lastWrite) >= l.ka || now.Sub(time.Unix(0, l.lastRead.Load())) >= l.ka {
				if _, err := l.nc.Write(pingreq); err != nil {
					l.fail(err)
					return
				}
				lastWrite = now
			}
		case <-l.quit:
			for len(l.out) > 0 { // what was queued (PUBACKs, say) goes first
				if _, err := l.nc.Write(<-l.out); err != nil {
					return
				}
			}
			_, _ = l.nc.Write(disconnect)
			return
		case <-l.dead:
			return
		}
	}
}

// enqueue hands a frame to the writer.
func (l *link311) enqueue(ctx context.Context, frame []byte) error {
	select {
	case l.out <- frame:
		return nil
	case <-l.dead:
		return l.deadErr
	case <-l.quit:
		return errClosedLocal
	case <-ctx.Done():
		return ctx.Err()
	}
}

// register reserves a packet identifier whose acknowledgement will be
// sent on the returned channel.
func (l *link311) register() (uint16, chan packet311, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= 65535 {
		return 0, nil, errors.New("no free packet identifier")
	}
	for {
		l.nextID++
		if _, used := l.pending[l.nextID]; l.nextID != 0 && !used {
			ch := make(chan packet311, 1)
			l.pending[l.nextID] = ch
			return l.nextID, ch, nil
		}
	}
}

func (l *link311) unregister(id uint16) {
	l.mu.Lock()
	delete(l.pending, id)
	l.mu.Unlock()
}

// await sends frame (carrying identifier id) and waits for its ack.
func (l *link311) await(ctx context.Context, id uint16, ch chan packet311, frame []byte) (packet311, error) {
	if err := l.enqueue(ctx, frame); err != nil {
		l.unregister(id)
		return packet311{}, err
	}
	select {
	case pk := <-ch:
		return pk, nil
	case <-l.dead:
		return packet311{}, l.deadErr
	case <-ctx.Done():
		l.unregister(id)
		return packet311{}, ctx.Err()
	}
}

func (l *link311) subscribe(ctx context.Context, filters []string) error {
	id, ch, err := l.register()
	if err != nil {
		return err
	}
	ack, err := l.await(ctx, id, ch, appendSubscribe(nil, id, filters, l.p.qos))
	if err != nil {
		return err
	}
	if len(ack.granted) != len(filters) {
		return fmt.Errorf("SUBACK has %d return codes for %d filters", len(ack.granted), len(filters))
	}
	for i, g := range ack.granted {
		if g == 0x80 {
			return fmt.Errorf("subscription to %q refused", filters[i])
		}
	}
	return nil
}

func (l *link311) publish(ctx context.Context, topic string, payload []byte, _ string) error {
	size := 5 + 2 + len(topic) + 2 + len(payload)
	if l.p.qos == 0 {
		return l.enqueue(ctx, appendPublish(make([]byte, 0, size), topic, 0, 0, payload))
	}
	id, ch, err := l.register()
	if err != nil {
		return err
	}
	_, err = l.await(ctx, id, ch, appendPublish(make([]byte, 0, size), topic, id, 1, payload))
	return err
}
