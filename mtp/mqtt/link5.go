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
type link5 struct {
	c    *paho.Client
	p    linkParams
	once sync.Once
	mu   sync.Mutex
	err  error // why the connection ended, as paho reported it
}

func connect5(ctx context.Context, nc net.Conn, p linkParams) (*link5, connackInfo, error) {
	l := &link5{p: p}
	if _, isTLS := nc.(*tls.Conn); isTLS {
		// paho writes a packet as several buffers from several goroutines;
		// a TCP socket takes them in one writev, a TLS conn needs a lock.
		nc = packets.NewThreadSafeConn(nc)
	}
	l.c = paho.NewClient(paho.ClientConfig{
		Conn:               nc,
		OnPublishReceived:  []func(paho.PublishReceived) (bool, error){l.received},
		OnClientError:      func(err error) { l.setErr(err) },
		OnServerDisconnect: func(d *paho.Disconnect) { l.setErr(disconnectErr(d)) },
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
	_, err := l.c.Subscribe(ctx, s)
	return err
}

func (l *link5) publish(ctx context.Context, topic string, payload []byte, responseTopic string) error {
	props := &paho.PublishProperties{ContentType: contentType, ResponseTopic: responseTopic}
	_, err := l.c.Publish(ctx, &paho.Publish{QoS: l.p.qos, Topic: topic, Payload: payload, Properties: props})
	return err
}

func (l *link5) done() <-chan struct{} { return l.c.Done() }

func (l *link5) close() {
	l.once.Do(func() {
		l.setErr(errors.New("closed by this endpoint"))
		_ = l.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	})
	<-l.c.Done()
}
