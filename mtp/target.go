package mtp

import (
	"context"
	"time"
)

// Target is where one agent's session goes when its data model says
// otherwise than its Dialer's configuration: a controller moved it by
// writing the TR-181 MTP objects (Device.LocalAgent.MTP.{i},
// Controller.{i}.MTP.{i}, Device.MQTT.Client.{i}, Device.STOMP.Connection.{i}).
// A zero field keeps the Dialer's value.
type Target struct {
	Host string // broker (MQTT, STOMP) or controller (WebSocket) host
	Port int

	// MQTT.
	MQTTVersion     string        // "5.0" or "3.1.1"
	ClientID        string        // the MQTT client identifier, exactly (no "{eid}")
	KeepAlive       time.Duration // MQTT KeepAliveTime
	AgentTopic      string        // the agent's own (response) topic
	Subscriptions   []string      // topic filters to subscribe, besides AgentTopic
	ControllerTopic string        // where the agent publishes

	// STOMP.
	AgentDest      string
	ControllerDest string
	VirtualHost    string

	// WebSocket.
	Path string // the controller's resource path
}

// TargetDialer is a Dialer that can aim one Dial elsewhere than its
// configuration (MQTT, STOMP, WebSocket dialers implement it).
type TargetDialer interface {
	Dialer
	DialTarget(ctx context.Context, agentID string, t Target) (Conn, error)
}
