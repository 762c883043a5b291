package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// client is an agent's broker connection, MQTT 5 or 3.1.1, that owns no
// goroutine: an agent can afford one connection, not five goroutines.
//
//   - Reading is the caller's: next, called by the session's one reader
//     (agentConn.Recv), reads packets from the socket until a PUBLISH, and
//     handles PUBACK, PINGRESP and DISCONNECT on the way. A PUBLISH at QoS
//     1 is acknowledged when next returns it, not when it arrives: the
//     broker sends at most the client's Receive Maximum (MQTT 5; mosquitto
//     keeps 3.1.1 clients to max_inflight_messages) unacknowledged, so a
//     reader that waits for its agent is back-pressure, not loss.
//   - Writing is any caller's, under wmu, straight to the socket: publish
//     returns once the PUBLISH is written. At QoS 1 it does not wait for
//     the PUBACK (the reader sees it); when the broker's Receive Maximum
//     of unacknowledged PUBLISHes is reached, the next ones wait in a
//     bounded queue that each PUBACK releases. So a Send never waits on
//     the reader, and the reader never on a Send: no deadlock, whatever
//     either is doing.
//   - Keep-alive is the Dialer's keeper's: one goroutine for every client
//     of a Dialer sends PINGREQ to a client quiet for its keep-alive and
//     ends one whose broker said nothing for 1.5 keep-alives.
type client struct {
	nc        net.Conn
	r         rstate // the reader's (reader.go)
	v5        bool
	qos       byte
	maxPacket int           // largest packet read from the broker (larger PUBLISHes are read past)
	ka        time.Duration // keep-alive (the broker's Server Keep Alive wins); 0: none
	keeper    *keeper

	lastRead, lastWrite atomic.Int64 // unix nanoseconds

	wmu      sync.Mutex
	window   int      // the broker's Receive Maximum
	inflight int      // QoS 1 PUBLISHes written and not acknowledged
	waiting  [][]byte // QoS 1 PUBLISHes waiting for the window (their identifier set)
	nextID   uint16
	out      []byte  // packets queued (publish's later) for the next write
	wdl      int64   // the write deadline last set, unix nanoseconds
	outMax   int     // the broker's Maximum Packet Size (0: none)
	stash    []early // PUBLISHes read while Dial waited for SUBACK (reader's)
	closed   bool
	failOnce sync.Once
	dead     chan struct{}
	deadErr  error
}

// maxWaiting bounds the PUBLISHes waiting for the broker's window: a
// broker that acknowledges nothing for this many ends the connection.
const maxWaiting = 1024

// writeTimeout bounds one write to the broker.
const writeTimeout = 30 * time.Second

var errClientClosed = errors.New("closed by this endpoint")

func newClient(nc net.Conn, p linkParams, v5 bool, k *keeper) *client {
	c := &client{nc: nc, v5: v5, qos: p.qos, maxPacket: p.maxPacket,
		ka: time.Duration(p.keepAlive) * time.Second, keeper: k, window: 65535, dead: make(chan struct{})}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.r.rc = rc
		}
	}
	now := time.Now().UnixNano()
	c.lastRead.Store(now)
	c.lastWrite.Store(now)
	return c
}

// handshake writes CONNECT and reads CONNACK, bounded by ctx, and applies
// what the broker said (Server Keep Alive, Receive Maximum, Maximum QoS,
// Maximum Packet Size).
func (c *client) handshake(ctx context.Context, p linkParams) (connackInfo, error) {
	stop := c.bound(ctx)
	defer stop()
	var frame []byte
	if c.v5 {
		frame = connectV5{clientID: p.clientID, username: p.username, password: p.password, keepAlive: p.keepAlive,
			receiveMax: p.receiveMax, maxPacket: uint32(min(p.maxPacket, 1<<28)), endpointID: p.endpointID}.append(nil)
	} else {
		frame = appendConnect(nil, p.clientID, p.username, p.password, p.keepAlive)
	}
	if err := c.write(frame); err != nil {
		return connackInfo{}, err
	}
	pk, pr, err := c.read(64 << 10)
	if err != nil {
		return connackInfo{}, err
	}
	if pk.kind != pktConnack {
		return connackInfo{}, malformed("packet type %d before CONNACK", pk.kind)
	}
	if pk.returnCode != 0 {
		if c.v5 {
			return connackInfo{}, fmt.Errorf("CONNACK reason 0x%02x %s", pk.returnCode, pr.reasonString)
		}
		return connackInfo{}, fmt.Errorf("CONNACK return code %d (%s)", pk.returnCode, connackReason(pk.returnCode))
	}
	if !c.v5 {
		return connackInfo{}, nil
	}
	if pr.serverKeepAlive >= 0 { // [MQTT-3.2.2-21]: the broker's keep-alive replaces ours
		c.ka = time.Duration(pr.serverKeepAlive) * time.Second
	}
	if pr.receiveMax > 0 {
		c.window = pr.receiveMax
	}
	if pr.maxQoS >= 0 && byte(pr.maxQoS) < c.qos {
		c.qos = byte(pr.maxQoS) // [MQTT-3.2.2-11]: never publish above it
	}
	c.outMax = pr.maxPacket
	return connackInfo{assignedClientID: pr.assignedClientID, responseInfo: pr.responseInfo, subscribeTopics: pr.subscribeTopics}, nil
}

// bound makes ctx's end (or deadline) interrupt the socket; stop undoes it.
func (c *client) bound(ctx context.Context) (stop func()) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	}
	cancel := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		cancel()
		c.wmu.Lock()
		_ = c.nc.SetDeadline(time.Time{})
		c.wdl = 0 // writeLocked sets it again
		c.wmu.Unlock()
	}
}

// subscribe sends SUBSCRIBE and reads until its SUBACK (Dial's, before
// anything else reads), keeping a PUBLISH that comes first for next.
func (c *client) subscribe(ctx context.Context, filters []string, endpointID string) error {
	stop := c.bound(ctx)
	defer stop()
	var frame []byte
	if c.v5 {
		frame = appendSubscribe5(nil, 1, filters, c.qos, endpointID)
	} else {
		frame = appendSubscribe(nil, 1, filters, c.qos)
	}
	if err := c.write(frame); err != nil {
		return err
	}
	for {
		pk, pr, err := c.read(c.maxPacket)
		if err != nil {
			return err
		}
		switch pk.kind {
		case pktSuback:
			if pk.id != 1 || len(pk.granted) != len(filters) {
				return fmt.Errorf("SUBACK of packet %d with %d codes for %d filters", pk.id, len(pk.granted), len(filters))
			}
			for i, g := range pk.granted {
				if g >= 0x80 {
					return fmt.Errorf("subscription to %q refused (0x%02x)", filters[i], g)
				}
			}
			return nil
		case pktPublish: // retained, or a controller quick off the mark
			if len(c.stash) == maxEarly {
				return fmt.Errorf("more than %d PUBLISHes before SUBACK", maxEarly)
			}
			c.stash = append(c.stash, early{message{topic: pk.topic, payload: pk.payload, oversize: pk.oversize,
				responseTopic: pr.responseTopic, contentType: pr.contentType}, pk.id})
		case pktPingresp, pktPuback:
		default:
			return malformed("packet type %d before SUBACK", pk.kind)
		}
	}
}

// early is a PUBLISH that came before SUBACK, with its packet identifier
// (QoS 1) to acknowledge when next hands it out.
type early struct {
	m  message
	id uint16
}

// maxEarly bounds the PUBLISHes kept before SUBACK.
const maxEarly = 16

// takeStash hands out the next early PUBLISH.
func (c *client) takeStash(ackPrev *uint16) (message, bool) {
	if len(c.stash) == 0 {
		return message{}, false
	}
	e := c.stash[0]
	c.stash = c.stash[1:]
	if len(c.stash) == 0 {
		c.stash = nil
	}
	*ackPrev = e.id
	return e.m, true
}

// next returns the next PUBLISH from the broker, handling every other
// packet on the way, and acknowledges the one before (QoS 1).
func (c *client) next(ackPrev *uint16) (message, error) {
	if id := *ackPrev; id != 0 {
		*ackPrev = 0
		if err := c.write(appendPuback(nil, id)); err != nil {
			return message{}, err
		}
	}
	if m, ok := c.takeStash(ackPrev); ok {
		return m, nil
	}
	for {
		pk, pr, err := c.read(c.maxPacket)
		if err != nil {
			return message{}, err
		}
		switch pk.kind {
		case pktPublish:
			if pk.qos == 1 {
				*ackPrev = pk.id
			}
			return message{topic: pk.topic, payload: pk.payload, oversize: pk.oversize,
				responseTopic: pr.responseTopic, contentType: pr.contentType}, nil
		case pktPuback:
			if err := c.acked(); err != nil {
				return message{}, err
			}
		case pktPingresp, pktSuback:
		case pktDisconnect:
			reason := pr.reasonString
			return message{}, c.fail(fmt.Errorf("broker sent DISCONNECT, reason 0x%02x %s", pk.returnCode, reason))
		default:
			return message{}, c.fail(malformed("unexpected packet type %d", pk.kind))
		}
	}
}

// publish writes one PUBLISH (see client); with later, it only queues it
// behind the packets queued before, for the next write (flush).
func (c *client) publish(topic string, payload []byte, responseTopic string, later bool) error {
	var n int
	if c.v5 {
		n, _ = publish5Size(topic, responseTopic, c.qos, len(payload))
	} else {
		n = 2 + len(topic) + len(payload)
		if c.qos > 0 {
			n += 2
		}
	}
	if c.outMax > 0 && 1+varIntSize(n)+n > c.outMax {
		return fmt.Errorf("a %d-byte PUBLISH exceeds the broker's Maximum Packet Size of %d", 1+varIntSize(n)+n, c.outMax)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var id uint16
	if c.qos == 1 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		id = c.nextID
	}
	held := c.qos == 1 && c.inflight >= c.window
	var frame []byte
	if !held {
		// Straight into the queue of packets for the next write: no
		// buffer of its own.
		frame = c.out
	} else {
		frame = make([]byte, 0, 1+varIntSize(n)+n)
	}
	if c.v5 {
		frame = appendPublish5(frame, topic, id, c.qos, responseTopic, payload)
	} else {
		frame = appendPublish(frame, withReplyTo(topic, responseTopic), id, c.qos, payload)
	}
	if held {
		if len(c.waiting) >= maxWaiting {
			err := fmt.Errorf("the broker acknowledged none of %d PUBLISHes", c.inflight+len(c.waiting))
			c.failLocked(err)
			return err
		}
		c.waiting = append(c.waiting, frame)
		return nil
	}
	if c.qos == 1 {
		c.inflight++
	}
	c.out = frame
	if later {
		return nil
	}
	return c.writeLocked(nil)
}

// flush writes the queued packets.
func (c *client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.out) == 0 {
		return nil
	}
	return c.writeLocked(nil)
}

// acked releases one QoS 1 PUBLISH's place in the window, and writes the
// next waiting one.
func (c *client) acked() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.inflight > 0 {
		c.inflight--
	}
	if len(c.waiting) > 0 && c.inflight < c.window {
		f := c.waiting[0]
		c.waiting[0] = nil
		c.waiting = c.waiting[1:]
		c.inflight++
		return c.writeLocked(f)
	}
	return nil
}

func (c *client) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(frame)
}

// writeLocked writes the queued packets and then frame, in one write. The
// write deadline is moved only when it is more than a second stale: a
// write is bounded by writeTimeout, give or take that second.
func (c *client) writeLocked(frame []byte) error {
	if c.closed {
		return errClientClosed
	}
	select {
	case <-c.dead:
		return c.deadErr
	default:
	}
	buf := frame
	if len(c.out) > 0 {
		buf = append(c.out, frame...)
		c.out = c.out[:0]
		if cap(c.out) > maxOutKept {
			c.out = nil // an idle agent keeps no large buffer
		}
	}
	now := time.Now().UnixNano()
	if now+int64(writeTimeout)-c.wdl > int64(time.Second) {
		c.wdl = now + int64(writeTimeout)
		_ = c.nc.SetWriteDeadline(time.Unix(0, c.wdl))
	}
	if _, err := c.nc.Write(buf); err != nil {
		c.failLocked(err)
		return err
	}
	c.lastWrite.Store(now)
	return nil
}

// maxOutKept is the largest write queue a client keeps between writes.
const maxOutKept = 4 << 10

// ping is the keeper's: PINGREQ when nothing was written for the
// keep-alive; false when the broker has been silent too long.
func (c *client) ping(now time.Time) bool {
	if c.ka <= 0 {
		return true
	}
	if now.Sub(time.Unix(0, c.lastRead.Load())) > c.ka+c.ka/2 {
		c.fail(fmt.Errorf("keepalive: nothing from the broker for %v", c.ka+c.ka/2))
		return false
	}
	if now.Sub(time.Unix(0, c.lastWrite.Load())) >= c.ka {
		_ = c.write(pingreq)
	}
	return true
}

// failed ends the connection on a read error (nil passes).
func (c *client) failed(err error) error {
	if err == nil {
		return nil
	}
	return c.fail(err)
}

// fail ends the connection once, recording why; it returns the first
// cause.
func (c *client) fail(err error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.failLocked(err)
	return c.deadErr
}

func (c *client) failLocked(err error) {
	c.failOnce.Do(func() {
		if c.closed {
			err = errClientClosed
		}
		c.deadErr = err
		close(c.dead)
		_ = c.nc.Close()
	})
}

func (c *client) done() <-chan struct{} { return c.dead }

func (c *client) cause() error {
	<-c.dead
	return c.deadErr
}

// shutdown says DISCONNECT, shuts the socket's write side and lets the
// broker close its end; release then closes the socket and leaves the
// keeper. close is both, for a client no reader reads.
//
// The wait matters: bytes the broker sent that nobody read (PUBACKs of the
// last PUBLISHes) would make the kernel answer the close with a reset, and
// a reset makes the broker's kernel throw away what it had not read yet,
// the last PUBLISHes and the DISCONNECT among them. So what is left is
// read, until the broker's end of stream or a second, whichever comes
// first: by shutdown itself when drain is set (no reader), else by the
// reader, whose read now ends at that deadline at the latest; the caller
// waits for the reader to return before release.
func (c *client) shutdown(drain bool) {
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return
	}
	c.closed = true
	live := false
	select {
	case <-c.dead:
	default:
		live = true
		d := disconnect
		if c.v5 {
			d = disconnect5
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(append(c.out, d...)) // what was queued goes first
		c.out = nil
	}
	c.wmu.Unlock()
	if !live {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil && drain {
		c.r.release()
		var buf [512]byte
		for { // until EOF or the deadline
			if _, err := c.nc.Read(buf[:]); err != nil {
				break
			}
		}
	}
}

// release ends the connection and leaves the keeper.
func (c *client) release() {
	c.wmu.Lock()
	c.closed = true
	c.failLocked(errClientClosed)
	c.wmu.Unlock()
	c.keeper.leave(c)
}

// close is shutdown and release, for a client that no reader reads.
func (c *client) close() {
	c.shutdown(true)
	c.release()
}

// keeper sends the keep-alive PINGREQs of every client of one Dialer and
// ends the clients whose broker went silent. Its one goroutine runs while
// it has clients: the first join starts it, the last leave stops it and
// waits for it, so the clients together own it.
type keeper struct {
	every time.Duration // how often it looks (default 1 s)

	mu      sync.Mutex
	clients map[*client]struct{}
	stop    chan struct{}
	done    chan struct{}
}

func (k *keeper) join(c *client) {
	if c.ka <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.clients == nil {
		k.clients = map[*client]struct{}{}
	}
	k.clients[c] = struct{}{}
	if len(k.clients) == 1 {
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run(k.stop, k.done)
	}
}

func (k *keeper) leave(c *client) {
	k.mu.Lock()
	if _, ok := k.clients[c]; !ok {
		k.mu.Unlock()
		return
	}
	delete(k.clients, c)
	var stop, done chan struct{}
	if len(k.clients) == 0 {
		stop, done = k.stop, k.done
	}
	k.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

func (k *keeper) run(stop, done chan struct{}) {
	defer close(done)
	every := k.every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var batch []*client
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			k.mu.Lock()
			batch = batch[:0]
			for c := range k.clients {
				batch = append(batch, c)
			}
			k.mu.Unlock()
			for _, c := range batch {
				c.ping(now)
			}
			clear(batch)
		}
	}
}
