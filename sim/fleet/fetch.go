package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"brickyard/sim/device"
)

// ErrPowerCut is returned by a Fetcher when the fetch's PowerCut fault
// lands: the shell then cuts the device's power instead of calling
// FetchDone.
var ErrPowerCut = errors.New("fleet: power cut during download")

// Fetcher downloads what a device asks for (device.Fetch), applying the
// fetch's fault fields. Fetch blocks; the caller owns the goroutine.
type Fetcher interface {
	Fetch(ctx context.Context, f device.Fetch) ([]byte, error)
}

// HTTPFetcher fetches with net/http: GET with Basic authentication when
// the fetch has a Username, at the fault's rate (paced with Clock),
// truncated or corrupted as the fault says.
//
// Memory is bounded before it is spent: a download holds at most its
// target slot's size (device.Fetch.MaxSize, itself capped by MaxSize), is
// refused at once when the server announces more, and is read into one
// buffer of the announced size (no doubling as it grows); at most
// MaxActive downloads read at a time, the others wait for one to end, as
// behind a saturated link. So a fleet holds at most MaxActive × the
// largest slot in downloads, whatever a controller points it at.
type HTTPFetcher struct {
	Client  *http.Client // default http.DefaultClient
	MaxSize int64        // default 64 MiB; a fetch's own MaxSize, when smaller, wins
	Clock   Clock        // default StdClock
	// Timeout bounds a whole download, as a device's download client
	// does: a server that stalls fails the download instead of holding
	// the device in Downloading. 0: 10 minutes; negative: none.
	Timeout time.Duration
	// StallTimeout fails a download that receives no byte for this long
	// (the headers included). 0: 60 s; negative: none.
	StallTimeout time.Duration
	// MaxActive is how many downloads may be under way at once; 0: 256.
	MaxActive int

	once  sync.Once
	slots chan struct{}
}

// ErrStalled is wrapped by the error of a download that received nothing
// for StallTimeout.
var ErrStalled = errors.New("download stalled")

// ErrTooLarge is wrapped by the error of a download larger than the slot
// it is for.
var ErrTooLarge = errors.New("image larger than the slot")

// Fetch implements Fetcher.
func (h *HTTPFetcher) Fetch(ctx context.Context, f device.Fetch) ([]byte, error) {
	client, clock, limit := h.Client, h.Clock, h.MaxSize
	if client == nil {
		client = http.DefaultClient
	}
	if clock == nil {
		clock = StdClock{}
	}
	if limit <= 0 {
		limit = 64 << 20
	}
	if f.MaxSize > 0 && int64(f.MaxSize) < limit {
		limit = int64(f.MaxSize)
	}
	if h.Timeout >= 0 {
		timeout := h.Timeout
		if timeout == 0 {
			timeout = 10 * time.Minute
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	h.once.Do(func() {
		n := h.MaxActive
		if n <= 0 {
			n = 256
		}
		h.slots = make(chan struct{}, n)
	})
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("fetch %s: waiting for a download slot: %w", f.URL, ctx.Err())
	}
	ctx, stall := h.watchdog(ctx, clock)
	defer stall.stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	if f.Username != "" {
		req.SetBasicAuth(f.Username, f.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, stall.explain(err)
	}
	defer resp.Body.Close()
	stall.kick()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, fmt.Errorf("fetch %s: HTTP %s", f.URL, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("fetch %s: %d bytes: %w of %d bytes", f.URL, resp.ContentLength, ErrTooLarge, limit)
	}
	total := resp.ContentLength
	if total < 0 {
		total = int64(f.SizeHint)
	}
	want := int64(-1) // bytes to deliver (truncate)
	if f.Truncate > 0 && total > 0 {
		want = int64(float64(total) * f.Truncate)
	}
	cutAt := int64(-1)
	if f.PowerCut != nil && total > 0 {
		cutAt = int64(float64(total) * f.PowerCut.Fraction)
	}
	// One buffer of the announced size (and a byte to see the end in);
	// without one, grown as needed, never past limit+1, the byte that
	// shows the image is too large.
	var data []byte
	if cl := resp.ContentLength; cl >= 0 {
		data = make([]byte, 0, cl+1)
	}
	chunk := 32 << 10
	if f.Rate > 0 {
		chunk = min(chunk, max(1, f.Rate/10))
	}
	for {
		if cutAt >= 0 && int64(len(data)) >= cutAt {
			return nil, ErrPowerCut
		}
		if want >= 0 && int64(len(data)) >= want {
			data = data[:want]
			break
		}
		if len(data) == cap(data) { // len ≤ limit here, so this grows by ≥ 1
			data = slices.Grow(data, min(max(len(data), chunk), int(limit+1)-len(data)))
		}
		room := min(cap(data)-len(data), chunk)
		n, err := resp.Body.Read(data[len(data) : len(data)+room])
		data = data[:len(data)+n]
		if n > 0 {
			stall.kick()
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("fetch %s: %w of %d bytes", f.URL, ErrTooLarge, limit)
		}
		if f.Rate > 0 && n > 0 {
			if err := sleep(ctx, clock, time.Duration(float64(n)/float64(f.Rate)*float64(time.Second))); err != nil {
				return nil, stall.explain(err)
			}
		}
		if err == io.EOF {
			// The last bytes may come with EOF: the cut points still apply.
			if cutAt >= 0 && int64(len(data)) >= cutAt {
				return nil, ErrPowerCut
			}
			if want >= 0 && int64(len(data)) > want {
				data = data[:want]
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", f.URL, stall.explain(err))
		}
	}
	if f.Corrupt && len(data) > 0 {
		data[len(data)/2] ^= 0x40
	}
	return data, nil
}

// stallWatch cancels a download's context when no byte arrived for the
// stall timeout. Its goroutine belongs to the Fetch that made it, which
// stops it before returning.
type stallWatch struct {
	kicks   chan struct{}
	done    chan struct{}
	ended   chan struct{}
	timeout time.Duration
	ctx     context.Context
}

func (h *HTTPFetcher) watchdog(parent context.Context, clock Clock) (context.Context, *stallWatch) {
	timeout := h.StallTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	w := &stallWatch{timeout: timeout}
	if timeout < 0 {
		w.ctx = parent
		return parent, w
	}
	ctx, cancel := context.WithCancelCause(parent)
	w.ctx = ctx
	w.kicks, w.done, w.ended = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.ended)
		t, ch := clock.NewTimer(timeout)
		defer t.Stop()
		for {
			select {
			case <-ch:
				cancel(fmt.Errorf("%w: nothing received for %v", ErrStalled, timeout))
				return
			case <-w.kicks:
				t.Stop()
				t.Reset(timeout)
			case <-w.done:
				cancel(nil)
				return
			}
		}
	}()
	return ctx, w
}

// kick says bytes arrived.
func (w *stallWatch) kick() {
	if w.kicks != nil {
		select {
		case w.kicks <- struct{}{}:
		default: // a kick is pending already
		}
	}
}

// stop ends the watch and waits for its goroutine.
func (w *stallWatch) stop() {
	if w.done != nil {
		close(w.done)
		<-w.ended
	}
}

// explain turns the cancellation the watch caused into its reason.
func (w *stallWatch) explain(err error) error {
	if c := context.Cause(w.ctx); c != nil && errors.Is(c, ErrStalled) {
		return c
	}
	return err
}

func sleep(ctx context.Context, c Clock, d time.Duration) error {
	t, ch := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
