package websocket

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/usp"
)

// Dialer opens agents' sessions to one controller. NewDialer returns a
// *Dialer as an mtp.Dialer; it is safe for concurrent use.
type Dialer struct {
	s     *settings
	url   *url.URL
	ctrl  string
	hdr   http.Header
	d     *gws.Dialer
	cert  func(eid string) (*tls.Certificate, error)
	check bool
}

var _ mtp.Dialer = (*Dialer)(nil)

// NewDialer checks cfg and returns the agents' Dialer for its controller.
func NewDialer(cfg Config) (mtp.Dialer, error) {
	s, u, tc, err := cfg.prepare(false)
	if err != nil {
		return nil, err
	}
	src := cfg.Sources
	return &Dialer{s: s, url: u, ctrl: cfg.ControllerID, hdr: cfg.Header.Clone(), d: &gws.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return src.Dialer().DialContext(ctx, network, addr)
		},
		TLSClientConfig:  tc,
		HandshakeTimeout: s.handshake,
		ReadBufferSize:   s.readBuf,
		WriteBufferSize:  s.writeBuf,
		WriteBufferPool:  s.pool,
		Subprotocols:     []string{Subprotocol},
		// Proxy nil: no proxy from the environment; Jar nil: no cookies.
	}, cert: cfg.Certificate, check: cfg.CheckIdentity}, nil
}

// dialerFor is the gorilla Dialer of one agent: the shared one, or a
// copy whose TLS presents the agent's own certificate and checks the
// controller's identity.
func (d *Dialer) dialerFor(agentID string) *gws.Dialer {
	if d.cert == nil && !d.check {
		return d.d
	}
	gd := *d.d
	tc := gd.TLSClientConfig.Clone()
	if d.cert != nil {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return d.cert(agentID) }
	}
	if d.check {
		ctrl := d.ctrl
		tc.VerifyConnection = func(cs tls.ConnectionState) error { return certs.Check(cs.PeerCertificates, ctrl) }
	}
	gd.TLSClientConfig = tc
	return &gd
}

// Dial implements mtp.Dialer: it connects as agentID (eid= in the query),
// checks the subprotocol, starts the Conn's reader and keep-alive, and
// sends the websocket_connect Record before it returns. A failure to
// connect or a refused handshake wraps mtp.ErrBroken; ctx's own error is
// returned as is.
func (d *Dialer) Dial(ctx context.Context, agentID string) (mtp.Conn, error) {
	if err := checkEID(agentID); err != nil {
		return nil, fmt.Errorf("websocket: agent ID: %w", err)
	}
	u := *d.url
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "eid=" + encodeEID(agentID)
	ws, resp, err := d.dialerFor(agentID).DialContext(ctx, u.String(), d.hdr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if resp != nil {
			err = fmt.Errorf("%w: HTTP %s", err, resp.Status)
		}
		return nil, fmt.Errorf("websocket: dial %s: %w: %w", d.url, mtp.ErrBroken, err)
	}
	refuse := func(code int, why string) (mtp.Conn, error) {
		_ = ws.WriteControl(gws.CloseMessage, closeMessage(code, why), time.Now().Add(d.s.close))
		_ = ws.Close()
		return nil, fmt.Errorf("websocket: dial %s: %w: %s", d.url, mtp.ErrBroken, why)
	}
	if ws.Subprotocol() != Subprotocol {
		return refuse(gws.CloseProtocolError, fmt.Sprintf("server chose subprotocol %q, not %s", ws.Subprotocol(), Subprotocol))
	}
	if eid, ok := extensionEID(resp.Header); ok && eid != "" && eid != d.ctrl {
		return refuse(gws.ClosePolicyViolation, fmt.Sprintf("server is %q, not controller %q", eid, d.ctrl))
	}
	c := newConn(ws, mtp.Info{Protocol: mtp.WebSocket, Local: agentID, Peer: d.ctrl}, d.s, nil)
	c.start()
	rec, err := usp.Codec{LocalID: agentID}.Marshal(usp.Codec{LocalID: agentID}.WebSocketConnect(d.ctrl))
	if err == nil {
		err = c.Send(ctx, rec)
	}
	if err != nil {
		_ = c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("websocket: websocket_connect Record: %w", err)
	}
	return c, nil
}
