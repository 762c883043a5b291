package agents

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"brickyard/mtp"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/stomp"
	"brickyard/mtp/websocket"
	"brickyard/sim/device"
)

// transport is the agents' dialer to the controller under test.
type transport struct {
	protocol string // WebSocket, MQTT, STOMP
	where    string // the URL or broker, for logs and the summary
	dialer   mtp.Dialer
	drops    *mtp.Drops // what the agents' transport dropped
}

// dialer builds the agents' side of the binding the flags chose.
func (sp *Spec) dialer(log *zap.Logger) (*transport, error) {
	f := sp.f
	logf := func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
	drops := &mtp.Drops{Warn: func(c mtp.DropCause, endpoint, detail string) {
		log.Warn("an agent dropped a received Record; every drop is counted in the report and the metrics",
			zap.String("cause", c.String()), zap.String("agent", endpoint), zap.String("what", detail))
	}}
	tr, err := sp.dialerWith(f, logf, drops)
	if tr != nil {
		tr.drops = drops
	}
	return tr, err
}

func (sp *Spec) dialerWith(f Config, logf func(string, ...any), drops *mtp.Drops) (*transport, error) {
	switch sp.transport {
	case "websocket":
		cfg := websocket.Config{URL: sp.wsURL.String(), ControllerID: sp.controllerID, Sources: sp.sources, Logf: logf, Drops: drops}
		if sp.wsURL.Scheme == "wss" {
			tc, err := loadTLS(f)
			if err != nil {
				return nil, err
			}
			cfg.TLS = tc
		}
		if sp.ca != nil {
			cfg.Certificate = sp.ca.Certificate
		}
		cfg.CheckIdentity = sp.checkIdentity
		if f.Username != "" {
			cfg.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(f.Username+":"+sp.password))}}
		}
		d, err := websocket.NewDialer(cfg)
		if err != nil {
			return nil, fmt.Errorf("--ws-url: %w", err)
		}
		port, _ := strconv.ParseUint(sp.wsURL.Port(), 10, 16)
		if port == 0 {
			port = 80
			if sp.wsURL.Scheme == "wss" {
				port = 443
			}
		}
		if err := sp.setDeviceTransport(device.Transport{Protocol: "WebSocket", Host: sp.wsURL.Hostname(), Port: uint32(port),
			Encrypt: sp.wsURL.Scheme == "wss", Path: sp.wsURL.RequestURI()}); err != nil {
			return nil, err
		}
		return &transport{protocol: string(mtp.WebSocket), where: sp.wsURL.Redacted(), dialer: d}, nil
	case "mqtt":
		v := mqtt.V5
		if f.MQTTVersion != "5" && f.MQTTVersion != "5.0" {
			v = mqtt.V311
		}
		cfg := mqtt.Config{Broker: sp.broker, Version: v, ControllerID: sp.controllerID,
			ControllerTopic: f.ControllerTopic, AgentTopic: f.AgentTopic, ClientID: f.ClientID,
			Username: f.Username, Password: sp.password, KeepAlive: f.KeepAlive, Sources: sp.sources, Logf: logf, Drops: drops,
			QoS0: f.MQTTQoS == 0,
			TLS:  mqtt.TLS{CAFile: f.TLSCA, CertFile: f.TLSCert, KeyFile: f.TLSKey, ServerName: f.TLSServerName}}
		if sp.tls {
			// Check the files here, so that a bad one is an error naming
			// its flag; the dialer loads them again.
			if _, err := loadTLS(f); err != nil {
				return nil, err
			}
		}
		if len(sp.brokers) > 1 {
			d, err := newSpreadDialer(sp.brokers, func(broker string) (mtp.Dialer, error) {
				c := cfg
				c.Broker = broker
				return mqtt.NewDialer(c)
			})
			if err != nil {
				return nil, fmt.Errorf("--mqtt: %w", err)
			}
			return &transport{protocol: string(mtp.MQTT), where: sp.broker, dialer: d}, nil
		}
		d, err := mqtt.NewDialer(cfg)
		if err != nil {
			return nil, fmt.Errorf("--mqtt: %w", err)
		}
		host, port := splitHostPort(strings.TrimPrefix(strings.TrimPrefix(sp.broker, "tls://"), "tcp://"), 1883)
		version := "5.0"
		if v == mqtt.V311 {
			version = "3.1.1"
		}
		ka := uint32(60)
		if f.KeepAlive > 0 {
			ka = uint32(min(max(f.KeepAlive/time.Second, 1), 65535))
		}
		if err := sp.setDeviceTransport(device.Transport{Protocol: "MQTT", Host: host, Port: port, Encrypt: sp.tls,
			MQTTVersion: version, ClientID: f.ClientID, AgentTopic: orDefault(f.AgentTopic, "usp/agent/{eid}"),
			ControllerTopic: strings.ReplaceAll(orDefault(f.ControllerTopic, "usp/controller/{eid}"), "{eid}", "{ctrl}"), KeepAlive: ka}); err != nil {
			return nil, err
		}
		return &transport{protocol: string(mtp.MQTT), where: sp.broker, dialer: d}, nil
	case "stomp":
		cfg := stomp.Config{Addr: sp.broker, Login: f.Username, Passcode: sp.password, VirtualHost: f.STOMPVHost,
			AgentDest: f.AgentDest, ControllerID: sp.controllerID, ControllerDest: f.ControllerDest,
			HeartBeatOut: f.KeepAlive, HeartBeatIn: f.KeepAlive, Durable: !f.STOMPTransient, Sources: sp.sources, Logf: logf, Drops: drops}
		if sp.tls {
			tc, err := stomp.LoadTLS(f.TLSCA, f.TLSCert, f.TLSKey, f.TLSServerName)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", firstSet(f), err)
			}
			cfg.TLS = tc
		}
		d, err := stomp.NewDialer(cfg)
		if err != nil {
			return nil, fmt.Errorf("--stomp: %w", err)
		}
		host, port := splitHostPort(sp.broker, 61613)
		hb := uint32(0)
		if f.KeepAlive > 0 {
			hb = uint32(f.KeepAlive / time.Millisecond)
		}
		if err := sp.setDeviceTransport(device.Transport{Protocol: "STOMP", Host: host, Port: port, Encrypt: sp.tls,
			VirtualHost: f.STOMPVHost, AgentDest: f.AgentDest, ControllerDest: strings.ReplaceAll(f.ControllerDest, "{eid}", "{ctrl}"), Heartbeat: hb}); err != nil {
			return nil, err
		}
		scheme := "tcp://"
		if sp.tls {
			scheme = "tls://"
		}
		return &transport{protocol: string(mtp.STOMP), where: scheme + sp.broker, dialer: d}, nil
	}
	return nil, fmt.Errorf("no transport %q", sp.transport)
}

// firstSet names the first TLS file flag given, for errors.
func firstSet(f Config) string {
	switch {
	case f.TLSCA != "":
		return "tls-ca"
	case f.TLSCert != "":
		return "tls-cert"
	}
	return "tls-server-name"
}

// loadTLS is the client TLS configuration of the --tls-* flags: the CA
// pool (nil: the system's roots), a client certificate, the server name.
func loadTLS(f Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.TLSServerName}
	if f.TLSCA != "" {
		data, err := os.ReadFile(f.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--tls-ca: %s: no PEM certificate", f.TLSCA)
		}
		tc.RootCAs = pool
	}
	if f.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// setDeviceTransport fills the factory Transport of the devices' MTP
// objects: where the flags say the controller is.
func (sp *Spec) setDeviceTransport(t device.Transport) error {
	dt, err := device.FillTransport(t, t.Protocol)
	if err != nil {
		return err
	}
	sp.deviceTransport = dt
	return nil
}

func splitHostPort(addr string, def uint32) (string, uint32) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return strings.Trim(addr, "[]"), def
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || p == 0 {
		return host, def
	}
	return host, uint32(p)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
