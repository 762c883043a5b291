package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// link5 is an MQTT 5 broker connection through paho.golang's client, which
// owns three goroutines (reader, router, pinger) from Connect until its
// Done channel closes. onMessage runs on the router goroutine.
//
// paho v0.23.0 does not answer a PUBLISH or SUBSCRIBE that awaits its
// acknowledgement when the connection ends: its session state forgets the
// waiter (state.State.clean) and the call returns only at its
// PacketTimeout (10 s). Every wait here is therefore bounded by ended as
// well, which is canceled as soon as the connection has ended.
type link5 struct {
	c    *paho.Client
	p    linkParams
	once sync.Once
	mu   sync.Mutex
	err  error // why the connection ended, as paho reported it

	// ended is canceled (cause errLinkEnded) once paho's Done channel has
	// closed: paho reports every end of a connected client through
	// OnClientError or OnServerDisconnect, after Done closed, and close
	// cancels it itself.
	ended context.Context
	end   context.CancelCauseFunc
}

// errLinkEnded is the cause of a publish or subscribe cut short because
// the broker connection ended.
var errLinkEnded = errors.New("the broker connection ended")

func connect5(ctx context.Context, nc net.Conn, p linkParams) (*link5, connackInfo, error) {
	l := &link5{p: p}
	l.ended, l.end = context.WithCancelCause(context.Background())
	if _, isTLS := nc.(*tls.Conn); isTLS {
		// paho writes a packet as several buffers from several goroutines;
		// a TCP socket takes them in one writev, a TLS conn needs a lock.
		nc = packets.NewThreadSafeConn(nc)
	}
	l.c = paho.NewClient(paho.ClientConfig{
		Conn:               nc,
		OnPublishReceived:  []func(paho.PublishReceived) (bool, error){l.received},
		OnClientError:      func(err error) { l.setErr(err); l.end(errLinkEnded) },
		OnServerDisconnect: func(d *paho.Disconnect) { l.setErr(disconnectErr(d)); l.end(errLinkEnded) },
	})
	recvMax, maxPacket := p.receiveMax, uint32(p.maxPacket)
	cp := &paho.Connect{
		ClientID:     p.clientID,
		KeepAlive:    p.keepAlive,
		CleanStart:   true,
		Username:     p.username,
		UsernameFlag: p.username != "",
		Password:     []byte(p.password),
		PasswordFlag: p.password != "",
		Properties: &paho.ConnectProperties{
			RequestResponseInfo: true,
			// paho sends Request Problem Information 0 unless asked; a broker
			// may then withhold CONNACK user properties (subscribe-topic).
			RequestProblemInfo: true,
			ReceiveMaximum:     &recvMax,
			MaximumPacketSize:  &maxPacket,
			User:               paho.UserProperties{{Key: "usp-endpoint-id", Value: p.endpointID}},
		},
	}
	ca, err := l.c.Connect(ctx, cp)
	if err != nil {
		l.end(errLinkEnded)
		_ = nc.Close() // paho closes it too on most paths; twice is harmless
		if ca != nil {
			return nil, connackInfo{}, fmt.Errorf("CONNACK reason 0x%02x: %w", ca.ReasonCode, err)
		}
		return nil, connackInfo{}, err
	}
	var info connackInfo
	if ca.Properties != nil && ca.Properties.MaximumQoS != nil && *ca.Properties.MaximumQoS < l.p.qos {
		l.p.qos = *ca.Properties.MaximumQoS // [MQTT-3.2.2-11]: never publish above it
	}
	if ca.Properties != nil {
		info.assignedClientID = ca.Properties.AssignedClientID
		info.responseInfo = ca.Properties.ResponseInfo
		info.subscribeTopics = ca.Properties.User.GetAll("subscribe-topic")
	}
	return l, info, nil
}

func disconnectErr(d *paho.Disconnect) error {
	reason := ""
	if d.Properties != nil {
		reason = d.Properties.ReasonString
	}
	return fmt.Errorf("broker sent DISCONNECT, reason 0x%02x %s", d.ReasonCode, reason)
}

func (l *link5) setErr(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
}

func (l *link5) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return errors.New("connection closed")
	}
	return l.err
}

func (l *link5) received(pr paho.PublishReceived) (bool, error) {
	pk := pr.Packet
	m := message{topic: pk.Topic, payload: pk.Payload}
	if pk.Properties != nil {
		m.responseTopic, m.contentType = pk.Properties.ResponseTopic, pk.Properties.ContentType
	}
	l.p.onMessage(m)
	return true, nil
}

func (l *link5) subscribe(ctx context.Context, filters []string) error {
	s := &paho.Subscribe{
		Properties: &paho.SubscribeProperties{User: paho.UserProperties{{Key: "usp-endpoint-id", Value: l.p.endpointID}}},
	}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: l.p.qos, NoLocal: true})
	}
	ctx, stop := l.bound(ctx)
	defer stop()
	_, err := l.c.Subscribe(ctx, s)
	return l.waitErr(ctx, err)
}

func (l *link5) publish(ctx context.Context, topic string, payload []byte, responseTopic string) error {
	props := &paho.PublishProperties{ContentType: contentType, ResponseTopic: responseTopic}
	ctx, stop := l.bound(ctx)
	defer stop()
	_, err := l.c.Publish(ctx, &paho.Publish{QoS: l.p.qos, Topic: topic, Payload: payload, Properties: props})
	return l.waitErr(ctx, err)
}

// bound derives from ctx a context that also ends when the connection
// does (see link5); stop releases it.
func (l *link5) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(l.ended, func() { cancel(errLinkEnded) })
	return ctx, func() { unhook(); cancel(nil) }
}

// waitErr names the end of the connection as the reason of a wait that
// bound cut short; other errors pass unchanged.
func (l *link5) waitErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errLinkEnded) {
		return fmt.Errorf("%w: %w", errLinkEnded, err)
	}
	return err
}

func (l *link5) done() <-chan struct{} { return l.c.Done() }

func (l *link5) close() {
	l.once.Do(func() {
		l.setErr(errors.New("closed by this endpoint"))
		_ = l.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	})
	<-l.c.Done()
	l.end(errLinkEnded)
}
