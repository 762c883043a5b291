package mqtt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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
	s := d.s
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
	p := linkParams{clientID: d.clientID(agentID), username: s.Username, password: s.Password,
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
	for _, f := range ack.subscribeTopics {
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
