package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"brickyard/boards/bench/wire"
)

// Errors of a link.
var (
	// ErrOffline: the board stopped answering, or answers in a way the
	// link cannot go on with; the error wraps why.
	ErrOffline = errors.New("bench: board offline")
	// ErrReset: the board reset (its Hello arrived) while a request was
	// outstanding.
	ErrReset = errors.New("bench: the board reset during the request")
	// ErrCut: the board's rig cut its power (a Cut event) while a request
	// was outstanding.
	ErrCut = errors.New("bench: the board's power was cut during the request")
	// ErrClosed: the link was closed.
	ErrClosed = errors.New("bench: link closed")
)

// LinkConfig tunes a link. The zero value is usable.
type LinkConfig struct {
	// Baud is the line's rate, used to size the timeout (0: 115200).
	Baud int
	// Timeout is how long one attempt waits for its answer (0: the time
	// two largest frames take at Baud, plus Slack).
	Timeout time.Duration
	// Slack is added to the computed timeout for the board's own work
	// (an erase) and the way there (0: 500 ms).
	Slack time.Duration
	// Retries is how many times a request is sent again after a timeout
	// (0: 3; negative: none).
	Retries int
	// Console receives the board's console text, in the reader goroutine;
	// it must not block for long. Nil discards.
	Console func([]byte)
}

// Stats count a link's traffic.
type Stats struct {
	Requests, Retries, Timeouts  uint64
	BadFrames, TextBytes, Events uint64
	BytesOut, BytesIn            uint64
	PayloadOut, PayloadIn        uint64 // payload bytes of frames sent and received
}

// Link is brickyard's end of a bench board's link: it frames requests,
// matches answers by sequence number, times out and retries, passes the
// console text on, and hands the board's events (Hello, Cut) to whoever
// waits for them. Requests are stop-and-wait: one outstanding at a time.
// A link owns one goroutine, its reader; Close stops it and closes the
// port.
type Link struct {
	port io.ReadWriteCloser
	cfg  LinkConfig

	mu  sync.Mutex // one request at a time; guards seq and out
	seq uint8
	out []byte

	resp   chan wire.Frame
	events chan wire.Frame
	done   chan struct{} // closed when the reader ends
	rerr   error         // why the reader ended; read after done

	offline atomic.Pointer[error]
	gone    chan struct{} // closed when the link goes offline
	goneMu  sync.Mutex
	closed  atomic.Bool
	stats   struct {
		requests, retries, timeouts, bad, text, events, bytesOut, bytesIn, payOut, payIn atomic.Uint64
	}
}

// NewLink starts a link on port.
func NewLink(port io.ReadWriteCloser, cfg LinkConfig) *Link {
	if cfg.Baud <= 0 {
		cfg.Baud = 115200
	}
	if cfg.Slack <= 0 {
		cfg.Slack = 500 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = FrameTime(cfg.Baud, 2*wire.MaxFrame) + cfg.Slack
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 3
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	l := &Link{port: port, cfg: cfg, resp: make(chan wire.Frame, 4), events: make(chan wire.Frame, 16), done: make(chan struct{}), gone: make(chan struct{})}
	go l.read()
	return l
}

// FrameTime is how long n bytes take on a UART at baud, 8N1: ten bits a
// byte.
func FrameTime(baud, n int) time.Duration {
	return time.Duration(int64(n) * 10 * int64(time.Second) / int64(baud))
}

// Timeout is the link's per-attempt timeout.
func (l *Link) Timeout() time.Duration { return l.cfg.Timeout }

// read is the reader goroutine: the port's bytes through a splitter.
func (l *Link) read() {
	defer close(l.done)
	s := wire.Splitter{
		Frame: func(f wire.Frame) {
			l.stats.payIn.Add(uint64(len(f.Payload)))
			switch {
			case f.Flags&wire.FlagEvent != 0:
				l.stats.events.Add(1)
				select {
				case l.events <- f:
				default: // nobody has read the last 16: drop the oldest
					select {
					case <-l.events:
					default:
					}
					l.events <- f
				}
			case f.Flags&wire.FlagResp != 0:
				select {
				case l.resp <- f:
				default: // stale answers nobody waits for
				}
			default:
				l.stats.bad.Add(1) // a request from the board: not in this protocol
			}
		},
		Text: func(b []byte) {
			l.stats.text.Add(uint64(len(b)))
			if l.cfg.Console != nil {
				l.cfg.Console(b)
			}
		},
		Bad: func(err error) {
			l.stats.bad.Add(1)
			var ve *wire.VersionError
			if errors.As(err, &ve) {
				l.setOffline(fmt.Errorf("the board speaks link protocol version %d, brickyard speaks %d", ve.Got, wire.Version))
			}
		},
	}
	buf := make([]byte, 4096)
	for {
		n, err := l.port.Read(buf)
		if n > 0 {
			l.stats.bytesIn.Add(uint64(n))
			s.Feed(buf[:n])
		}
		if err != nil {
			if !l.closed.Load() {
				l.rerr = err
				l.setOffline(fmt.Errorf("reading the port: %w", err))
			}
			return
		}
	}
}

func (l *Link) setOffline(err error) {
	e := fmt.Errorf("%w: %w", ErrOffline, err)
	if l.offline.CompareAndSwap(nil, &e) {
		l.goneMu.Lock()
		close(l.gone)
		l.goneMu.Unlock()
	}
}

// Gone is closed when the link goes offline (until a Revive).
func (l *Link) Gone() <-chan struct{} {
	l.goneMu.Lock()
	defer l.goneMu.Unlock()
	return l.gone
}

// Offline is why the link is offline, nil while it is not.
func (l *Link) Offline() error {
	if p := l.offline.Load(); p != nil {
		return *p
	}
	return nil
}

// Revive clears an offline state caused by silence, after the board has
// been power-cycled or reconnected: the next request tries again. A
// reader that ended (the port failed) or a wrong protocol version stays.
func (l *Link) Revive() {
	select {
	case <-l.done:
		return
	default:
	}
	if p := l.offline.Load(); p != nil && errors.Is(*p, errSilent) {
		l.goneMu.Lock()
		if l.offline.CompareAndSwap(p, nil) {
			l.gone = make(chan struct{})
		}
		l.goneMu.Unlock()
	}
}

var errSilent = errors.New("no answer")

// Do sends a request and returns its answer: a FlagResp frame of the
// same sequence number (with FlagErr, its ErrorResp as the error, an
// wire.ErrorResp). Each attempt waits Timeout; after Retries more
// attempts the link goes offline. A Hello or Cut event during the request
// ends it with ErrReset or ErrCut (the event stays for the next Event).
func (l *Link) Do(ctx context.Context, typ wire.Type, flags wire.Flags, payload []byte) (wire.Frame, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return wire.Frame{}, err
	}
	l.seq++
	if l.seq == 0 {
		l.seq = 1 // 0 is the events'
	}
	seq := l.seq
	var err error
	l.out, err = wire.Append(l.out[:0], wire.Frame{Type: typ, Flags: flags, Seq: seq, Payload: payload})
	if err != nil {
		return wire.Frame{}, err
	}
	l.stats.requests.Add(1)
	timer := time.NewTimer(l.cfg.Timeout)
	defer timer.Stop()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			l.stats.retries.Add(1)
		}
		if _, err := l.port.Write(l.out); err != nil {
			l.setOffline(fmt.Errorf("writing the port: %w", err))
			return wire.Frame{}, l.Offline()
		}
		l.stats.bytesOut.Add(uint64(len(l.out)))
		l.stats.payOut.Add(uint64(len(payload)))
		if attempt > 0 {
			timer.Reset(l.cfg.Timeout)
		}
	wait:
		select {
		case f := <-l.resp:
			if f.Seq != seq || f.Type != typ {
				goto wait // an answer to an earlier attempt or request
			}
			return answer(f)
		case ev := <-l.events:
			l.unread(ev)
			// The reader queues frames in the order they came: an answer
			// sent before the event is queued already.
			for done := false; !done; {
				select {
				case f := <-l.resp:
					if f.Seq == seq && f.Type == typ {
						return answer(f)
					}
				default:
					done = true
				}
			}
			if ev.Type == wire.TypeCut {
				return wire.Frame{}, fmt.Errorf("%s: %w", typ, ErrCut)
			}
			return wire.Frame{}, fmt.Errorf("%s: %w", typ, ErrReset)
		case <-timer.C:
			l.stats.timeouts.Add(1)
			if attempt < l.cfg.Retries {
				continue
			}
			l.setOffline(fmt.Errorf("%w to %s after %d attempts of %s", errSilent, typ, attempt+1, l.cfg.Timeout))
			return wire.Frame{}, l.Offline()
		case <-l.done:
			return wire.Frame{}, l.usable()
		case <-ctx.Done():
			return wire.Frame{}, ctx.Err()
		}
	}
}

// answer is a response's result: the frame, or its ErrorResp.
func answer(f wire.Frame) (wire.Frame, error) {
	if f.Flags&wire.FlagErr != 0 {
		e, err := wire.UnmarshalErrorResp(f.Payload)
		if err != nil {
			return f, fmt.Errorf("%s: error answer: %w", f.Type, err)
		}
		return f, e
	}
	return f, nil
}

func (l *Link) usable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if err := l.Offline(); err != nil {
		return err
	}
	select {
	case <-l.done:
		return fmt.Errorf("%w: reader ended: %w", ErrOffline, l.rerr)
	default:
	}
	return nil
}

// unread puts an event back at the head of the queue (best effort: the
// queue is short and this runs under mu, the only other reader).
func (l *Link) unread(ev wire.Frame) {
	rest := []wire.Frame{ev}
	for {
		select {
		case e := <-l.events:
			rest = append(rest, e)
			continue
		default:
		}
		break
	}
	for _, e := range rest {
		select {
		case l.events <- e:
		default:
		}
	}
}

// Event waits for the board's next event (Hello or Cut) until timeout.
func (l *Link) Event(ctx context.Context, timeout time.Duration) (wire.Frame, error) {
	if err := l.Offline(); err != nil {
		return wire.Frame{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev := <-l.events:
		return ev, nil
	case <-l.Gone():
		return wire.Frame{}, l.Offline()
	case <-t.C:
		return wire.Frame{}, fmt.Errorf("%w: no event within %s", errSilent, timeout)
	case <-l.done:
		if err := l.usable(); err != nil {
			return wire.Frame{}, err
		}
		return wire.Frame{}, ErrClosed
	case <-ctx.Done():
		return wire.Frame{}, ctx.Err()
	}
}

// Events is the queue of the board's events, for a caller that waits on
// it with other things.
func (l *Link) Events() <-chan wire.Frame { return l.events }

// Done is closed when the link's reader ends (the port failed or was
// closed).
func (l *Link) Done() <-chan struct{} { return l.done }

// TakeEvent returns the next event already received, if any.
func (l *Link) TakeEvent() (wire.Frame, bool) {
	select {
	case ev := <-l.events:
		return ev, true
	default:
		return wire.Frame{}, false
	}
}

// Send sends a request without waiting for its answer (an answer that
// comes is dropped as stale): how brickyard puts an operation on the line
// just before it cuts the board's power.
func (l *Link) Send(typ wire.Type, flags wire.Flags, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	l.seq++
	if l.seq == 0 {
		l.seq = 1
	}
	var err error
	if l.out, err = wire.Append(l.out[:0], wire.Frame{Type: typ, Flags: flags, Seq: l.seq, Payload: payload}); err != nil {
		return err
	}
	l.stats.requests.Add(1)
	if _, err := l.port.Write(l.out); err != nil {
		l.setOffline(fmt.Errorf("writing the port: %w", err))
		return l.Offline()
	}
	l.stats.bytesOut.Add(uint64(len(l.out)))
	l.stats.payOut.Add(uint64(len(payload)))
	return nil
}

// DropEvents discards the events received so far: before a reset whose
// Hello the caller will wait for.
func (l *Link) DropEvents() {
	for {
		select {
		case <-l.events:
		default:
			return
		}
	}
}

// Stats is a snapshot of the link's counters.
func (l *Link) Stats() Stats {
	s := &l.stats
	return Stats{Requests: s.requests.Load(), Retries: s.retries.Load(), Timeouts: s.timeouts.Load(),
		BadFrames: s.bad.Load(), TextBytes: s.text.Load(), Events: s.events.Load(),
		BytesOut: s.bytesOut.Load(), BytesIn: s.bytesIn.Load(), PayloadOut: s.payOut.Load(), PayloadIn: s.payIn.Load()}
}

// Close closes the port and waits for the reader to end.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		<-l.done
		return nil
	}
	err := l.port.Close()
	<-l.done
	return err
}
