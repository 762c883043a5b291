package stomp

import (
	"context"
	"net"
	"strconv"

	"brickyard/mtp"
)

var _ mtp.TargetDialer = (*dialer)(nil)

// DialTarget implements mtp.TargetDialer: Dial to another broker,
// virtual host, own destination or controller destination (the agent's
// MTP objects: Device.STOMP.Connection.{i}, LocalAgent.MTP.{i}.STOMP,
// Controller.{i}.MTP.{i}.STOMP). The destinations are taken as given.
func (d *dialer) DialTarget(ctx context.Context, agentID string, t mtp.Target) (mtp.Conn, error) {
	nd := &dialer{cfg: d.cfg, tls: d.tls}
	if t.Host != "" || t.Port != 0 {
		host, port, _ := net.SplitHostPort(nd.cfg.Addr)
		if t.Host != "" {
			host = t.Host
		}
		if t.Port != 0 {
			port = strconv.Itoa(t.Port)
		}
		nd.cfg.Addr = net.JoinHostPort(host, port)
		if nd.tls != nil && t.Host != "" {
			nd.tls = nd.tls.Clone()
			nd.tls.ServerName = t.Host
		}
	}
	if t.VirtualHost != "" {
		nd.cfg.VirtualHost = t.VirtualHost
	}
	if t.AgentDest != "" {
		nd.cfg.AgentDest = t.AgentDest
	}
	if t.ControllerDest != "" {
		nd.cfg.ControllerDest = t.ControllerDest
	}
	return nd.Dial(ctx, agentID)
}
