package websocket

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"brickyard/mtp"
	"brickyard/usp"
)

// Subprotocol is the WebSocket subprotocol of USP.
const Subprotocol = "v1.usp"

// Defaults of Config.
const (
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultKeepAliveInterval = 60 * time.Second // Controller.{i}.MTP.{i}.WebSocket.KeepAliveInterval
	DefaultWriteTimeout      = 30 * time.Second
	DefaultCloseTimeout      = 5 * time.Second
	DefaultBufferSize        = 1024 // read and write buffers; write buffers are pooled
)

// DuplicatePolicy says what the listener does with a second session from
// an agent endpoint ID that already has one (R-WS.4).
type DuplicatePolicy int

const (
	// ReplaceOld closes the existing session (Close frame 1000, then the
	// socket) and keeps the new one.
	ReplaceOld DuplicatePolicy = iota
	// RefuseNew answers the new handshake 409 Conflict.
	RefuseNew
)

// Config configures a Dialer (agent side) or a Listener (controller side).
// Fields marked "dialer" or "listener" matter to that side only. The
// Config is copied by NewDialer and NewListener and not used afterwards.
type Config struct {
	// URL is the controller's endpoint: ws://host:port/path or
	// wss://host:port/path. A path without a leading "/" gets one; an empty
	// path is "/". The listener listens on host:port (port 0 picks one; see
	// Listener.URL) unless Listener is set, and serves the path.
	URL string
	// ControllerID is the controller's endpoint ID: the to_id of the
	// websocket_connect Record and Info().Peer on the dialer; Info().Local
	// and the bbf-usp-protocol answer on the listener. Required.
	ControllerID string
	// TLS is required for wss and refused for ws: plain WebSocket only
	// when the URL says so. Dialer: RootCAs, Certificates (mutual TLS),
	// ServerName (default: the URL's host). Listener: Certificates, and
	// ClientAuth/ClientCAs to require agent certificates. The dialer
	// verifies the controller's certificate as crypto/tls does (R-MTP.1:
	// leave InsecureSkipVerify off); MinVersion defaults to TLS 1.2
	// (R-MTP.0). NextProtos is forced to http/1.1.
	TLS *tls.Config
	// Certificate, when set, gives each agent its own client
	// certificate: the dialer presents Certificate(agentID) when the
	// controller asks for one (a fleet CA's, mtp/certs). wss only.
	// (dialer)
	Certificate func(eid string) (*tls.Certificate, error)
	// CheckIdentity makes this side refuse a peer whose certificate does
	// not name the Endpoint ID the peer claims (R-SEC.0a, R-SEC.10a;
	// mtp/certs.Check): the dialer checks that the controller's names
	// ControllerID, the listener that the agent's names the eid it
	// connects as (HTTP 403 otherwise; it needs TLS.ClientAuth
	// RequireAndVerifyClientCert). wss only.
	CheckIdentity bool

	// Sources spreads the dialer's connections over local source
	// addresses; nil lets the kernel choose. (dialer)
	Sources *mtp.Sources
	// Header is sent with every handshake request. (dialer)
	Header http.Header

	// Listener, when set, is served instead of listening on URL's
	// host:port; the listener's Close closes it. (listener)
	Listener net.Listener
	// Duplicate is the policy for a second session from one agent ID.
	// (listener)
	Duplicate DuplicatePolicy

	// HandshakeTimeout bounds connecting, TLS and the HTTP upgrade, and
	// how long an upgraded session waits for Accept.
	HandshakeTimeout time.Duration
	// KeepAliveInterval is the time between Pings; negative disables
	// Pings and the dead-peer check.
	KeepAliveInterval time.Duration
	// WriteTimeout bounds the writing of one frame; a frame that cannot be
	// written in that time ends the session (ErrBroken).
	WriteTimeout time.Duration
	// CloseTimeout bounds the close handshake.
	CloseTimeout time.Duration
	// MaxRecordSize is the longest message accepted (1009 above it);
	// 0 means usp.DefaultMaxRecordSize.
	MaxRecordSize int
	// SendQueue selects how Send writes. 0 (the default): Send writes the
	// frame itself, one sender at a time; it returns once the kernel has
	// the bytes. n > 0: Send copies the Record into a queue of n slots
	// drained by a writer goroutine; it blocks while the queue is full.
	SendQueue int
	// ReadBufferSize and WriteBufferSize size gorilla's buffers (default
	// 1024). Write buffers come from a pool shared by every connection, so
	// an idle connection holds none; the agent side sends a longer Record
	// as several frames of this size.
	ReadBufferSize, WriteBufferSize int

	// Logf, when set, receives one line per dropped session (ended other
	// than by Close or the peer's Close 1000), and per handshake the
	// listener refuses.
	Logf func(format string, args ...any)
	// Drops, when set, counts every Record this side drops, by cause
	// (shared by every Dialer or Listener of one side of a run). A text
	// frame or a message over MaxRecordSize is counted, then ends the
	// session (1003, 1009).
	Drops *mtp.Drops
}

// settings is a Config resolved once and shared by every Conn of a Dialer
// or Listener.
type settings struct {
	handshake, keepAlive, write, close time.Duration
	maxRecord                          int
	queue                              int
	readBuf, writeBuf                  int
	pool                               *sync.Pool
	logf                               func(string, ...any)
	drops                              *mtp.Drops
	epoch                              time.Time
}

// now is a monotonic clock reading in nanoseconds since s was made.
func (s *settings) now() int64 { return int64(time.Since(s.epoch)) }

func (s *settings) log(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
	}
}

// pools holds one write buffer pool per buffer size, shared by every
// Dialer and Listener of the process (gorilla: one pool per size).
var pools sync.Map // int → *sync.Pool

func poolFor(size int) *sync.Pool {
	p, _ := pools.LoadOrStore(size, &sync.Pool{})
	return p.(*sync.Pool)
}

func (c *Config) settings() (*settings, error) {
	if c.ControllerID == "" {
		return nil, errors.New("websocket: Config.ControllerID is empty")
	}
	if c.MaxRecordSize < 0 || c.SendQueue < 0 || c.ReadBufferSize < 0 || c.WriteBufferSize < 0 {
		return nil, errors.New("websocket: negative size in Config")
	}
	s := &settings{
		handshake: orDefault(c.HandshakeTimeout, DefaultHandshakeTimeout),
		keepAlive: orDefault(c.KeepAliveInterval, DefaultKeepAliveInterval),
		write:     orDefault(c.WriteTimeout, DefaultWriteTimeout),
		close:     orDefault(c.CloseTimeout, DefaultCloseTimeout),
		maxRecord: orDefault(c.MaxRecordSize, usp.DefaultMaxRecordSize),
		queue:     c.SendQueue,
		readBuf:   orDefault(c.ReadBufferSize, DefaultBufferSize),
		writeBuf:  orDefault(c.WriteBufferSize, DefaultBufferSize),
		logf:      c.Logf,
		drops:     c.Drops,
		epoch:     time.Now(),
	}
	s.pool = poolFor(s.writeBuf)
	return s, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// parseURL checks a controller URL and normalises its path.
// prepare checks cfg for one side (server: the controller's listener) and
// returns its settings, the parsed URL and the TLS configuration to use.
func (c *Config) prepare(server bool) (*settings, *url.URL, *tls.Config, error) {
	s, err := c.settings()
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := parseURL(c.URL)
	if err != nil {
		return nil, nil, nil, err
	}
	tc, err := tlsFor(u, c.TLS, server)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case (c.CheckIdentity || c.Certificate != nil) && tc == nil:
		return nil, nil, nil, fmt.Errorf("websocket: CheckIdentity and Certificate need wss://")
	case c.CheckIdentity && server && tc.ClientAuth != tls.RequireAndVerifyClientCert:
		return nil, nil, nil, fmt.Errorf("websocket: CheckIdentity on the listener needs TLS.ClientAuth RequireAndVerifyClientCert")
	}
	return s, u, tc, nil
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("websocket: controller URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("websocket: controller URL %q: scheme must be ws or wss", raw)
	}
	if u.Host == "" || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("websocket: controller URL %q: want ws[s]://host[:port]/path", raw)
	}
	if _, ok := queryItem(u.RawQuery, "eid"); ok {
		return nil, fmt.Errorf("websocket: controller URL %q already has an eid query item", raw)
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
		u.RawPath = ""
	}
	return u, nil
}

// ControllerURL builds the URL of a controller from the parameters of
// Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.: Host, Port, Path
// (stored without its leading "/" in the spec's own example) and
// EnableEncryption.
func ControllerURL(host string, port uint16, path string, encrypt bool) string {
	u := url.URL{Scheme: "ws", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}
	if encrypt {
		u.Scheme = "wss"
	}
	p, q, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u.Path, u.RawQuery = p, q
	return u.String()
}

// tlsFor checks the TLS setting against the URL's scheme and returns a
// copy with the package's minimums.
func tlsFor(u *url.URL, cfg *tls.Config, server bool) (*tls.Config, error) {
	switch {
	case u.Scheme == "ws" && cfg != nil:
		return nil, fmt.Errorf("websocket: Config.TLS set for a ws:// URL; use wss://")
	case u.Scheme == "ws":
		return nil, nil
	case cfg == nil && server:
		return nil, fmt.Errorf("websocket: wss:// needs Config.TLS with a server certificate")
	}
	var t *tls.Config
	if cfg == nil {
		t = &tls.Config{}
	} else {
		t = cfg.Clone()
	}
	if server && len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
		return nil, fmt.Errorf("websocket: Config.TLS has no server certificate")
	}
	if t.MinVersion == 0 {
		t.MinVersion = tls.VersionTLS12
	}
	t.NextProtos = []string{"http/1.1"} // never h2: the upgrade needs HTTP/1.1
	return t, nil
}
