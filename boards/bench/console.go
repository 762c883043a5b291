package bench

import (
	"strings"
	"sync"
)

// Console is a bench board's console text: everything on its UART that
// is not a frame. It keeps the last 16 KiB for diagnostics and hands the
// text to subscribers (the raw TCP console port), dropping it for one
// that does not keep up rather than holding up the link.
type Console struct {
	mu   sync.Mutex
	ring []byte
	subs map[chan []byte]struct{}
}

const consoleKeep = 16 << 10

func newConsole() *Console { return &Console{subs: map[chan []byte]struct{}{}} }

// write is the link's Console callback.
func (c *Console) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ring = append(c.ring, b...)
	if len(c.ring) > consoleKeep {
		c.ring = append(c.ring[:0], c.ring[len(c.ring)-consoleKeep:]...)
	}
	for ch := range c.subs {
		select {
		case ch <- append([]byte(nil), b...):
		default: // a slow watcher loses text, the board does not wait
		}
	}
}

// Subscribe returns a channel of the console's text from now on, and a
// function that ends the subscription and closes the channel.
func (c *Console) Subscribe() (<-chan []byte, func()) {
	ch := make(chan []byte, 256)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[ch]; ok {
			delete(c.subs, ch)
			close(ch)
		}
	}
}

// Tail is the last n lines of the console, for an error message.
func (c *Console) Tail(n int) string {
	c.mu.Lock()
	s := string(c.ring)
	c.mu.Unlock()
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
