package mqtt

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// The client's reader keeps no buffer of its own while its agent is idle.
// A read takes a buffer from a pool shared by every client, and gives it
// back once every packet in it is parsed; only a packet cut in two by the
// network keeps its buffer until the rest arrives. On a plain TCP
// connection the reader waits for data with no buffer at all (the socket
// is polled through its syscall.RawConn, and a buffer is taken only once
// there is something to read); on another net.Conn (TLS) it holds one
// while it waits.
//
// A read deadline (the fleet's timers, see agentConn.RecvBy) or a wake
// interrupts a wait anywhere, even mid-packet, and loses nothing: what
// was read stays for the next call.

// readBufSize is the size of the pooled read buffers: a few Records.
const readBufSize = 4 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// rstate is the reader's state (the reader's alone).
type rstate struct {
	rc     syscall.RawConn // nil: read through the net.Conn
	buf    []byte          // bytes read, parsed up to off; nil when none
	off    int
	pooled *[]byte // buf's pool buffer, when it is one
	skip   int     // bytes of an oversize PUBLISH still to discard
}

// errShort: more bytes are needed to parse the next packet.
var errShort = errors.New("short")

// isWait reports whether a read error is a deadline or a wake, which
// leave the connection as it is.
func isWait(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// read returns the next packet of at most max bytes (a larger PUBLISH
// comes back with oversize set and no payload, its bytes discarded as
// they come). A deadline error (isWait) leaves the connection as it is;
// any other error ends it. It runs on the reader only.
func (c *client) read(max int) (packet311, props5, error) {
	for {
		pk, pr, err := c.parse(max)
		if err == nil {
			return pk, pr, nil
		}
		if err != errShort {
			return pk, pr, c.fail(err)
		}
		// About to wait for the broker: what was queued goes out first.
		// The answer to a Record may have been queued because a packet
		// was at hand (Ready), and that packet turned out not to be a
		// PUBLISH (a PUBACK): without this, the answer would wait for
		// a request that only it can bring.
		if err := c.flush(); err != nil {
			return packet311{}, props5{}, err
		}
		if err := c.fill(); err != nil {
			if isWait(err) {
				return packet311{}, props5{}, err
			}
			return packet311{}, props5{}, c.failed(err)
		}
	}
}

// ready reports whether a whole packet is buffered: the next read will
// not wait.
func (c *client) ready() bool {
	r := &c.r
	if r.skip > 0 || r.buf == nil {
		return false
	}
	n, hdr, ok := header(r.buf[r.off:])
	return ok && hdr > 0 && len(r.buf)-r.off >= hdr+n
}

// header reads a fixed header: the remaining length n and the header's
// size; hdr 0 means the header is incomplete; !ok a malformed length.
func header(b []byte) (n, hdr int, ok bool) {
	shift := 0
	for i := 1; i < len(b) && i <= 4; i++ {
		n |= int(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return n, i + 1, true
		}
		shift += 7
	}
	if len(b) > 4 && b[4]&0x80 != 0 {
		return 0, 0, false
	}
	return 0, 0, true
}

// parse takes the next packet out of the buffer, or says errShort.
func (c *client) parse(max int) (packet311, props5, error) {
	r := &c.r
	if r.skip > 0 {
		k := min(r.skip, len(r.buf)-r.off)
		r.skip -= k
		r.consume(k)
		if r.skip > 0 {
			return packet311{}, props5{}, errShort
		}
	}
	if r.buf == nil {
		return packet311{}, props5{}, errShort
	}
	b := r.buf[r.off:]
	n, hdr, ok := header(b)
	if !ok {
		return packet311{}, props5{}, malformed("remaining length longer than 4 bytes")
	}
	if hdr == 0 {
		return packet311{}, props5{}, errShort
	}
	first := b[0]
	if n > max {
		if first>>4 != pktPublish {
			return packet311{}, props5{}, malformed("packet type %d of %d bytes exceeds %d", first>>4, n, max)
		}
		return c.oversize(first, hdr, n)
	}
	if len(b) < hdr+n {
		r.room(hdr + n)
		return packet311{}, props5{}, errShort
	}
	body := b[hdr : hdr+n]
	if first>>4 == pktPublish || first>>4 == pktSuback || first>>4 == pktConnack || first>>4 == pktDisconnect {
		body = append([]byte(nil), body...) // what the packet hands out outlives the buffer
	}
	// Decoded before the bytes are marked parsed: that may give the
	// buffer back to the pool.
	var pk packet311
	var pr props5
	var err error
	if c.v5 {
		pk, pr, err = decode5(first, body)
	} else {
		pk, err = decode311(first, body)
	}
	r.consume(hdr + n)
	return pk, pr, err
}

// oversize reads the head of a PUBLISH of n bytes, enough to acknowledge
// it (its topic and packet identifier), and discards the rest.
func (c *client) oversize(first byte, hdr, n int) (packet311, props5, error) {
	r := &c.r
	b := r.buf[r.off:]
	if len(b) < hdr+2 {
		return packet311{}, props5{}, errShort
	}
	head := 2 + int(binary.BigEndian.Uint16(b[hdr:]))
	if (first>>1)&3 > 0 {
		head += 2
	}
	if head > n {
		return packet311{}, props5{}, malformed("PUBLISH head of %d bytes in a %d-byte packet", head, n)
	}
	if len(b) < hdr+head {
		r.room(hdr + head)
		return packet311{}, props5{}, errShort
	}
	pk, _, err := publishHead(packet311{kind: pktPublish}, first&0x0f, b[hdr:hdr+head])
	if err != nil {
		return pk, props5{}, err
	}
	pk.oversize = true
	rest := n - head
	k := min(rest, len(b)-hdr-head)
	r.consume(hdr + head + k)
	r.skip = rest - k
	return pk, props5{}, nil
}

// consume marks k more bytes parsed; a buffer parsed to its end goes back
// to the pool.
func (r *rstate) consume(k int) {
	r.off += k
	if r.buf != nil && r.off >= len(r.buf) {
		r.release()
	}
}

func (r *rstate) release() {
	if r.pooled != nil {
		readBufs.Put(r.pooled)
	}
	r.buf, r.off, r.pooled = nil, 0, nil
}

// room makes the buffer able to hold a packet of need bytes from off:
// the unparsed bytes move to the front, to a larger buffer of their own
// if the pool's is too small.
func (r *rstate) room(need int) {
	if r.off+need <= cap(r.buf) {
		return
	}
	rest := r.buf[r.off:]
	if need <= readBufSize && r.pooled != nil {
		n := copy(r.buf[:cap(r.buf)], rest)
		r.buf, r.off = r.buf[:n], 0
		return
	}
	nb := make([]byte, len(rest), max(need, readBufSize))
	copy(nb, rest)
	if r.pooled != nil {
		readBufs.Put(r.pooled)
	}
	r.buf, r.off, r.pooled = nb, 0, nil
}

// space returns where the next read goes: the free end of the buffer, or
// a pool buffer when there is none.
func (r *rstate) space() []byte {
	if r.buf == nil {
		r.pooled = readBufs.Get().(*[]byte)
		r.buf, r.off = (*r.pooled)[:0], 0
	}
	if len(r.buf) == cap(r.buf) { // full of a partial packet: room grows it
		r.room(len(r.buf) - r.off + readBufSize)
	}
	return r.buf[len(r.buf):cap(r.buf)]
}

// fill reads what the socket has, waiting for it (within the read
// deadline).
func (c *client) fill() error {
	r := &c.r
	if r.rc == nil {
		p := r.space()
		n, err := c.nc.Read(p)
		r.buf = r.buf[:len(r.buf)+n]
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			return nil
		}
		if len(r.buf) == r.off {
			r.release()
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	var n int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			p := r.space()
			n, rerr = syscall.Read(int(fd), p)
			if rerr == syscall.EINTR {
				continue
			}
			if rerr == syscall.EAGAIN {
				if len(r.buf) == r.off {
					r.release() // wait with no buffer
				}
				return false
			}
			return true
		}
	})
	if err == nil && rerr != nil {
		err = rerr
	}
	if err == nil && n <= 0 {
		err = io.EOF
	}
	if err != nil {
		if r.buf != nil && len(r.buf) == r.off {
			r.release()
		}
		return err
	}
	r.buf = r.buf[:len(r.buf)+n]
	c.lastRead.Store(time.Now().UnixNano())
	return nil
}
