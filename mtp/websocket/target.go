package websocket

import (
	"context"
	"net"
	"strconv"

	"brickyard/mtp"
)

var _ mtp.TargetDialer = (*Dialer)(nil)

// DialTarget implements mtp.TargetDialer: Dial to another host, port or
// resource path (the agent's Controller.{i}.MTP.{i}.WebSocket values),
// keeping the Dialer's scheme, TLS, headers and query.
func (d *Dialer) DialTarget(ctx context.Context, agentID string, t mtp.Target) (mtp.Conn, error) {
	u := *d.url
	host, port := u.Hostname(), u.Port()
	if t.Host != "" {
		host = t.Host
	}
	if t.Port != 0 {
		port = strconv.Itoa(t.Port)
	}
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else {
		u.Host = host
	}
	if t.Path != "" {
		u.Path, u.RawPath = t.Path, ""
		if u.Path[0] != '/' {
			u.Path = "/" + u.Path // TR-369's own example stores it without
		}
	}
	nd := *d
	nd.url = &u
	return nd.Dial(ctx, agentID)
}
