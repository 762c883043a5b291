package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/fleet"
)

// fetchPayload is n bytes that differ from their neighbours, so a shifted,
// shortened or altered copy shows.
func fetchPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// fetchServer serves h on loopback and returns its URL and a client whose
// transport counts the body bytes the fetcher reads.
func fetchServer(t *testing.T, h http.HandlerFunc) (string, *fetchCounter) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, &fetchCounter{rt: srv.Client().Transport, headers: make(chan struct{}), firstByte: make(chan struct{})}
}

// fetchCounter is an http.RoundTripper that counts the response body bytes
// read through it and says when the headers and the first body byte have
// arrived.
type fetchCounter struct {
	rt        http.RoundTripper
	read      atomic.Int64
	headers   chan struct{} // closed when RoundTrip returns a response
	firstByte chan struct{} // closed when the first body byte is read
	once      [2]sync.Once
}

func (c *fetchCounter) client() *http.Client { return &http.Client{Transport: c} }

func (c *fetchCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = &fetchCountingBody{ReadCloser: resp.Body, c: c}
		c.once[0].Do(func() { close(c.headers) })
	}
	return resp, err
}

type fetchCountingBody struct {
	io.ReadCloser
	c *fetchCounter
}

func (b *fetchCountingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.c.read.Add(int64(n)) > 0 {
		b.c.once[1].Do(func() { close(b.c.firstByte) })
	}
	return n, err
}

// fetchClock is a fake Clock. Auto timers fire at once and advance now by
// their duration; otherwise each new timer is handed to the test on
// pending and fires only when the test says so.
type fetchClock struct {
	auto    bool
	pending chan fetchTimer

	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

type fetchTimer struct {
	d    time.Duration
	fire chan time.Time
}

func (fetchTimer) Stop() bool                 { return true }
func (fetchTimer) Reset(d time.Duration) bool { return true }

func (c *fetchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fetchClock) NewTimer(d time.Duration) (fleet.TimerController, <-chan time.Time) {
	tm := fetchTimer{d: d, fire: make(chan time.Time, 1)}
	c.mu.Lock()
	c.slept = append(c.slept, d)
	if c.auto {
		c.now = c.now.Add(d)
		tm.fire <- c.now
	}
	c.mu.Unlock()
	if !c.auto {
		c.pending <- tm
	}
	return tm, tm.fire
}

func (c *fetchClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// fetchAsync runs Fetch on its own goroutine.
func fetchAsync(ctx context.Context, h *fleet.HTTPFetcher, f device.Fetch) <-chan fetchResult {
	done := make(chan fetchResult, 1)
	go func() {
		data, err := h.Fetch(ctx, f)
		done <- fetchResult{data, err}
	}()
	return done
}

type fetchResult struct {
	data []byte
	err  error
}

// fetchWait waits for a Fetch that must end now that its context is
// canceled; the bound only keeps a broken fetcher from hanging the test.
func fetchWait(t *testing.T, done <-chan fetchResult) fetchResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return after its context was canceled")
		return fetchResult{}
	}
}

// serveBytes answers with body and its Content-Length.
func serveBytes(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// serveChunked answers with body, chunked (no Content-Length), in writes of
// at most 4 KiB.
func serveChunked(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for len(body) > 0 {
			n := min(len(body), 4096)
			if _, err := w.Write(body[:n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			body = body[n:]
		}
	}
}

func TestHTTPFetcher_Responses(t *testing.T) {
	small, big := fetchPayload(1000), fetchPayload(300<<10)
	var auth struct {
		mu       sync.Mutex
		header   string
		user, pw string
		ok       bool
	}
	recordAuth := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			auth.mu.Lock()
			auth.header = r.Header.Get("Authorization")
			auth.user, auth.pw, auth.ok = r.BasicAuth()
			auth.mu.Unlock()
			serveBytes(body)(w, r)
		}
	}
	endless := func(w http.ResponseWriter, r *http.Request) {
		chunk := fetchPayload(4096)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
	tests := []struct {
		name    string
		h       http.HandlerFunc
		f       device.Fetch // URL filled in
		maxSize int64
		want    []byte // the bytes, when no error is wanted
		wantErr string // a substring of the error
		check   func(t *testing.T, read int64)
	}{
		{name: "200 with a body", h: serveBytes(small), want: small},
		{name: "200 with a large body", h: serveBytes(big), want: big},
		{name: "200 chunked", h: serveChunked(big), want: big},
		{name: "200 empty", h: serveBytes(nil), want: []byte{}},
		{name: "Basic auth sent with a Username", h: recordAuth(small), f: device.Fetch{Username: "ota", Password: "s3cret:x"}, want: small,
			check: func(t *testing.T, _ int64) {
				auth.mu.Lock()
				defer auth.mu.Unlock()
				if !auth.ok || auth.user != "ota" || auth.pw != "s3cret:x" {
					t.Fatalf("server saw Basic auth %v %q %q", auth.ok, auth.user, auth.pw)
				}
			}},
		{name: "no auth without a Username", h: recordAuth(small), f: device.Fetch{Password: "ignored"}, want: small,
			check: func(t *testing.T, _ int64) {
				auth.mu.Lock()
				defer auth.mu.Unlock()
				if auth.header != "" {
					t.Fatalf("server saw Authorization %q", auth.header)
				}
			}},
		{name: "404 names the status", h: http.NotFound, wantErr: "404 Not Found"},
		{name: "500 names the status", h: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, wantErr: "500 Internal Server Error"},
		{name: "404 with an endless body: drained at most a little", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			endless(w, r)
		}, wantErr: "404 Not Found",
			check: func(t *testing.T, read int64) {
				if read > 4<<10 {
					t.Fatalf("read %d bytes of an error body", read)
				}
			}},
		{name: "204 is not 200", h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, wantErr: "204 No Content"},
		{name: "401 without the credentials", h: func(w http.ResponseWriter, r *http.Request) {
			if _, _, ok := r.BasicAuth(); !ok {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			}
			serveBytes(small)(w, r)
		}, wantErr: "401 Unauthorized"},
		{name: "Content-Length over MaxSize: refused unread", h: serveBytes(big), maxSize: 64 << 10, wantErr: "larger than the slot of 65536 bytes",
			check: func(t *testing.T, read int64) {
				if read != 0 {
					t.Fatalf("read %d body bytes of an oversized image", read)
				}
			}},
		{name: "Content-Length of exactly MaxSize", h: serveBytes(big), maxSize: int64(len(big)), want: big},
		{name: "chunked body over MaxSize: stops reading", h: endless, maxSize: 64 << 10, wantErr: "larger than the slot of 65536 bytes",
			check: func(t *testing.T, read int64) {
				if read > 64<<10+32<<10 {
					t.Fatalf("read %d bytes for a limit of 64 KiB", read)
				}
			}},
		// The device's slot bounds the download below the fetcher's own
		// limit: an endless body stops at the slot's size plus a chunk.
		{name: "chunked body over the slot", h: endless, f: device.Fetch{MaxSize: 16 << 10}, wantErr: "larger than the slot of 16384 bytes",
			check: func(t *testing.T, read int64) {
				if read > 16<<10+32<<10 {
					t.Fatalf("read %d bytes for a 16 KiB slot", read)
				}
			}},
		{name: "Content-Length over the slot: refused unread", h: serveBytes(big), f: device.Fetch{MaxSize: 1000}, wantErr: "larger than the slot of 1000 bytes",
			check: func(t *testing.T, read int64) {
				if read != 0 {
					t.Fatalf("read %d body bytes of an image larger than the slot", read)
				}
			}},
		{name: "connection closed before Content-Length", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write(small)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the server closes the connection
		}, wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, cnt := fetchServer(t, tt.h)
			f := tt.f
			f.URL = url + "/fw.img"
			h := &fleet.HTTPFetcher{Client: cnt.client(), MaxSize: tt.maxSize}
			data, err := h.Fetch(context.Background(), f)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				if data != nil {
					t.Fatalf("%d bytes returned with the error", len(data))
				}
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(data, tt.want):
				t.Fatalf("got %d bytes, want %d (equal %v)", len(data), len(tt.want), bytes.Equal(data, tt.want))
			}
			if tt.check != nil {
				tt.check(t, cnt.read.Load())
			}
		})
	}
}

func TestHTTPFetcher_BadURL(t *testing.T) {
	h := &fleet.HTTPFetcher{}
	if _, err := h.Fetch(context.Background(), device.Fetch{URL: "://no"}); err == nil {
		t.Fatal("a malformed URL fetched")
	}
}

// The fault fields: Truncate delivers int(len×fraction) bytes (of the
// Content-Length, or of SizeHint for a chunked body); Corrupt flips bit
// 0x40 of the byte at len/2 of what is delivered; PowerCut returns
// ErrPowerCut once int(len×fraction) bytes have arrived. The truncation
// and cut points here lie before the end of the last read (see the
// pacing cases for fine-grained reads).
func TestHTTPFetcher_Faults(t *testing.T) {
	body := fetchPayload(200 << 10) // several 32 KiB reads
	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0x40
		return b
	}
	tests := []struct {
		name    string
		h       http.HandlerFunc
		f       device.Fetch
		clock   bool // pace with an auto-firing fake clock
		want    []byte
		wantErr error
	}{
		{name: "truncate a quarter", h: serveBytes(body), f: device.Fetch{Truncate: 0.25}, want: body[:len(body)/4]},
		{name: "truncate chunked by SizeHint", h: serveChunked(body), f: device.Fetch{Truncate: 0.3, SizeHint: uint64(len(body))},
			want: body[:int(float64(len(body))*0.3)]},
		{name: "truncate paced", h: serveBytes(body[:10000]), f: device.Fetch{Truncate: 0.55, Rate: 10000}, clock: true, want: body[:5500]},
		{name: "corrupt", h: serveBytes(body), f: device.Fetch{Corrupt: true}, want: flip(body)},
		{name: "corrupt a small body", h: serveBytes(body[:3]), f: device.Fetch{Corrupt: true}, want: flip(body[:3])},
		{name: "corrupt one byte", h: serveBytes(body[:1]), f: device.Fetch{Corrupt: true}, want: flip(body[:1])},
		{name: "corrupt nothing", h: serveBytes(nil), f: device.Fetch{Corrupt: true}, want: []byte{}},
		{name: "truncate then corrupt", h: serveBytes(body), f: device.Fetch{Truncate: 0.5, Corrupt: true}, want: flip(body[:len(body)/2])},
		{name: "power cut half way", h: serveBytes(body), f: device.Fetch{PowerCut: &faults.Cut{Fraction: 0.5}}, wantErr: fleet.ErrPowerCut},
		{name: "power cut paced", h: serveBytes(body[:10000]), f: device.Fetch{PowerCut: &faults.Cut{Fraction: 0.3}, Rate: 10000}, clock: true, wantErr: fleet.ErrPowerCut},
		{name: "power cut at 0: before any byte", h: serveBytes(body), f: device.Fetch{PowerCut: &faults.Cut{Fraction: 0}}, wantErr: fleet.ErrPowerCut},
		{name: "power cut before the truncation point", h: serveBytes(body), f: device.Fetch{PowerCut: &faults.Cut{Fraction: 0.2}, Truncate: 0.6}, wantErr: fleet.ErrPowerCut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, cnt := fetchServer(t, tt.h)
			f := tt.f
			f.URL = url
			h := &fleet.HTTPFetcher{Client: cnt.client()}
			if tt.clock {
				h.Clock = &fetchClock{auto: true}
				h.StallTimeout = -1 // the fake clock is for the pacing
			}
			data, err := h.Fetch(context.Background(), f)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || data != nil {
					t.Fatalf("err %v with %d bytes, want %v", err, len(data), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, tt.want) {
				diff := 0
				for i := range min(len(data), len(tt.want)) {
					if data[i] != tt.want[i] {
						diff++
					}
				}
				t.Fatalf("got %d bytes, want %d; %d bytes differ", len(data), len(tt.want), diff)
			}
		})
	}
}

// The truncation and cut points hold when they lie in the read that also
// reaches the end of the body: net/http returns a Content-Length body's
// last bytes together with io.EOF.
func TestHTTPFetcher_FaultPointInLastRead(t *testing.T) {
	for _, n := range []int{1000, 20000, 200 << 10} {
		body := fetchPayload(n)
		url, cnt := fetchServer(t, serveBytes(body))
		h := &fleet.HTTPFetcher{Client: cnt.client()}
		data, err := h.Fetch(context.Background(), device.Fetch{URL: url, Truncate: 0.99})
		if want := int(float64(n) * 0.99); err != nil || !bytes.Equal(data, body[:want]) {
			t.Errorf("%d-byte body, Truncate 0.99: got %d bytes, err %v; want %d bytes", n, len(data), err, want)
		}
		data, err = h.Fetch(context.Background(), device.Fetch{URL: url, PowerCut: &faults.Cut{Fraction: 0.99}})
		if !errors.Is(err, fleet.ErrPowerCut) || data != nil {
			t.Errorf("%d-byte body, PowerCut 0.99: got %d bytes, err %v; want ErrPowerCut", n, len(data), err)
		}
	}
}

// Corrupt changes exactly one byte, by one bit, and nothing else.
func TestHTTPFetcher_CorruptFlipsExactlyOneByte(t *testing.T) {
	for _, n := range []int{1, 2, 999, 1000, 70000} {
		body := fetchPayload(n)
		url, cnt := fetchServer(t, serveBytes(body))
		h := &fleet.HTTPFetcher{Client: cnt.client()}
		data, err := h.Fetch(context.Background(), device.Fetch{URL: url, Corrupt: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != n {
			t.Fatalf("%d bytes: got %d", n, len(data))
		}
		var at []int
		for i := range data {
			if data[i] != body[i] {
				at = append(at, i)
			}
		}
		if len(at) != 1 || at[0] != n/2 || data[n/2]^body[n/2] != 0x40 {
			t.Fatalf("%d bytes: differences at %v", n, at)
		}
	}
}

// Rate paces the reads with the Clock: reads of at most Rate/10 bytes,
// each followed by a wait of its bytes/Rate, so the waits add up to the
// body's length/Rate; the bytes are intact. The fake clock fires at once:
// no wall-clock time is involved.
func TestHTTPFetcher_RatePacing(t *testing.T) {
	for _, tc := range []struct {
		size, rate int
		chunked    bool
	}{
		{size: 10000, rate: 10000},
		{size: 100 << 10, rate: 64 << 10},
		{size: 12345, rate: 5, chunked: true}, // reads of 1 byte (Rate/10 rounds to 0)
		{size: 100 << 10, rate: 1 << 30},      // reads capped at 32 KiB
	} {
		t.Run(fmt.Sprintf("%dB at %dBps", tc.size, tc.rate), func(t *testing.T) {
			body := fetchPayload(tc.size)
			h := serveBytes(body)
			if tc.chunked {
				h = serveChunked(body)
			}
			url, cnt := fetchServer(t, h)
			clk := &fetchClock{auto: true}
			f := &fleet.HTTPFetcher{Client: cnt.client(), Clock: clk, StallTimeout: -1}
			data, err := f.Fetch(context.Background(), device.Fetch{URL: url, Rate: tc.rate})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, body) {
				t.Fatal("paced body differs")
			}
			sleeps := clk.sleeps()
			perRead := time.Duration(float64(min(32<<10, max(1, tc.rate/10))) / float64(tc.rate) * float64(time.Second))
			var total time.Duration
			for i, d := range sleeps {
				if d <= 0 || d > perRead {
					t.Fatalf("wait %d is %v, want 0 < wait ≤ %v", i, d, perRead)
				}
				total += d
			}
			want := time.Duration(float64(tc.size) / float64(tc.rate) * float64(time.Second))
			if diff := (total - want).Abs(); diff > time.Duration(len(sleeps)) {
				t.Fatalf("waits add up to %v over %d reads, want %v", total, len(sleeps), want)
			}
			if least := tc.size / max(1, min(32<<10, tc.rate/10)); len(sleeps) < least {
				t.Fatalf("%d waits, want at least %d", len(sleeps), least)
			}
			if got := clk.Now().Sub(time.Time{}); got != total {
				t.Fatalf("clock advanced %v, waits %v", got, total)
			}
		})
	}
	t.Run("no Rate, no waits", func(t *testing.T) {
		url, cnt := fetchServer(t, serveBytes(fetchPayload(100<<10)))
		clk := &fetchClock{auto: true}
		f := &fleet.HTTPFetcher{Client: cnt.client(), Clock: clk, StallTimeout: -1}
		if _, err := f.Fetch(context.Background(), device.Fetch{URL: url}); err != nil {
			t.Fatal(err)
		}
		if n := len(clk.sleeps()); n != 0 {
			t.Fatalf("%d waits without a Rate", n)
		}
	})
}

// A paced Fetch waits on each of its timers in turn and on nothing else:
// it asks for the next timer only once the previous one fired, and while
// a timer is pending it returns only when its context is canceled, with
// the context's error.
func TestHTTPFetcher_PacingWaitsOnTheClock(t *testing.T) {
	body := fetchPayload(10000)
	url, cnt := fetchServer(t, serveBytes(body))
	clk := &fetchClock{pending: make(chan fetchTimer)}
	f := &fleet.HTTPFetcher{Client: cnt.client(), Clock: clk, StallTimeout: -1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := fetchAsync(ctx, f, device.Fetch{URL: url, Rate: 10000}) // 10 reads of 1000 bytes
	for i := range 3 {
		select {
		case tm := <-clk.pending:
			if tm.d <= 0 || tm.d > 100*time.Millisecond {
				t.Fatalf("wait %d is %v for reads of at most 1000 bytes at 10000 B/s", i, tm.d)
			}
			if i < 2 {
				tm.fire <- time.Time{}
			}
		case r := <-done:
			t.Fatalf("Fetch returned (%d bytes, %v) before its timer %d fired", len(r.data), r.err, i)
		}
	}
	cancel() // the third timer never fires
	r := fetchWait(t, done)
	if !errors.Is(r.err, context.Canceled) || r.data != nil {
		t.Fatalf("got (%d bytes, %v), want context.Canceled", len(r.data), r.err)
	}
}

// Canceling the context ends a Fetch blocked in a body read: mid-body, and
// on a server that sent its headers and nothing else.
func TestHTTPFetcher_CancelWhileReading(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent int // body bytes sent before the stall
	}{
		{"mid-body", 1000},
		{"stall after headers", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			url, cnt := fetchServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100000")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(fetchPayload(tc.sent))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) }) // before the server's Close
			f := &fleet.HTTPFetcher{Client: cnt.client()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := fetchAsync(ctx, f, device.Fetch{URL: url})
			if tc.sent > 0 {
				<-cnt.firstByte
			} else {
				<-cnt.headers
			}
			select {
			case r := <-done:
				t.Fatalf("Fetch returned (%d bytes, %v) from a stalled body", len(r.data), r.err)
			default:
			}
			cancel()
			r := fetchWait(t, done)
			if !errors.Is(r.err, context.Canceled) || r.data != nil {
				t.Fatalf("got (%d bytes, %v), want context.Canceled", len(r.data), r.err)
			}
		})
	}
	t.Run("canceled before the request", func(t *testing.T) {
		url, cnt := fetchServer(t, serveBytes(fetchPayload(10)))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := (&fleet.HTTPFetcher{Client: cnt.client()}).Fetch(ctx, device.Fetch{URL: url})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

// A server that stops sending (headers then nothing, or nothing at all)
// fails the download after StallTimeout with ErrStalled, long before the
// whole-download Timeout.
func TestHTTPFetcher_Stall(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"after the headers": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write(fetchPayload(100))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
		"before the headers": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	} {
		t.Run(name, func(t *testing.T) {
			url, cnt := fetchServer(t, h)
			f := &fleet.HTTPFetcher{Client: cnt.client(), StallTimeout: 100 * time.Millisecond, Timeout: time.Hour}
			data, err := f.Fetch(context.Background(), device.Fetch{URL: url})
			if !errors.Is(err, fleet.ErrStalled) || data != nil {
				t.Fatalf("got (%d bytes, %v), want ErrStalled", len(data), err)
			}
		})
	}
}

// At most MaxActive downloads are under way at once; the others wait for
// one to end and then complete.
func TestHTTPFetcher_MaxActive(t *testing.T) {
	var active, most atomic.Int32
	release, arrived := make(chan struct{}), make(chan struct{}, 5)
	url, cnt := fetchServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		n := active.Add(1)
		defer active.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		serveBytes(fetchPayload(1000))(w, r)
	})
	f := &fleet.HTTPFetcher{Client: cnt.client(), MaxActive: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dones []<-chan fetchResult
	for range 5 {
		dones = append(dones, fetchAsync(ctx, f, device.Fetch{URL: url}))
	}
	// Wait until two requests are at the server, then let them all go.
	for range 2 {
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatal("the first two downloads never reached the server")
		}
	}
	close(release)
	for _, d := range dones {
		if r := fetchWait(t, d); r.err != nil || len(r.data) != 1000 {
			t.Fatalf("got (%d bytes, %v)", len(r.data), r.err)
		}
	}
	if m := most.Load(); m != 2 {
		t.Fatalf("%d downloads at the server at once, want 2", m)
	}
}

// A body of announced length is read into one buffer of that length: a
// 4 MiB image costs about 4 MiB, not the 8 to 12 MiB of a doubling append.
func TestHTTPFetcher_OneBuffer(t *testing.T) {
	body := fetchPayload(4 << 20)
	url, cnt := fetchServer(t, serveBytes(body))
	f := &fleet.HTTPFetcher{Client: cnt.client()}
	if _, err := f.Fetch(context.Background(), device.Fetch{URL: url}); err != nil { // warm the connection
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	data, err := f.Fetch(context.Background(), device.Fetch{URL: url})
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("got (%d bytes, %v)", len(data), err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 5<<20 {
		t.Fatalf("%.1f MiB allocated for a 4 MiB download", float64(grown)/(1<<20))
	}
}
