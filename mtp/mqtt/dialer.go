package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"brickyard/mtp"
	"brickyard/usp"
)

// dialer opens agents' sessions; it is safe for concurrent use by any
// number of agents. Its keeper serves the keep-alive of all of them.
type dialer struct {
	s        *settings
	assigned sync.Map // agent ID → the broker's Assigned Client Identifier (MQTT 5)
	keeper   keeper
}

// NewDialer returns the agents' Dialer for the broker and controller of c.
// Each Dial opens its own broker connection.
func NewDialer(c Config) (mtp.Dialer, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	return &dialer{s: s}, nil
}

// clientID follows §5.4: the configured ID, else 3.1.1 the EID, MQTT 5 the
// ID the broker assigned on an earlier connect, else empty.
func (d *dialer) clientID(agentID string) string {
	switch {
	case d.s.ClientID != "":
		return expand(d.s.ClientID, agentID)
	case d.s.Version == V311:
		return agentID
	}
	if id, ok := d.assigned.Load(agentID); ok {
		return id.(string)
	}
	return ""
}

// Dial connects agentID to the broker (CONNECT with usp-endpoint-id and
// Request Response Information), subscribes to its own topic, publishes
// its mqtt_connect Record to the controller topic, and returns the
// session. A failure after the socket opened wraps mtp.ErrBroken.
func (d *dialer) Dial(ctx context.Context, agentID string) (mtp.Conn, error) {
	return d.dial(ctx, agentID, d.s, d.clientID(agentID), nil)
}

// DialTarget implements mtp.TargetDialer: Dial, aimed where the agent's
// data model says (another broker, client ID, keep-alive, version, own
// topic, more topic filters, another controller topic).
func (d *dialer) DialTarget(ctx context.Context, agentID string, t mtp.Target) (mtp.Conn, error) {
	s := *d.s
	if t.Host != "" || t.Port != 0 {
		host, port, _ := net.SplitHostPort(s.addr)
		if t.Host != "" {
			host = t.Host
		}
		if t.Port != 0 {
			port = strconv.Itoa(t.Port)
		}
		s.addr = net.JoinHostPort(host, port)
		if s.tls != nil && t.Host != "" && s.TLS.ServerName == "" {
			s.tls = s.tls.Clone()
			s.tls.ServerName = t.Host
		}
	}
	switch t.MQTTVersion {
	case "":
	case "5.0", "5":
		s.Version = V5
	case "3.1.1":
		s.Version = V311
	default:
		return nil, fmt.Errorf("mqtt: target version %q: want 5.0 or 3.1.1", t.MQTTVersion)
	}
	if t.KeepAlive > 0 {
		s.ka = uint16(min(max(t.KeepAlive/time.Second, 1), 65535))
	}
	if t.AgentTopic != "" {
		s.AgentTopic = t.AgentTopic
	}
	if t.ControllerTopic != "" {
		if !validTopic(t.ControllerTopic) {
			return nil, fmt.Errorf("mqtt: target controller topic %q is not a topic name", t.ControllerTopic)
		}
		s.ControllerTopic = t.ControllerTopic
	}
	id := d.clientID(agentID)
	if t.ClientID != "" {
		id = t.ClientID
	}
	var extra []string
	for _, f := range t.Subscriptions {
		if !validFilter(f) {
			return nil, fmt.Errorf("mqtt: target subscription %q is not a topic filter", f)
		}
		extra = append(extra, f)
	}
	return d.dial(ctx, agentID, &s, id, extra)
}

func (d *dialer) dial(ctx context.Context, agentID string, s *settings, clientID string, extra []string) (mtp.Conn, error) {
	own := expand(s.AgentTopic, agentID)
	if agentID == "" || !validTopic(own) {
		return nil, fmt.Errorf("mqtt: agent ID %q makes topic %q, not a valid topic name", agentID, own)
	}
	ctx, cancel := context.WithTimeout(ctx, s.DialTimeout)
	defer cancel()
	nc, err := dialBroker(ctx, s)
	if err != nil {
		return nil, broken("dial "+s.addr, err)
	}
	p := linkParams{clientID: clientID, username: s.Username, password: s.Password,
		keepAlive: s.ka, qos: s.qos, endpointID: agentID, receiveMax: uint16(min(s.QueueLen, 65535)), maxPacket: s.maxPacket()}
	cl := newClient(nc, p, s.Version == V5, &d.keeper)
	ack, err := cl.handshake(ctx, p)
	if err != nil {
		cl.close()
		return nil, broken("connect to "+s.addr, err)
	}
	c := &agentConn{s: s, c: cl, ctrlTopic: expand(s.ControllerTopic, s.ControllerID), closed: make(chan struct{}),
		info: mtp.Info{Protocol: mtp.MQTT, Local: agentID, Peer: s.ControllerID, MQTTv5: s.Version == V5}}
	if ack.assignedClientID != "" {
		d.assigned.Store(agentID, ack.assignedClientID)
	}
	if validTopic(ack.responseInfo) {
		own = ack.responseInfo // R-MQTT.21
	}
	c.own, c.info.Topic = own, own
	filters := []string{own}
	if s.Version == V311 {
		filters[0] = own + "/#" // also matches own, and own/reply-to=…
	}
	for _, f := range append(ack.subscribeTopics, extra...) {
		if validFilter(f) && !slices.Contains(filters, f) {
			filters = append(filters, f)
		}
	}
	if err := cl.subscribe(ctx, filters, agentID); err != nil {
		cl.close()
		return nil, broken("subscribe", err)
	}
	codec := usp.Codec{LocalID: agentID}
	rec, err := codec.Marshal(codec.MQTTConnect(s.ControllerID, s.Version == V5, own))
	if err == nil {
		err = cl.publish(c.ctrlTopic, rec, own, false)
	}
	if err != nil {
		cl.close()
		return nil, broken("mqtt_connect record", err)
	}
	d.keeper.join(cl)
	return c, nil
}

// maxPacket is the largest packet accepted from the broker: a Record of
// MaxRecordSize plus a topic and properties.
func (s *settings) maxPacket() int { return s.MaxRecordSize + 2*65535 + 1024 }

// errNoTopic is a controller Send to an agent that named no topic.
var errNoTopic = errors.New("mqtt: no topic known for the agent")
