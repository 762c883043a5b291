package workers

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The channel between a parent and a worker is a stream of frames: a
// 4-byte big-endian length, then that many bytes of one JSON Message. A
// length above MaxFrame is refused before anything is read or allocated
// (ErrFrameTooLarge); a frame that is not a Message is ErrBadFrame.

// MaxFrame is the largest frame: a worker's batch of device rows or
// Records is split to stay well under it.
const MaxFrame = 64 << 20

var (
	// ErrFrameTooLarge: a frame's length is above MaxFrame.
	ErrFrameTooLarge = errors.New("workers: frame larger than 64 MiB")
	// ErrBadFrame: a frame that does not hold one JSON Message.
	ErrBadFrame = errors.New("workers: bad frame")
)

// Message is one frame's content: T names its kind, the other fields are
// that kind's (the rest left empty). Body holds a kind's own payload as
// JSON, decoded by whoever handles the kind.
type Message struct {
	T    string          `json:"t"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Kinds of Message every mode shares.
const (
	// parent → worker
	KindStart = "start" // Body: the mode's start configuration
	KindStop  = "stop"  // end the run and report (an interrupt, or the end)
	// worker → parent
	KindHello    = "hello"    // Body: Hello
	KindProgress = "progress" // Body: the mode's progress
	KindDone     = "done"     // Body: Done; the worker exits after it
)

// Hello is what a worker says once it runs.
type Hello struct {
	PID     int    `json:"pid"`
	Metrics string `json:"metrics,omitempty"` // its metrics endpoint, http://HOST:PORT/metrics
}

// Done is a worker's last word: its report (a file), or why it has none.
type Done struct {
	Report string `json:"report,omitempty"`
	Error  string `json:"error,omitempty"`
}

// NewMessage makes a Message of kind t with body (nil: none) as JSON.
func NewMessage(t string, body any) (Message, error) {
	m := Message{T: t}
	if body == nil {
		return m, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return m, fmt.Errorf("workers: %s: %w", t, err)
	}
	m.Body = b
	return m, nil
}

// Decode reads m's body into v, strictly.
func (m Message) Decode(v any) error {
	if len(m.Body) == 0 {
		return fmt.Errorf("workers: %s: no body", m.T)
	}
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("workers: %s: %w", m.T, err)
	}
	return nil
}

// Conn is one end of a parent–worker channel. Send is safe for concurrent
// use; Recv is called by one goroutine.
type Conn struct {
	r   *bufio.Reader
	wmu sync.Mutex
	w   *bufio.Writer
	c   io.Closer
}

// NewConn frames Messages over rw (closed by Close when it is an
// io.Closer).
func NewConn(rw io.ReadWriter) *Conn {
	c := &Conn{r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
	c.c, _ = rw.(io.Closer)
	return c
}

// Send writes m as one frame and flushes it.
func (c *Conn) Send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("workers: %s: %w", m.T, err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("workers: %s: %d bytes: %w", m.T, len(b), ErrFrameTooLarge)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := c.w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.w.Flush()
}

// SendBody is Send(NewMessage(t, body)).
func (c *Conn) SendBody(t string, body any) error {
	m, err := NewMessage(t, body)
	if err != nil {
		return err
	}
	return c.Send(m)
}

// Recv reads the next Message: io.EOF when the other end closed the
// channel between frames.
func (c *Conn) Recv() (Message, error) {
	return ReadFrame(c.r)
}

// Close closes the channel.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}

// ReadFrame reads one frame from r: io.EOF at a clean end between
// frames, io.ErrUnexpectedEOF within one, ErrFrameTooLarge for a length
// above MaxFrame (before reading it), ErrBadFrame for a body that is not
// a Message with a kind.
func ReadFrame(r io.Reader) (Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return Message{}, fmt.Errorf("%w (%d bytes)", ErrFrameTooLarge, n)
	}
	// Grown as the bytes arrive: a length alone commits no memory.
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return Message{}, err
	}
	if len(b) < int(n) {
		return Message{}, io.ErrUnexpectedEOF
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if m.T == "" {
		return Message{}, fmt.Errorf("%w: no kind", ErrBadFrame)
	}
	return m, nil
}
