package emu

import (
	"context"
	"io"
	"time"
)

// idleGap is how long a line must have had nothing to send for the next
// bytes to start afresh rather than follow the last ones: more than a
// timer's lateness under load.
const idleGap = 5 * time.Millisecond

// pacer holds a UART line busy: each byte takes ten bit times at baud.
// Baud 0 is a line of no duration (unpaced).
type pacer struct {
	bit  time.Duration // one bit time
	free time.Time     // when the line is next free
}

func newPacer(baud int) *pacer {
	p := &pacer{}
	if baud > 0 {
		p.bit = time.Second / time.Duration(baud)
	}
	return p
}

// take reserves the line for n bytes and waits until they have passed;
// false when ctx ended first.
func (p *pacer) take(ctx context.Context, n int) bool {
	if p.bit == 0 {
		return ctx.Err() == nil
	}
	now := time.Now()
	if now.Sub(p.free) > idleGap {
		p.free = now // the line was idle: these bytes start now
	} // otherwise they follow the last ones, and a late wake-up is made up

	p.free = p.free.Add(time.Duration(n) * 10 * p.bit)
	d := time.Until(p.free)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// txChunk is how many bytes go to the port at once: a byte arrives at
// most this many byte times early.
const txChunk = 32

// transmit writes b paced; it stops where ctx ends (the board lost power
// mid-transmission) and returns how many bytes went out.
func transmit(ctx context.Context, w io.Writer, p *pacer, b []byte) (int, error) {
	sent := 0
	for sent < len(b) {
		n := min(txChunk, len(b)-sent)
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		if _, err := w.Write(b[sent : sent+n]); err != nil {
			return sent, err
		}
		sent += n
		if !p.take(ctx, n) {
			return sent, ctx.Err()
		}
	}
	return sent, nil
}

// receiver reads the port and hands its bytes on at the line's pace: the
// board sees a byte when its last bit has arrived. It reads as fast as the
// port gives (a serial server writes into the pseudo-terminal only as it
// has room) and paces what it read, up to 64 reads ahead.
type receiver struct {
	c    chan []byte
	done chan struct{}
	err  error // why it stopped; read after done
}

func receive(ctx context.Context, r io.Reader, baud int) *receiver {
	rx := &receiver{c: make(chan []byte, 64), done: make(chan struct{})}
	raw := make(chan []byte, 64)
	go func() { // the reader
		defer close(raw)
		for {
			buf := make([]byte, 4096)
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case raw <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				rx.err = err
				return
			}
		}
	}()
	go func() { // the line
		defer close(rx.done)
		p := newPacer(baud)
		for b := range raw {
			for len(b) > 0 {
				n := min(len(b), 256)
				if !p.take(ctx, n) {
					for range raw { // let the reader end
					}
					return
				}
				select {
				case rx.c <- b[:n]:
				case <-ctx.Done():
					for range raw {
					}
					return
				}
				b = b[n:]
			}
		}
	}()
	return rx
}
