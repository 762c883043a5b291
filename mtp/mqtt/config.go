package mqtt

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

// Version is the MQTT protocol version of a connection.
type Version int

const (
	V5   Version = iota // MQTT 5.0, the default (mandatory in USP)
	V311                // MQTT 3.1.1 (optional in USP; usp-js speaks only this)
)

func (v Version) String() string {
	if v == V311 {
		return "3.1.1"
	}
	return "5"
}

// Config configures a Dialer (the agents' side) or a Listener (the
// controller's). The zero value of every field but Broker and ControllerID
// has a useful default.
type Config struct {
	// Broker is "tcp://host:port" or "tls://host:port" ("mqtt://",
	// "mqtts://" and "ssl://" are accepted too; no scheme means tcp). A
	// missing port is 1883, or 8883 with TLS.
	Broker  string
	Version Version

	// ControllerID is the controller's endpoint ID: the to_id of agents'
	// Records, and the ID the Listener serves (Records to others are dropped).
	ControllerID string
	// ControllerTopic is where agents publish (notifications, the connect
	// Record, and replies to requests that named no reply topic); "{eid}" is
	// the controller's ID. Default "usp/controller/{eid}".
	ControllerTopic string
	// AgentTopic is an agent's own topic; "{eid}" is the agent's ID. Default
	// "usp/agent/{eid}". The Listener uses it only when an agent named no
	// topic of its own.
	AgentTopic string

	// ClientID is the MQTT client identifier; "{eid}" is the endpoint's ID.
	// Empty: 3.1.1 uses the endpoint ID; MQTT 5 sends an empty one, and a
	// Dialer reuses the ID the broker assigned on that agent's later
	// connects (§5.4).
	ClientID           string
	Username, Password string
	TLS                TLS // used with a tls:// broker

	KeepAlive time.Duration // PINGREQ period; 0: 60 s; negative: none
	QoS0      bool          // publish at QoS 0; the default is QoS 1
	Sources   *mtp.Sources  // local source addresses for agents' connections

	QueueLen    int           // received Records per Conn; default 64
	Backlog     int           // Listener: Conns waiting for Accept; default 1024
	DialTimeout time.Duration // bounds Dial and NewListener; default 10 s
	// MaxRecordSize bounds a received Record; default usp.DefaultMaxRecordSize.
	MaxRecordSize int
	// Logf, when set, reports dropped Records (at the 1st, 2nd, 4th, 8th…
	// drop of each kind, so that a flood cannot flood the log).
	Logf func(format string, args ...any)
	// Drops, when set, counts every Record this side drops, by cause
	// (shared by every Dialer or Listener of one side of a run).
	Drops *mtp.Drops
	// Handover, when set, carries the controller's agents from a Listener
	// whose broker connection died to the next Listener made with it
	// (Listener). Dialers ignore it.
	Handover *Handover
}

// TLS is the client side of a tls:// broker connection. Config, when set,
// is used as is (cloned) and the files are ignored.
type TLS struct {
	CAFile            string // PEM CA certificates; empty: the system's roots
	CertFile, KeyFile string // PEM client certificate and key (optional)
	ServerName        string // default: the broker's host
	Config            *tls.Config
}

// settings is a checked Config with its defaults applied.
type settings struct {
	Config
	addr string      // host:port
	tls  *tls.Config // nil: plain TCP
	qos  byte
	ka   uint16 // seconds
}

func (c Config) settings() (*settings, error) {
	s := &settings{Config: c}
	if c.ControllerID == "" {
		return nil, errors.New("mqtt: ControllerID is required")
	}
	if s.ControllerTopic == "" {
		s.ControllerTopic = "usp/controller/{eid}"
	}
	if s.AgentTopic == "" {
		s.AgentTopic = "usp/agent/{eid}"
	}
	if !validTopic(expand(s.ControllerTopic, c.ControllerID)) || !validTopic(expand(s.AgentTopic, "x")) {
		return nil, fmt.Errorf("mqtt: topics %q and %q must be topic names without wildcards", s.ControllerTopic, s.AgentTopic)
	}
	if s.Version != V5 && s.Version != V311 {
		return nil, fmt.Errorf("mqtt: unknown version %d", s.Version)
	}
	if s.KeepAlive == 0 {
		s.KeepAlive = 60 * time.Second
	}
	if s.KeepAlive > 0 {
		s.ka = uint16(min(max(s.KeepAlive/time.Second, 1), 65535))
	}
	s.qos = 1
	if s.QoS0 {
		s.qos = 0
	}
	if s.QueueLen <= 0 {
		s.QueueLen = 64
	}
	if s.Backlog <= 0 {
		s.Backlog = 1024
	}
	if s.DialTimeout <= 0 {
		s.DialTimeout = 10 * time.Second
	}
	if s.MaxRecordSize <= 0 {
		s.MaxRecordSize = usp.DefaultMaxRecordSize
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	useTLS, addr, err := parseBroker(c.Broker)
	if err != nil {
		return nil, err
	}
	s.addr = addr
	if useTLS {
		if s.tls, err = c.TLS.load(addr); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func parseBroker(broker string) (useTLS bool, addr string, err error) {
	scheme, rest, found := strings.Cut(broker, "://")
	if !found {
		scheme, rest = "tcp", broker
	}
	switch strings.ToLower(scheme) {
	case "tcp", "mqtt":
	case "tls", "ssl", "mqtts":
		useTLS = true
	default:
		return false, "", fmt.Errorf("mqtt: broker %q: scheme %q is not tcp or tls", broker, scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return false, "", fmt.Errorf("mqtt: broker %q has no address", broker)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		port := "1883"
		if useTLS {
			port = "8883"
		}
		rest = net.JoinHostPort(strings.Trim(rest, "[]"), port)
	}
	return useTLS, rest, nil
}

func (t TLS) load(addr string) (*tls.Config, error) {
	if t.Config != nil {
		return t.Config.Clone(), nil
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: CA %s: no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
