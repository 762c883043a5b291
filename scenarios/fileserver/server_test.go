package fileserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/sim/device"
	"brickyard/sim/fleet"
)

// guard bounds waits that only a broken server would exceed; no test
// asserts that anything happens faster than this.
const guard = 20 * time.Second

const imgPath = "/images/uboot-nor/2.0.0.img"

// image returns n bytes that differ from their neighbours.
func image(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// start makes, starts and (at cleanup) closes a server holding data at
// imgPath.
func start(t testing.TB, cfg Config, data []byte) *Server {
	t.Helper()
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(testWriter{t}, "net/http: ", 0)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if data != nil {
		s.Add(imgPath, data)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testWriter sends net/http's log lines (TLS handshakes cut by Close or
// refused by an untrusting client) to the test's log; Close waits for the
// goroutines that write them, and the helpers close servers in Cleanup.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// client is an http.Client with its own transport (trusting pool when
// set), whose idle connections are closed at cleanup.
func client(t testing.TB, pool *x509.CertPool) *http.Client {
	tr := &http.Transport{}
	if pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: guard}
}

// fixed is a Faults function returning f for every request.
func fixed(f Fault) func(*http.Request) Fault {
	return func(*http.Request) Fault { return f }
}

func TestRequests(t *testing.T) {
	data := image(5000)
	auth := Config{Username: "dev", Password: "s3cret"}
	tests := []struct {
		name       string
		cfg        Config
		method     string
		path       string
		user, pass string // Basic credentials, when user or pass is set
		wantStatus int
		wantBody   []byte // checked when the status is 200
		wantHeader map[string]string
	}{
		{name: "plain GET", method: "GET", path: imgPath, wantStatus: 200, wantBody: data,
			wantHeader: map[string]string{"Content-Length": "5000", "Content-Type": "application/octet-stream"}},
		{name: "auth ok", cfg: auth, method: "GET", path: imgPath, user: "dev", pass: "s3cret", wantStatus: 200, wantBody: data},
		{name: "auth wrong password", cfg: auth, method: "GET", path: imgPath, user: "dev", pass: "s3cre", wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Basic realm="brickyard"`}},
		{name: "auth wrong user", cfg: auth, method: "GET", path: imgPath, user: "root", pass: "s3cret", wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Basic realm="brickyard"`}},
		{name: "auth missing", cfg: auth, method: "GET", path: imgPath, wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Basic realm="brickyard"`}},
		{name: "auth missing on 404", cfg: auth, method: "GET", path: "/nope", wantStatus: 401},
		{name: "auth password only", cfg: Config{Password: "p"}, method: "GET", path: imgPath, pass: "p", wantStatus: 200, wantBody: data},
		{name: "credentials not needed", method: "GET", path: imgPath, user: "x", pass: "y", wantStatus: 200, wantBody: data},
		{name: "unknown path", method: "GET", path: "/images/other.img", wantStatus: 404},
		{name: "path prefix is not a match", method: "GET", path: imgPath + "/x", wantStatus: 404},
		{name: "POST", method: "POST", path: imgPath, wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "PUT", method: "PUT", path: imgPath, wantStatus: 405},
		{name: "DELETE unknown", method: "DELETE", path: "/nope", wantStatus: 405},
		{name: "HEAD", method: "HEAD", path: imgPath, wantStatus: 200, wantBody: []byte{},
			wantHeader: map[string]string{"Content-Length": "5000"}},
		{name: "HEAD unknown", method: "HEAD", path: "/nope", wantStatus: 404},
		{name: "HEAD ignores body faults", cfg: Config{Faults: fixed(Fault{Truncate: 0.5, Corrupt: true, Stall: true})},
			method: "HEAD", path: imgPath, wantStatus: 200, wantBody: []byte{}, wantHeader: map[string]string{"Content-Length": "5000"}},
		{name: "Status 503", cfg: Config{Faults: fixed(Fault{Status: 503, Stall: true})}, method: "GET", path: imgPath, wantStatus: 503},
		{name: "Status 503 on HEAD", cfg: Config{Faults: fixed(Fault{Status: 503})}, method: "HEAD", path: imgPath, wantStatus: 503},
		{name: "Status 404", cfg: Config{Faults: fixed(Fault{Status: 404})}, method: "GET", path: imgPath, wantStatus: 404},
		{name: "Status 200 is normal", cfg: Config{Faults: fixed(Fault{Status: 200})}, method: "GET", path: imgPath, wantStatus: 200, wantBody: data},
		{name: "Status out of range", cfg: Config{Faults: fixed(Fault{Status: 42})}, method: "GET", path: imgPath, wantStatus: 500},
		{name: "Status 1000", cfg: Config{Faults: fixed(Fault{Status: 1000})}, method: "GET", path: imgPath, wantStatus: 500},
		{name: "Truncate 1 is no truncation", cfg: Config{Faults: fixed(Fault{Truncate: 1})}, method: "GET", path: imgPath, wantStatus: 200, wantBody: data},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.cfg, data)
			req, err := http.NewRequest(tc.method, s.URL()+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" || tc.pass != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := client(t, nil).Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.wantStatus == 200 && !bytes.Equal(body, tc.wantBody) {
				t.Errorf("body of %d bytes, want %d bytes", len(body), len(tc.wantBody))
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
		})
	}
}

func TestStats(t *testing.T) {
	data := image(100)
	var mu sync.Mutex
	next := []Fault{{Rate: 1 << 20}, {Corrupt: true, Truncate: 0.5}, {Status: 503}, {}}
	s := start(t, Config{Username: "u", Password: "p", Clock: &recClock{}, Faults: func(*http.Request) Fault {
		mu.Lock()
		defer mu.Unlock()
		f := next[0]
		next = next[1:]
		return f
	}}, data)
	c := client(t, nil)
	do := func(method, path string, auth bool) {
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		if auth {
			req.SetBasicAuth("u", "p")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", imgPath, false) // 401
	do("GET", "/x", true)     // 404
	do("POST", imgPath, true) // 405
	do("GET", imgPath, true)  // Rate: 100 bytes
	do("GET", imgPath, true)  // Corrupt + Truncate: 50 bytes
	do("GET", imgPath, true)  // Status
	do("GET", imgPath, true)  // normal: 100 bytes
	want := Stats{Requests: 7, BytesSent: 250, Unauthorized: 1, NotFound: 1, MethodNotAllowed: 1,
		Responses: map[int]int64{200: 3, 401: 1, 404: 1, 405: 1, 503: 1},
		Faults:    FaultStats{Rate: 1, Truncate: 1, Corrupt: 1, Status: 1}}
	if got := s.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = %+v\nwant      %+v", got, want)
	}
}

// recClock records the pacing sleeps and returns at once.
type recClock struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *recClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *recClock) get() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func TestRate(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		rate   int
		chunks []int // expected chunk sizes
	}{
		{name: "rate/10 chunks", size: 100, rate: 100, chunks: []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
		{name: "last chunk short", size: 25, rate: 100, chunks: []int{10, 10, 5}},
		{name: "tiny rate: 1-byte chunks", size: 3, rate: 1, chunks: []int{1, 1, 1}},
		{name: "16 KiB cap", size: 40000, rate: 1 << 20, chunks: []int{16384, 16384, 7232}},
		{name: "empty file", size: 0, rate: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &recClock{}
			data := image(tc.size)
			s := start(t, Config{Clock: clock, Faults: fixed(Fault{Rate: tc.rate})}, data)
			resp, err := client(t, nil).Get(s.URL() + imgPath)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(body, data) {
				t.Fatalf("body: %d bytes, err %v; want %d bytes intact", len(body), err, len(data))
			}
			s.Close() // the handler's last sleep happens after the client has every byte
			var want []time.Duration
			for _, n := range tc.chunks {
				want = append(want, time.Duration(n)*time.Second/time.Duration(tc.rate))
			}
			if got := clock.get(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sleeps %v, want %v", got, want)
			}
		})
	}
}

// gateClock hands every Sleep to the test, which ends it with release.
type gateClock struct {
	calls chan time.Duration
	next  chan struct{}
	ended chan error // what each Sleep returned
}

func newGateClock() *gateClock {
	return &gateClock{calls: make(chan time.Duration), next: make(chan struct{}), ended: make(chan error, 100)}
}

func (c *gateClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case c.calls <- d:
	case <-ctx.Done():
		c.ended <- ctx.Err()
		return ctx.Err()
	}
	select {
	case <-c.next:
		c.ended <- nil
		return nil
	case <-ctx.Done():
		c.ended <- ctx.Err()
		return ctx.Err()
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("no %s after %v", what, guard)
		panic("unreachable")
	}
}

// TestRateChunks checks that every chunk reaches the client before the
// server sleeps, and no further byte is written before the sleep ends.
func TestRateChunks(t *testing.T) {
	clock := newGateClock()
	data := image(30)
	s := start(t, Config{Clock: clock, Faults: fixed(Fault{Rate: 100})}, data)
	resp, err := client(t, nil).Get(s.URL() + imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for i := 0; i < 3; i++ {
		if d := recv(t, clock.calls, "sleep"); d != 100*time.Millisecond {
			t.Errorf("sleep %d: %v, want 100ms", i, d)
		}
		if got := s.Stats().BytesSent; got != int64(10*(i+1)) {
			t.Errorf("chunk %d: %d bytes sent during the sleep, want %d", i, got, 10*(i+1))
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || !bytes.Equal(buf, data[10*i:10*i+10]) {
			t.Fatalf("chunk %d: %q, %v", i, buf, err)
		}
		clock.next <- struct{}{}
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the last chunk: %d bytes, %v", len(rest), err)
	}
}

// TestRateStops checks that a paced transfer ends when the client leaves
// and when the server closes.
func TestRateStops(t *testing.T) {
	for _, by := range []string{"client", "server"} {
		t.Run(by, func(t *testing.T) {
			clock := newGateClock()
			s := start(t, Config{Clock: clock, Faults: fixed(Fault{Rate: 10}), Grace: time.Hour}, image(1000))
			resp, err := client(t, nil).Get(s.URL() + imgPath)
			if err != nil {
				t.Fatal(err)
			}
			recv(t, clock.calls, "sleep")
			closed := make(chan error, 1)
			if by == "client" {
				resp.Body.Close()
			} else {
				go func() { closed <- s.Close() }()
			}
			if err := recv(t, clock.ended, "end of the sleep"); !errors.Is(err, context.Canceled) {
				t.Errorf("sleep ended with %v, want context.Canceled", err)
			}
			if by == "server" {
				if err := recv(t, closed, "Close"); err != nil {
					t.Errorf("Close: %v", err)
				}
				if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("client read: %v, want unexpected EOF", err)
				}
				resp.Body.Close()
			}
			if n := s.Stats().BytesSent; n != 1 {
				t.Errorf("%d bytes sent, want 1", n)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	data := image(100000)
	tests := []struct {
		name  string
		fault Fault
		tls   bool
		want  int // bytes received
	}{
		{name: "quarter", fault: Fault{Truncate: 0.25}, want: 25000},
		{name: "almost all", fault: Fault{Truncate: 0.99999}, want: 99999},
		{name: "nothing", fault: Fault{Truncate: 0.000001}, want: 0},
		{name: "paced", fault: Fault{Truncate: 0.5, Rate: 1 << 20}, want: 50000},
		{name: "TLS", fault: Fault{Truncate: 0.3}, tls: true, want: 30000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Faults: fixed(tc.fault), Clock: &recClock{}}
			var pool *x509.CertPool
			if tc.tls {
				var err error
				if cfg.TLS, pool, err = SelfSigned(); err != nil {
					t.Fatal(err)
				}
			}
			s := start(t, cfg, data)
			resp, err := client(t, pool).Get(s.URL() + imgPath)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
				t.Fatalf("status %d, Content-Length %d; want 200, %d", resp.StatusCode, resp.ContentLength, len(data))
			}
			got, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read error %v, want io.ErrUnexpectedEOF", err)
			}
			if !bytes.Equal(got, data[:tc.want]) {
				t.Errorf("received %d bytes, want exactly the first %d", len(got), tc.want)
			}
		})
	}
}

// differences lists the positions where a and b differ.
func differences(a, b []byte) []int {
	var d []int
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			d = append(d, i)
		}
	}
	return d
}

func TestCorrupt(t *testing.T) {
	data := image(4096)
	const seed = 0xb1c4
	get := func(s *Server) []byte {
		t.Helper()
		resp, err := client(t, nil).Get(s.URL() + imgPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var first [][]byte
	for run := 0; run < 2; run++ { // two servers with the same seed
		s := start(t, Config{Seed: seed, Faults: fixed(Fault{Corrupt: true})}, data)
		for n := range 4 {
			got := get(s)
			d := differences(got, data)
			if len(got) != len(data) || len(d) != 1 {
				t.Fatalf("run %d, request %d: %d bytes, differing at %v; want %d bytes, one differing", run, n, len(got), d, len(data))
			}
			pos, mask := CorruptAt(seed, imgPath, uint64(n), len(data))
			if d[0] != pos || got[pos] != data[pos]^mask {
				t.Errorf("run %d, request %d: byte %d = %#x; want byte %d = %#x", run, n, d[0], got[d[0]], pos, data[pos]^mask)
			}
			if run == 0 {
				first = append(first, got)
			} else if !bytes.Equal(got, first[n]) {
				t.Errorf("request %d: same seed, different bytes", n)
			}
		}
	}
	t.Run("within the truncated prefix", func(t *testing.T) {
		s := start(t, Config{Seed: seed, Faults: fixed(Fault{Corrupt: true, Truncate: 0.1})}, data)
		resp, err := client(t, nil).Get(s.URL() + imgPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		pos, _ := CorruptAt(seed, imgPath, 0, 409)
		if d := differences(got, data); len(got) != 409 || len(d) != 1 || d[0] != pos {
			t.Errorf("%d bytes differing at %v; want 409 bytes differing at [%d]", len(got), d, pos)
		}
	})
	t.Run("data is not modified", func(t *testing.T) {
		s := start(t, Config{Seed: seed}, data)
		if got := get(s); !bytes.Equal(got, data) {
			t.Error("a clean GET after corrupt ones differs")
		}
	})
}

func TestCorruptAt(t *testing.T) {
	if pos, mask := CorruptAt(1, "/a", 0, 0); pos != -1 || mask != 0 {
		t.Errorf("CorruptAt(size 0) = %d, %#x; want -1, 0", pos, mask)
	}
	type pm struct {
		pos  int
		mask byte
	}
	bySeed := map[uint64][]pm{}
	for _, seed := range []uint64{0, 1, 2} {
		positions := map[int]bool{}
		for n := range uint64(64) {
			pos, mask := CorruptAt(seed, imgPath, n, 1000)
			if pos < 0 || pos >= 1000 || mask == 0 {
				t.Fatalf("CorruptAt(%d, n %d) = %d, %#x", seed, n, pos, mask)
			}
			if p2, m2 := CorruptAt(seed, imgPath, n, 1000); p2 != pos || m2 != mask {
				t.Fatalf("CorruptAt is not a function of its arguments")
			}
			positions[pos] = true
			bySeed[seed] = append(bySeed[seed], pm{pos, mask})
		}
		if len(positions) < 32 {
			t.Errorf("seed %d: only %d positions in 64 requests", seed, len(positions))
		}
	}
	if fmt.Sprint(bySeed[0]) == fmt.Sprint(bySeed[1]) || fmt.Sprint(bySeed[1]) == fmt.Sprint(bySeed[2]) {
		t.Error("different seeds give the same corruption")
	}
	if a, b := fmt.Sprint(CorruptAt(0, "/a", 0, 1<<20)), fmt.Sprint(CorruptAt(0, "/b", 0, 1<<20)); a == b {
		t.Error("different paths give the same corruption")
	}
}

func TestStall(t *testing.T) {
	t.Run("server closes", func(t *testing.T) {
		s := start(t, Config{Faults: fixed(Fault{Stall: true}), Grace: time.Hour}, image(1000))
		resp, err := client(t, nil).Get(s.URL() + imgPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != 1000 {
			t.Fatalf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
		read := make(chan error, 1)
		go func() {
			b, err := io.ReadAll(resp.Body)
			if len(b) != 0 {
				err = fmt.Errorf("%d bytes then %w", len(b), err)
			}
			read <- err
		}()
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		if err := recv(t, closed, "Close"); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := recv(t, read, "end of the client's read"); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("client read: %v, want unexpected EOF", err)
		}
		if n := s.Stats().Faults.Stall; n != 1 {
			t.Errorf("Stats().Faults.Stall = %d", n)
		}
	})
	t.Run("client gives up", func(t *testing.T) {
		s := start(t, Config{Faults: fixed(Fault{Stall: true})}, image(1000))
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+imgPath, nil)
		resp, err := client(t, nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
			t.Errorf("client read: %v, want context.Canceled", err)
		}
		resp.Body.Close()
		// The handler ends with the connection: Close need not cut it.
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		if err := recv(t, closed, "Close"); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func TestTLS(t *testing.T) {
	cfg, pool, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	data := image(70000)
	s := start(t, Config{TLS: cfg, Username: "u", Password: "p"}, data)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL() = %q", s.URL())
	}
	req, _ := http.NewRequest("GET", s.URL()+imgPath, nil)
	req.SetBasicAuth("u", "p")
	resp, err := client(t, pool).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("status %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
	if resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" || resp.Proto != "HTTP/1.1" {
		t.Errorf("TLS state %v, proto %s; want TLS, HTTP/1.1", resp.TLS != nil, resp.Proto)
	}
	if _, err := client(t, nil).Get(s.URL() + imgPath); err == nil {
		t.Error("a client without the pool trusted the self-signed certificate")
	}
	leaf := cfg.Certificates[0].Leaf
	if leaf.NotAfter.Sub(leaf.NotBefore) > 48*time.Hour {
		t.Errorf("validity %v", leaf.NotAfter.Sub(leaf.NotBefore))
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("localhost: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "::1"}); err != nil {
		t.Errorf("::1: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "example.com"}); err == nil {
		t.Error("example.com verified")
	}
}

func TestHTTPFetcher(t *testing.T) {
	data := image(200000)
	tlsCfg, pool, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tls     bool
		fault   Fault
		pass    string
		wantErr string // "" : data intact
	}{
		{name: "ok", pass: "pw"},
		{name: "ok over TLS", tls: true, pass: "pw"},
		{name: "wrong password", pass: "nope", wantErr: "401"},
		{name: "503", pass: "pw", fault: Fault{Status: 503}, wantErr: "503"},
		{name: "truncated by the server", pass: "pw", fault: Fault{Truncate: 0.5}, wantErr: "unexpected EOF"},
		{name: "paced", pass: "pw", fault: Fault{Rate: 1 << 30}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Username: "dev", Password: "pw", Faults: fixed(tc.fault), Clock: &recClock{}}
			var p *x509.CertPool
			if tc.tls {
				cfg.TLS, p = tlsCfg, pool
			}
			s := start(t, cfg, data)
			f := &fleet.HTTPFetcher{Client: client(t, p)}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			got, err := f.Fetch(ctx, device.Fetch{URL: s.URL() + imgPath, Username: "dev", Password: tc.pass,
				SizeHint: uint64(len(data))})
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Fetch: %d bytes, %v", len(got), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Fetch error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestConcurrentGets(t *testing.T) {
	data := image(64 << 10)
	s := start(t, Config{}, data)
	c := client(t, nil)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() { // Add and Remove while serving
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := "/other/" + strconv.Itoa(i%4)
			s.Add(p, data[:i%100])
			s.Remove(p)
			s.Add(imgPath, data)
		}
	})
	const n = 100
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := c.Get(s.URL() + imgPath)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && !bytes.Equal(b, data) {
				err = fmt.Errorf("%d bytes, not the image", len(b))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := s.Stats(); st.Requests != n || st.BytesSent != n*int64(len(data)) {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestNoGoroutinesAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		var mu sync.Mutex
		faults := []Fault{{Stall: true}, {Rate: 10}, {Truncate: 0.5}, {}, {Status: 503}}
		s, err := New(Config{Grace: time.Hour, Faults: func(*http.Request) Fault {
			mu.Lock()
			defer mu.Unlock()
			f := faults[0]
			faults = faults[1:]
			return f
		}})
		if err != nil {
			t.Fatal(err)
		}
		s.Add(imgPath, image(1000))
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		var readers sync.WaitGroup
		for range 5 { // stalled and paced transfers stay in flight
			resp, err := c.Get(s.URL() + imgPath)
			if err != nil {
				t.Fatal(err)
			}
			readers.Go(func() {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		if err := recv(t, closed, "Close"); err != nil {
			t.Errorf("Close: %v", err)
		}
		readers.Wait()
	}()
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		addr        string
		notLoopback bool // else ok, unless otherErr
		otherErr    bool
	}{
		{addr: ""},
		{addr: "127.0.0.1:0"},
		{addr: "127.3.2.1:8080"},
		{addr: "[::1]:0"},
		{addr: "localhost:0"},
		{addr: "LocalHost:0"},
		{addr: "[::ffff:127.0.0.1]:0"},
		{addr: ":0", notLoopback: true},
		{addr: ":8080", notLoopback: true},
		{addr: "0.0.0.0:0", notLoopback: true},
		{addr: "[::]:0", notLoopback: true},
		{addr: "192.168.1.10:80", notLoopback: true},
		{addr: "10.0.0.1:0", notLoopback: true},
		{addr: "128.0.0.1:0", notLoopback: true},
		{addr: "example.com:80", notLoopback: true},
		{addr: "localhost.example.com:80", notLoopback: true},
		{addr: "[fe80::1%lo]:0", notLoopback: true},
		{addr: "[::1%lo]:0", notLoopback: true},
		{addr: "127.0.0.1", otherErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			s, err := New(Config{Addr: tc.addr})
			switch {
			case tc.notLoopback:
				if !errors.Is(err, ErrNotLoopback) {
					t.Errorf("New(%q): %v, want ErrNotLoopback", tc.addr, err)
				}
			case tc.otherErr:
				if err == nil {
					t.Errorf("New(%q) accepted", tc.addr)
				}
			case err != nil:
				t.Errorf("New(%q): %v", tc.addr, err)
			default:
				s.Close()
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" {
		t.Errorf("URL() before Start = %q", s.URL())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q", s.URL())
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	s.Add("images/a.img", []byte("abc")) // leading slash added
	c := client(t, nil)
	get := func(path string) (int, string) {
		resp, err := c.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := get("/images/a.img"); st != 200 || b != "abc" {
		t.Errorf("GET after Add: %d %q", st, b)
	}
	src := []byte("xyz")
	s.Add("/images/a.img", src)
	src[0] = 'Q' // Add keeps a copy
	if st, b := get("/images/a.img"); st != 200 || b != "xyz" {
		t.Errorf("GET after replacing: %d %q", st, b)
	}
	s.Remove("images/a.img")
	if st, _ := get("/images/a.img"); st != 404 {
		t.Errorf("GET after Remove: %d", st)
	}
	var wg sync.WaitGroup
	for range 3 { // concurrent Closes all wait
		wg.Go(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Get(s.URL() + "/"); err == nil {
		t.Error("the server still answers after Close")
	}

	never, _ := New(Config{})
	if err := never.Close(); err != nil {
		t.Errorf("Close without Start: %v", err)
	}
}

func TestIPv6(t *testing.T) {
	s, err := New(Config{Addr: "[::1]:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer s.Close()
	s.Add(imgPath, []byte("v6"))
	if !strings.HasPrefix(s.URL(), "http://[::1]:") {
		t.Errorf("URL() = %q", s.URL())
	}
	resp, err := client(t, nil).Get(s.URL() + imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "v6" {
		t.Errorf("body %q", b)
	}
}

// TestCloseCutsSilentConnections: a connection that never sends a request
// does not hold Close (net/http's Shutdown alone would wait for it).
func TestCloseCutsSilentConnections(t *testing.T) {
	s, err := New(Config{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request on another connection proves the silent one was accepted
	// (the accept loop takes connections in order).
	resp, err := client(t, nil).Get(s.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(guard))
	if n, err := conn.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("silent connection read: %d, %v; want EOF", n, err)
	}
}
