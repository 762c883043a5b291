package fileserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by New, Start and Close (wrapped with %w where they carry
// details).
var (
	// ErrNotLoopback refuses a listen address that is not on loopback.
	ErrNotLoopback = errors.New("fileserver: listen address is not loopback (want 127.0.0.0/8, ::1 or localhost)")
	// ErrStarted is returned by Start on a server already started.
	ErrStarted = errors.New("fileserver: server already started")
	// ErrClosed is returned by Start on a closed server.
	ErrClosed = errors.New("fileserver: server closed")
)

// Realm is the Basic authentication realm of the WWW-Authenticate header
// sent with a 401.
const Realm = "brickyard"

// DefaultAddr is the listen address used when Config.Addr is empty: an
// ephemeral port on 127.0.0.1.
const DefaultAddr = "127.0.0.1:0"

// DefaultGrace is how long Close lets unfaulted transfers finish when
// Config.Grace is 0.
const DefaultGrace = 5 * time.Second

// maxChunk is the largest chunk a paced (Rate) transfer writes at once.
const maxChunk = 16 << 10

// Config configures a Server. The zero Config is a plain-HTTP server on an
// ephemeral loopback port, without authentication or faults.
type Config struct {
	// Addr is the listen address, host:port. The host must be an address
	// of 127.0.0.0/8, ::1 or "localhost"; "" is DefaultAddr.
	Addr string
	// TLS, when set, makes the server speak HTTPS with this configuration
	// (cloned; NextProtos is forced to http/1.1). nil: plain HTTP.
	// SelfSigned makes one.
	TLS *tls.Config
	// Username and Password, when either is set, are the HTTP Basic
	// credentials every request must carry.
	Username, Password string
	// Faults, when set, decides the Fault of each authorized GET or HEAD
	// of a registered file. It is called on the request's goroutine and
	// must be safe for concurrent use.
	Faults func(r *http.Request) Fault
	// Seed makes Corrupt deterministic: see CorruptAt.
	Seed uint64
	// Clock paces Rate-limited transfers; nil is real time.
	Clock Clock
	// Grace is how long Close waits for transfers in flight (other than
	// stalled and paced ones, which end at once) before cutting them.
	// 0 is DefaultGrace; negative is no grace.
	Grace time.Duration
	// ErrorLog receives net/http's errors (TLS handshakes, panics); nil
	// is the log package's standard logger.
	ErrorLog *log.Logger
}

// Clock is the time source of paced transfers.
type Clock interface {
	// Sleep waits for d, or until ctx is done, whichever comes first; it
	// returns ctx.Err() in the second case and nil otherwise.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the default Clock.
type realClock struct{}

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fault is what the server does wrong on one request. The zero Fault is a
// normal answer. Status wins over Stall, which wins over the others; Rate,
// Truncate and Corrupt combine. HEAD requests only honour Status.
type Fault struct {
	// Rate is the pace of the body in bytes per second; 0: unlimited.
	Rate int
	// Truncate, in (0, 1), is the fraction of the file sent before the
	// connection is cut; Content-Length still announces the whole file.
	// 0 (or any value outside (0, 1)): all of it.
	Truncate float64
	// Corrupt flips one byte of what is sent, at the position and with
	// the mask CorruptAt gives.
	Corrupt bool
	// Status, when not 0 or 200, is answered instead of the file (e.g.
	// 503); values outside (200, 600) are answered 500.
	Status int
	// Stall sends the headers, then nothing until the client gives up or
	// the server closes.
	Stall bool
}

// Stats counts what a Server did since New.
type Stats struct {
	Requests         int64 // every request received, whatever its answer
	BytesSent        int64 // body bytes handed to connections
	Unauthorized     int64 // 401 answers
	NotFound         int64 // 404 answers
	MethodNotAllowed int64 // 405 answers
	// Responses counts the answers by HTTP status: every request gets
	// one (a stalled or cut transfer counts as the 200 it began with).
	Responses map[int]int64
	Faults    FaultStats
}

// FaultStats counts the faults applied, by kind; a request with several
// faults counts once in each.
type FaultStats struct {
	Rate, Truncate, Corrupt, Status, Stall int64
}

// Server serves firmware images over HTTP(S) on loopback, with faults. It
// is created by New, started by Start and ended by Close; its methods are
// safe for concurrent use.
type Server struct {
	addr     string
	tls      *tls.Config
	auth     bool
	user     [sha256.Size]byte
	pass     [sha256.Size]byte
	faults   func(*http.Request) Fault
	seed     uint64
	clock    Clock
	grace    time.Duration
	errorLog *log.Logger

	// ctx is every request's base context; cancel ends stalled and paced
	// transfers when the server closes.
	ctx    context.Context
	cancel context.CancelFunc

	filesMu sync.RWMutex
	files   map[string][]byte

	corruptMu sync.Mutex
	corrupts  map[string]uint64 // corrupt answers so far, by path

	mu       sync.Mutex
	srv      *http.Server
	url      string
	served   chan error    // the accept loop's result
	closed   bool          // Close was called
	done     chan struct{} // closed when Close has finished
	conns    sync.WaitGroup
	closeErr error

	freshMu sync.Mutex
	fresh   map[net.Conn]struct{} // connections without a request so far
	closing bool                  // Close has begun: cut new connections

	requests, bytesSent, unauthorized, notFound, notAllowed atomic.Int64
	byStatus                                                [600]atomic.Int64 // answers by status, 100 to 599
	fRate, fTruncate, fCorrupt, fStatus, fStall             atomic.Int64
}

// New checks cfg and returns a Server that is not listening yet.
func New(cfg Config) (*Server, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	s := &Server{
		addr:     addr,
		auth:     cfg.Username != "" || cfg.Password != "",
		user:     sha256.Sum256([]byte(cfg.Username)),
		pass:     sha256.Sum256([]byte(cfg.Password)),
		faults:   cfg.Faults,
		seed:     cfg.Seed,
		clock:    cfg.Clock,
		grace:    cfg.Grace,
		errorLog: cfg.ErrorLog,
		files:    make(map[string][]byte),
		corrupts: make(map[string]uint64),
		fresh:    make(map[net.Conn]struct{}),
		done:     make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.grace == 0 {
		s.grace = DefaultGrace
	}
	if cfg.TLS != nil {
		s.tls = cfg.TLS.Clone()
		s.tls.NextProtos = []string{"http/1.1"}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// checkLoopback accepts host:port whose host is "localhost" or a loopback
// IP address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("fileserver: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// cleanPath is the key of a registered file: path with a leading slash.
func cleanPath(path string) string {
	if !strings.HasPrefix(path, "/") {
		return "/" + path
	}
	return path
}

// Add registers (or replaces) the file served at path, e.g.
// "/images/uboot-nor/2.0.0.img"; a missing leading slash is added. The
// request's URL path must match exactly. Add keeps a copy of data. It may
// be called at any time; requests already being answered keep the bytes
// they started with.
func (s *Server) Add(path string, data []byte) {
	b := make([]byte, len(data))
	copy(b, data)
	s.filesMu.Lock()
	s.files[cleanPath(path)] = b
	s.filesMu.Unlock()
}

// Remove unregisters the file at path; later requests for it get 404.
func (s *Server) Remove(path string) {
	s.filesMu.Lock()
	delete(s.files, cleanPath(path))
	s.filesMu.Unlock()
}

func (s *Server) lookup(path string) ([]byte, bool) {
	s.filesMu.RLock()
	defer s.filesMu.RUnlock()
	b, ok := s.files[path]
	return b, ok
}

// Start listens on the configured address and serves in a goroutine of its
// own until Close. It returns ErrStarted if the server was started before
// and ErrClosed if it was closed.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.srv != nil {
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("fileserver: listen on %s: %w", s.addr, err)
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("%w: %q listens on %s", ErrNotLoopback, s.addr, ln.Addr())
	}
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
		ln = tls.NewListener(ln, s.tls)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          s.errorLog,
		Protocols:         &protos,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ConnState:         s.connState,
	}
	s.srv, s.served = srv, make(chan error, 1)
	s.url = scheme + "://" + tcp.String()
	go func() { s.served <- srv.Serve(ln) }()
	return nil
}

// connState counts the connection goroutines so that Close can wait for
// them: net/http reports StateNew from the accept loop before starting a
// connection's goroutine, and StateClosed (or StateHijacked) from that
// goroutine as it ends. It also keeps the connections that have not sent
// a request yet, which Close cuts: http.Server.Shutdown would wait up to
// five seconds for each (Go's transport often dials a spare connection it
// never uses).
func (s *Server) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.conns.Add(1)
		s.freshMu.Lock()
		if s.closing {
			c.Close() // its goroutine sees the error and ends
		} else {
			s.fresh[c] = struct{}{}
		}
		s.freshMu.Unlock()
	case http.StateActive:
		s.forget(c)
	case http.StateClosed, http.StateHijacked:
		s.forget(c)
		s.conns.Done()
	}
}

func (s *Server) forget(c net.Conn) {
	s.freshMu.Lock()
	delete(s.fresh, c)
	s.freshMu.Unlock()
}

// cutFresh closes the connections without a request so far, and every
// later one.
func (s *Server) cutFresh() {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	s.closing = true
	for c := range s.fresh {
		c.Close()
		delete(s.fresh, c)
	}
}

// URL is the server's base URL, like http://127.0.0.1:40123 (https with
// TLS), without a trailing slash; "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close ends the server: it cancels every request's context (stalled and
// paced transfers end at once), cuts the connections that have not sent a
// request yet, shuts the http.Server down letting other transfers finish
// for Config.Grace, closes what is left, and waits for
// the accept loop, the handlers and the connection goroutines to end.
// Close may be called more than once, and without Start; every call
// returns after the server has ended, with the first call's result.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return s.closeErr
	}
	s.closed = true
	srv, served := s.srv, s.served
	s.mu.Unlock()
	defer close(s.done)

	s.cancel()
	if srv == nil {
		return nil
	}
	s.cutFresh()
	ctx, cancel := context.WithTimeout(context.Background(), max(s.grace, 0))
	err := srv.Shutdown(ctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // transfers still in flight: srv.Close cuts them
	}
	if cerr := srv.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.conns.Wait()
	if err != nil {
		s.closeErr = fmt.Errorf("fileserver: close: %w", err)
	}
	return s.closeErr
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:         s.requests.Load(),
		BytesSent:        s.bytesSent.Load(),
		Unauthorized:     s.unauthorized.Load(),
		NotFound:         s.notFound.Load(),
		MethodNotAllowed: s.notAllowed.Load(),
		Responses:        s.responses(),
		Faults: FaultStats{
			Rate:     s.fRate.Load(),
			Truncate: s.fTruncate.Load(),
			Corrupt:  s.fCorrupt.Load(),
			Status:   s.fStatus.Load(),
			Stall:    s.fStall.Load(),
		},
	}
}

// responses are the nonzero counts of byStatus.
func (s *Server) responses() map[int]int64 {
	out := map[int]int64{}
	for code := range s.byStatus {
		if n := s.byStatus[code].Load(); n > 0 {
			out[code] = n
		}
	}
	return out
}

// answered counts one answer of status code (100 to 599: the server's
// own codes, and a fault's, which New bounds).
func (s *Server) answered(code int) {
	if code >= 100 && code < len(s.byStatus) {
		s.byStatus[code].Add(1)
	}
}

// authorized checks the request's Basic credentials in constant time (the
// hashes hide the lengths; both comparisons always run).
func (s *Server) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	uh, ph := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	match := subtle.ConstantTimeCompare(uh[:], s.user[:]) & subtle.ConstantTimeCompare(ph[:], s.pass[:])
	return ok && match == 1
}

// serve is the handler of every request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.auth && !s.authorized(r) {
		s.unauthorized.Add(1)
		s.answered(http.StatusUnauthorized)
		w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
		http.Error(w, "401 unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.notAllowed.Add(1)
		s.answered(http.StatusMethodNotAllowed)
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	data, ok := s.lookup(path)
	if !ok {
		s.notFound.Add(1)
		s.answered(http.StatusNotFound)
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	}
	var f Fault
	if s.faults != nil {
		f = s.faults(r)
	}
	if st := f.Status; st != 0 && st != http.StatusOK {
		if st <= http.StatusOK || st >= 600 {
			st = http.StatusInternalServerError
		}
		s.fStatus.Add(1)
		s.answered(st)
		http.Error(w, strconv.Itoa(st)+" "+http.StatusText(st), st)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	s.answered(http.StatusOK)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	ctx := r.Context()
	if f.Stall {
		s.fStall.Add(1)
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
		<-ctx.Done()
		return // short of Content-Length: net/http closes the connection
	}
	s.body(ctx, w, rc, path, data, f)
}

// body sends data (or its prefix) with the Rate, Truncate and Corrupt
// faults of f.
func (s *Server) body(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, path string, data []byte, f Fault) {
	n := len(data)
	truncate := f.Truncate > 0 && f.Truncate < 1
	if truncate {
		s.fTruncate.Add(1)
		n = min(n, int(float64(n)*f.Truncate))
	}
	pos, mask := -1, byte(0)
	if f.Corrupt && n > 0 {
		s.fCorrupt.Add(1)
		pos, mask = CorruptAt(s.seed, path, s.nextCorrupt(path), n)
	}
	chunk := n
	if f.Rate > 0 {
		s.fRate.Add(1)
		chunk = min(maxChunk, max(1, f.Rate/10))
	}
	w.WriteHeader(http.StatusOK)
	// An unpaced transfer ends when its writes fail (the client left, or
	// Close cut the connection); a paced one also when ctx is done.
	for off := 0; off < n; {
		end := min(n, off+chunk)
		k, err := writeRange(w, data, off, end, pos, mask)
		s.bytesSent.Add(int64(k))
		if err != nil {
			return
		}
		if f.Rate > 0 {
			if rc.Flush() != nil {
				return
			}
			d := time.Duration(end-off) * time.Second / time.Duration(f.Rate)
			if s.clock.Sleep(ctx, d) != nil {
				return
			}
		}
		off = end
	}
	if truncate {
		// The prefix must reach the client before the connection is cut.
		_ = rc.Flush()
		panic(http.ErrAbortHandler)
	}
}

// writeRange writes data[a:b] with the byte at pos (if inside) XORed with
// mask, without modifying data.
func writeRange(w io.Writer, data []byte, a, b, pos int, mask byte) (int, error) {
	if pos < a || pos >= b {
		return w.Write(data[a:b])
	}
	total := 0
	for _, part := range [][]byte{data[a:pos], {data[pos] ^ mask}, data[pos+1 : b]} {
		if len(part) == 0 {
			continue
		}
		k, err := w.Write(part)
		total += k
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// nextCorrupt returns n for the next corrupt answer for path and counts it.
func (s *Server) nextCorrupt(path string) uint64 {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	n := s.corrupts[path]
	s.corrupts[path] = n + 1
	return n
}
