package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"brickyard/mtp"
)

// contentType is the MQTT 5 Content Type of a USP Record; receivers accept
// it and the registered MIME type (§5.1).
const (
	contentType     = "usp.msg"
	contentTypeMIME = "application/vnd.bbf.usp.msg"
)

// message is one PUBLISH received from the broker.
type message struct {
	topic         string
	payload       []byte
	responseTopic string // MQTT 5 only
	contentType   string // MQTT 5 only
	oversize      bool   // 3.1.1: payload over the limit, discarded unread
}

// link is one broker connection in either MQTT version. It owns its
// goroutines from connect until close returns. onMessage (given to
// connect) runs on the link's reader goroutine and must not block.
type link interface {
	// subscribe subscribes to every filter and fails unless all are granted.
	subscribe(ctx context.Context, filters []string) error
	// publish sends one PUBLISH; at QoS 1 it returns once the broker
	// acknowledged it. responseTopic is the MQTT 5 Response Topic (empty:
	// none); 3.1.1 links ignore it.
	publish(ctx context.Context, topic string, payload []byte, responseTopic string) error
	// done is closed when the connection has ended, for any reason.
	done() <-chan struct{}
	// cause says why the connection ended; valid once done is closed.
	cause() error
	// close disconnects (DISCONNECT, then the socket) and waits for the
	// goroutines. It may be called more than once.
	close()
}

// linkParams are what connect needs beyond the socket.
type linkParams struct {
	clientID   string
	username   string
	password   string
	keepAlive  uint16 // seconds; 0: no keepalive
	qos        byte
	endpointID string // MQTT 5 user property usp-endpoint-id
	receiveMax uint16 // MQTT 5 Receive Maximum
	maxPacket  int    // largest packet accepted from the broker
	onMessage  func(message)
}

// connackInfo is what the broker's CONNACK told the client (MQTT 5 only).
type connackInfo struct {
	assignedClientID string
	responseInfo     string   // Response Information: the client's reply topic
	subscribeTopics  []string // user properties "subscribe-topic"
}

// dialBroker opens the socket (and TLS) to the broker from the next source
// address. Go sets TCP_NODELAY on TCP sockets by default.
func dialBroker(ctx context.Context, s *settings) (net.Conn, error) {
	nc, err := s.Sources.Dialer().DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	if s.tls == nil {
		return nc, nil
	}
	tc := tls.Client(nc, s.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}

// connect runs the MQTT handshake of the configured version on nc; on
// failure nc is closed.
func connect(ctx context.Context, v Version, nc net.Conn, p linkParams) (link, connackInfo, error) {
	if v == V311 {
		l, err := connect311(ctx, nc, p)
		return l, connackInfo{}, err
	}
	return connect5(ctx, nc, p)
}

// broken wraps err as a session the broker or the network ended.
func broken(what string, err error) error {
	if err == nil {
		return fmt.Errorf("mqtt: %s: %w", what, mtp.ErrBroken)
	}
	return fmt.Errorf("mqtt: %s: %w (%w)", what, mtp.ErrBroken, err)
}

// sendErr turns a publish failure into the error Send returns: the
// caller's context error as is, anything on a dead link as ErrBroken.
func sendErr(ctx context.Context, l link, err error) error {
	if errors.Is(err, errLinkEnded) { // MQTT 5: cut short by the end of the connection
		<-l.done()
		return broken("publish", l.cause())
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	select {
	case <-l.done():
		return broken("publish", l.cause())
	default:
	}
	return fmt.Errorf("mqtt: publish: %w", err)
}

// powerOfTwo reports whether n is 1, 2, 4, 8…: drops are logged at these
// counts only, so that a flood cannot flood the log.
func powerOfTwo(n uint64) bool { return n&(n-1) == 0 }
