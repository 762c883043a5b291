package stomp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	gframe "github.com/go-stomp/stomp/v3/frame"

	"brickyard/mtp"
)

// session is one STOMP connection to the broker. It owns two goroutines:
// the reader (run), which is the owner, and the writer, its child, fed by
// the bounded queue out. The reader hands each MESSAGE frame to onMessage,
// which may block (that is the backpressure) but must return once quit is
// closed. When the reader stops, for any reason, it stops the writer,
// closes the socket and waits for the writer before closing done.
type session struct {
	cfg   *Config
	nc    net.Conn
	rd    *reader
	local string // endpoint ID, for errors

	out      chan *[]byte  // encoded frames for the writer (pooled buffers)
	quit     chan struct{} // closed by close
	done     chan struct{} // closed when both goroutines have ended
	quitOnce sync.Once
	receipts chan string // RECEIPT ids; the one waiter reads them

	hbOut, hbIn time.Duration // negotiated
	subDest     string        // CONNECTED's subscribe-dest, if any
	server      string        // CONNECTED's server header

	onMessage func(*frame)

	mu  sync.Mutex
	err error // why the session broke; wraps mtp.ErrBroken
}

// start runs the reader, which starts the writer. onMessage must be set.
func (s *session) start(onMessage func(*frame)) {
	s.onMessage = onMessage
	go s.run()
}

func (s *session) run() {
	wdone := make(chan struct{})
	rdone := make(chan struct{})
	go func() {
		defer close(wdone)
		s.writeLoop(rdone)
	}()
	err := s.readLoop()
	s.fail(err)
	close(rdone)
	<-wdone
	_ = s.nc.Close()
	close(s.done)
}

// fail records the first reason the session broke.
func (s *session) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	if s.err == nil {
		if !errors.Is(err, mtp.ErrBroken) {
			err = fmt.Errorf("stomp: session of %s with %s: %w: %w", s.local, s.cfg.Addr, mtp.ErrBroken, err)
		}
		s.err = err
	}
	s.mu.Unlock()
}

// failure is why the session ended: ErrClosed after close, else the
// recorded break.
func (s *session) failure() error {
	select {
	case <-s.quit:
		return mtp.ErrClosed
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return fmt.Errorf("stomp: session of %s: %w", s.local, mtp.ErrBroken)
	}
	return s.err
}

// silence is how long a session waits for the broker's data or heart-beat
// before it gives up: two intervals, and one more (at least 2 s) for a
// broker on a loaded machine, whose heart-beats RabbitMQ was seen to send
// late by more than a second. STOMP leaves the grace to the receiver.
func silence(hb time.Duration) time.Duration { return 2*hb + max(hb, 2*time.Second) }

func (s *session) readLoop() error {
	for {
		if s.hbIn > 0 {
			_ = s.nc.SetReadDeadline(time.Now().Add(silence(s.hbIn)))
		}
		f, err := s.rd.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no data from the broker for %v (heart-beat %v): %w", silence(s.hbIn), s.hbIn, err)
			}
			return err
		}
		if f == nil {
			continue
		}
		switch f.cmd {
		case gframe.MESSAGE:
			if f.oversize > 0 {
				s.cfg.Drops.Add(mtp.DropTooLarge, s.local, fmt.Sprintf("a %d-byte MESSAGE body (limit %d)", f.oversize, s.rd.maxBody))
				s.cfg.logf("stomp: %s dropped a %d-byte MESSAGE body: longer than the limit of %d", s.local, f.oversize, s.rd.maxBody)
				break
			}
			s.onMessage(f)
		case gframe.RECEIPT:
			id, _ := f.get(gframe.ReceiptId)
			select {
			case s.receipts <- id:
			default: // nobody waits for it
			}
		case gframe.ERROR:
			return errors.New(errorText(f)) // fail wraps it in ErrBroken
		}
		select {
		case <-s.quit:
			return mtp.ErrClosed
		default:
		}
	}
}

// writeLoop writes queued frames, in batches when several are waiting,
// and a heart-beat after half of hbOut of silence: STOMP asks for data at
// least every hbOut, and receivers differ in the grace they allow, so the
// half leaves room for their clocks and our scheduling. On quit it writes
// what is queued and a DISCONNECT, then shuts the socket so the reader
// ends.
func (s *session) writeLoop(rdone <-chan struct{}) {
	var hb <-chan time.Time
	var timer *time.Timer
	beat := s.hbOut / 2
	if s.hbOut > 0 {
		timer = time.NewTimer(beat)
		defer timer.Stop()
		hb = timer.C
	}
	const maxBatch = 16
	pending := make([]*[]byte, 0, maxBatch)
	bufs := make(net.Buffers, 0, maxBatch)
	write := func(first *[]byte) error {
		pending = append(pending[:0], first)
	more:
		for len(pending) < maxBatch {
			select {
			case b := <-s.out:
				pending = append(pending, b)
			default:
				break more
			}
		}
		var err error
		if len(pending) == 1 {
			_, err = s.nc.Write(*first)
		} else {
			bufs = bufs[:0]
			for _, b := range pending {
				bufs = append(bufs, *b)
			}
			_, err = bufs.WriteTo(s.nc) // one writev; it consumes bufs
		}
		for i, b := range pending {
			putBuf(b)
			pending[i] = nil
		}
		if timer != nil {
			timer.Reset(beat)
		}
		return err
	}
	for {
		var err error
		select {
		case b := <-s.out:
			err = write(b)
		case <-hb:
			_, err = s.nc.Write(eol)
			timer.Reset(beat)
		case <-rdone:
			return
		case <-s.quit:
			_ = s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		drain:
			for {
				select {
				case b := <-s.out:
					_ = write(b)
				default:
					break drain
				}
			}
			// STOMP 1.2's graceful shutdown: DISCONNECT with a receipt,
			// and the socket closed once the broker has answered (or a
			// second has passed), so the broker has dropped this
			// session's subscription before a new session of the same
			// endpoint subscribes to the same destination.
			_, err := s.nc.Write(appendFrame(nil, gframe.DISCONNECT, []string{gframe.Receipt, disconnectReceipt}, nil))
			if err == nil {
				bye := time.NewTimer(time.Second)
			wait:
				for {
					select {
					case id := <-s.receipts:
						if id == disconnectReceipt {
							break wait
						}
					case <-rdone:
						break wait
					case <-bye.C:
						break wait
					}
				}
				bye.Stop()
			}
			_ = s.nc.Close()
			return
		}
		if err != nil {
			s.fail(fmt.Errorf("write: %w", err))
			_ = s.nc.Close() // the reader ends
			return
		}
	}
}

// send queues one encoded frame. It takes ownership of b.
func (s *session) send(ctx context.Context, b *[]byte) error {
	select {
	case <-s.quit:
		putBuf(b)
		return mtp.ErrClosed
	case <-s.done:
		putBuf(b)
		return s.failure()
	default:
	}
	select {
	case s.out <- b:
		return nil
	case <-s.quit:
		putBuf(b)
		return mtp.ErrClosed
	case <-s.done:
		putBuf(b)
		return s.failure()
	case <-ctx.Done():
		putBuf(b)
		return ctx.Err()
	}
}

// disconnectReceipt is the receipt asked for on DISCONNECT.
const disconnectReceipt = "brickyard-disconnect"

// waitReceipt waits for the RECEIPT with the given id.
func (s *session) waitReceipt(ctx context.Context, id string) error {
	for {
		select {
		case got := <-s.receipts:
			if got == id {
				return nil
			}
		case <-s.done:
			return s.failure()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close ends the session politely (queued frames, then DISCONNECT) and
// waits for its goroutines; a broker that does not let go within two
// seconds has its socket closed.
func (s *session) close() {
	s.quitOnce.Do(func() { close(s.quit) })
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		_ = s.nc.Close()
		<-s.done
	}
}

// encodeSend builds a SEND frame carrying one Record.
func (s *session) encodeSend(dest, replyTo string, rec []byte, receipt string) *[]byte {
	hdr := make([]string, 0, 16)
	hdr = append(hdr, gframe.Destination, dest, gframe.ContentType, contentType,
		gframe.ContentLength, strconv.Itoa(len(rec)), "reply-to-dest", replyTo)
	if receipt != "" {
		hdr = append(hdr, gframe.Receipt, receipt)
	}
	hdr = append(hdr, s.cfg.queueHeaders()...)
	b := getBuf(len(rec) + 256)
	*b = appendFrame(*b, gframe.SEND, hdr, rec)
	return b
}

// subscribe queues the SUBSCRIBE of dest with id "0" and ack:auto.
func (s *session) subscribe(ctx context.Context, dest string) error {
	hdr := append([]string{gframe.Id, subID, gframe.Destination, dest, gframe.Ack, gframe.AckAuto}, s.cfg.queueHeaders()...)
	b := getBuf(256)
	*b = appendFrame(*b, gframe.SUBSCRIBE, hdr, nil)
	return s.send(ctx, b)
}

const (
	contentType = "application/vnd.bbf.usp.msg"
	subID       = "0"
)

var eol = []byte{'\n'} // a heart-beat

// Encoded frames live in pooled buffers; the writer returns them after
// writing. Buffers above 64 KiB are left to the collector.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf(n int) *[]byte {
	b := bufPool.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, 0, n)
	}
	*b = (*b)[:0]
	return b
}

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		*b = nil
	}
	bufPool.Put(b)
}
