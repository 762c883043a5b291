package stomp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"brickyard/mtp"
	"brickyard/usp"
)

// Config is one side's view of a STOMP broker. NewDialer (agents) and
// NewListener (a controller) take the same type; each field says which side
// reads it.
type Config struct {
	Addr string     // broker "host:port" (both)
	TLS  *TLSConfig // nil: plain TCP (both)

	// Login and Passcode go into the STOMP frame when either is set; leave
	// both empty for client-certificate authentication.
	Login, Passcode string
	// VirtualHost is the host header; "" sends "/", RabbitMQ's default
	// virtual host (go-stomp's server and ActiveMQ ignore it; RabbitMQ
	// refuses a host it does not know).
	VirtualHost string

	// AgentDest is the agent's own destination; "{eid}" in it is replaced
	// by the agent's endpoint ID as Destination maps it, e.g.
	// "/queue/agent-{eid}". A subscribe-dest header in CONNECTED overrides
	// it (agents).
	AgentDest string
	// ControllerID is the controller's endpoint ID: the to_id of the
	// agent's stomp_connect Record (agents), the listener's own ID whose
	// Records it accepts (controller).
	ControllerID string
	// ControllerDest is the controller's destination: where agents send
	// until a MESSAGE tells them otherwise (agents), what the listener
	// subscribes to and names in reply-to-dest (controller).
	ControllerDest string

	// HeartBeatOut and HeartBeatIn are offered in the heart-beat header:
	// how often this side can send, and wants to receive, heart-beats.
	// Zero disables a direction. The negotiated intervals follow STOMP 1.2:
	// a direction is on only when both sides want it, at the larger of the
	// two values. Beats go out after half the outgoing interval without
	// writes; a broker silent for twice the incoming one has broken the
	// session.
	HeartBeatOut, HeartBeatIn time.Duration

	// Durable leaves RabbitMQ's defaults alone. When false (the default)
	// every SUBSCRIBE and SEND carries durable:false, auto-delete:true and
	// exclusive:false, so a /queue/ destination's queue is transient and
	// goes away with its last subscriber. RabbitMQ refuses (ERROR
	// precondition_failed, connection closed) a SEND whose queue headers
	// differ from the queue's, so both ends must agree: set Durable when
	// the peer is not brickyard. Other brokers ignore these headers.
	Durable bool

	// QueueLen bounds each session's send queue and each Conn's receive
	// queue (default 64). A full receive queue stops reading from the
	// broker: on the controller side one agent's unread Conn holds up
	// the others once its queue is full.
	QueueLen int
	// MaxRecordSize bounds an inbound frame's body; default
	// usp.DefaultMaxRecordSize. A larger body is read past, dropped and
	// counted (Drops); the session goes on.
	MaxRecordSize int
	// Drops, when set, counts every Record this side drops, by cause
	// (shared by every Dialer or Listener of one side of a run).
	Drops *mtp.Drops

	Sources *mtp.Sources // local source addresses, round-robin (nil: the kernel's choice)
	// Logf, when set, reports what the transport drops: malformed or
	// foreign Records on the controller's destination.
	Logf func(format string, args ...any)
}

// TLSConfig is TLS to the broker. The broker's certificate is always
// verified (R-MTP.1) and TLS is at least 1.2 (R-MTP.0).
type TLSConfig struct {
	CA         *x509.CertPool   // roots for the broker's certificate; nil: the system's
	Cert       *tls.Certificate // client certificate, for brokers that authenticate by certificate
	ServerName string           // name checked in the broker's certificate; "": the host of Addr
}

// LoadTLS reads PEM files into a TLSConfig: caFile (may be empty: system
// roots) and a client certificate and key (both empty: none).
func LoadTLS(caFile, certFile, keyFile, serverName string) (*TLSConfig, error) {
	t := &TLSConfig{ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("stomp: CA: %w", err)
		}
		t.CA = x509.NewCertPool()
		if !t.CA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("stomp: CA %s: no PEM certificate", caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("stomp: client certificate: %w", err)
		}
		t.Cert = &c
	}
	return t, nil
}

// Destination replaces "{eid}" in pattern with the endpoint ID eid.
// Every character an endpoint ID may hold (TR-369 §4: letters, digits,
// "-._~", ':' and %HH) is kept; any other byte becomes %HH. That keeps
// '/' out of the name, which RabbitMQ would read as a path separator
// (its "/queue/<name>" turns only "%2F" back into '/'); STOMP header
// escaping already carries ':' (as "\c").
func Destination(pattern, eid string) string {
	if !strings.Contains(pattern, "{eid}") {
		return pattern
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(eid); i++ {
		c := eid[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:%", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return strings.ReplaceAll(pattern, "{eid}", b.String())
}

// connectTimeout bounds Dial and NewListener when their context has no
// deadline.
const connectTimeout = 30 * time.Second

func (c *Config) queueLen() int {
	if c.QueueLen > 0 {
		return c.QueueLen
	}
	return 64
}

func (c *Config) maxBody() int {
	if c.MaxRecordSize > 0 {
		return c.MaxRecordSize + bodySlack
	}
	return usp.DefaultMaxRecordSize + bodySlack
}

func (c *Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// queueHeaders are added to SUBSCRIBE and SEND; see Config.Durable.
func (c *Config) queueHeaders() []string {
	if c.Durable {
		return nil
	}
	return []string{"durable", "false", "auto-delete", "true", "exclusive", "false"}
}

// check validates what both sides need and builds the TLS configuration.
func (c *Config) check() (*tls.Config, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("stomp: broker address %q: %w", c.Addr, err)
	}
	if c.ControllerID == "" {
		return nil, errors.New("stomp: ControllerID is required")
	}
	if c.HeartBeatOut < 0 || c.HeartBeatIn < 0 {
		return nil, errors.New("stomp: negative heart-beat")
	}
	if c.TLS == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.TLS.CA, ServerName: c.TLS.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if c.TLS.Cert != nil {
		tc.Certificates = []tls.Certificate{*c.TLS.Cert}
	}
	return tc, nil
}
