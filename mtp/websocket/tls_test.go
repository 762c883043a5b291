package websocket

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/certs"
)

func (p *pki) serverTLS(t testing.TB) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.issue(t, true, "")}}
}

func wssConfig(t *testing.T, server *tls.Config) (*Listener, Config) {
	cfg := testConfig(t)
	cfg.URL = "wss://127.0.0.1:0/usp"
	cfg.TLS = server
	l := listen(t, cfg)
	cfg.URL = l.URL()
	return l, cfg
}

// wss with a server certificate, then mutual TLS (R-MTP.0/1).
func TestTLS(t *testing.T) {
	checkLeaks(t)
	ca := newPKI(t)

	l, cfg := wssConfig(t, ca.serverTLS(t))
	cfg.TLS = &tls.Config{RootCAs: ca.pool}
	agent, ctrl := session(t, l, dialer(t, cfg), "proto::tls-agent")
	ctx := ctxT(t, 5*time.Second)
	if err := agent.Send(ctx, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if got, err := ctrl.Recv(ctx); err != nil || string(got) != "over tls" {
		t.Fatalf("%q %v", got, err)
	}

	cfg.TLS = &tls.Config{RootCAs: newPKI(t).pool} // another CA
	if _, err := dialer(t, cfg).Dial(ctx, "proto::a"); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("untrusted server certificate: %v", err)
	}
	cfg.TLS = &tls.Config{RootCAs: ca.pool, ServerName: "ctrl.example"}
	if _, err := dialer(t, cfg).Dial(ctx, "proto::a"); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("wrong server name: %v", err)
	}
	cfg.TLS = &tls.Config{RootCAs: ca.pool, ServerName: "localhost"}
	a2, _ := session(t, l, dialer(t, cfg), "proto::by-name")
	_ = a2.Close()

	server := ca.serverTLS(t)
	server.ClientAuth, server.ClientCAs = tls.RequireAndVerifyClientCert, ca.pool
	l, cfg = wssConfig(t, server)
	const eid = "os::012345-SIM%1"
	cfg.TLS = &tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.issue(t, false, eid)}}
	agent, ctrl = session(t, l, dialer(t, cfg), eid)
	if ctrl.Info().Peer != eid {
		t.Errorf("peer %q", ctrl.Info().Peer)
	}
	if certs := ctrl.PeerCertificates(); len(certs) == 0 || len(certs[0].URIs) != 1 || certs[0].URIs[0].Scheme != "urn" {
		t.Errorf("agent certificate as the controller sees it: %v", certs)
	}
	if certs := agent.PeerCertificates(); len(certs) == 0 || certs[0].IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("controller certificate as the agent sees it: %v", certs)
	}
	_ = agent.Close()

	cfg.TLS = &tls.Config{RootCAs: ca.pool} // no client certificate
	if _, err := dialer(t, cfg).Dial(ctx, "proto::anon"); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("no client certificate: %v", err)
	}
	stranger := newPKI(t)
	cfg.TLS = &tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{stranger.issue(t, false, "proto::x")}}
	if _, err := dialer(t, cfg).Dial(ctx, "proto::x"); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("client certificate from another CA: %v", err)
	}
}

// A certificate per endpoint from a fleet CA (mtp/certs), each side
// checking that the other's certificate names the Endpoint ID it claims
// (R-SEC.0a, R-SEC.10a): accepted when they agree, refused on either side
// when they do not.
func TestTLSIdentity(t *testing.T) {
	checkLeaks(t)
	ca, err := certs.New("fleet CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.ServerCertificate(ctrlID, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	server := &tls.Config{Certificates: []tls.Certificate{*srv}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	cfg := testConfig(t)
	cfg.URL, cfg.TLS, cfg.CheckIdentity = "wss://127.0.0.1:0/usp", server, true
	l := listen(t, cfg)
	cfg.URL, cfg.TLS, cfg.Certificate = l.URL(), &tls.Config{RootCAs: ca.Pool()}, ca.Certificate
	const eid = "os::00256D-SIM000001"
	agent, ctrl := session(t, l, dialer(t, cfg), eid)
	if ctrl.Info().Peer != eid || certs.Check(ctrl.PeerCertificates(), eid) != nil || certs.Check(agent.PeerCertificates(), ctrlID) != nil {
		t.Fatalf("peer %q", ctrl.Info().Peer)
	}
	_ = agent.Close()
	ctx := ctxT(t, 5*time.Second)

	// The agent presents another endpoint's certificate: the listener
	// refuses it (403).
	lying := cfg
	lying.Certificate = func(string) (*tls.Certificate, error) { return ca.Certificate("os::00256D-SIM000002") }
	if _, err := dialer(t, lying).Dial(ctx, eid); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "403") {
		t.Errorf("agent certificate of another endpoint: %v", err)
	}
	// The controller is not the one the agent means: the dialer refuses
	// its certificate.
	other := cfg
	other.ControllerID = "proto::another-controller"
	if _, err := dialer(t, other).Dial(ctx, eid); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "not the claimed endpoint") {
		t.Errorf("controller certificate of another endpoint: %v", err)
	}
	// A certificate from another CA with the right name.
	stranger, _ := certs.New("stranger", time.Now(), time.Hour)
	forged := cfg
	forged.Certificate = stranger.Certificate
	if _, err := dialer(t, forged).Dial(ctx, eid); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("agent certificate from another CA: %v", err)
	}

	// Configurations that cannot check anything are refused.
	plain := testConfig(t)
	plain.CheckIdentity = true
	if _, err := NewDialer(plain); err == nil {
		t.Error("CheckIdentity over ws://")
	}
	noAuth := testConfig(t)
	noAuth.URL, noAuth.TLS, noAuth.CheckIdentity = "wss://127.0.0.1:0/usp", &tls.Config{Certificates: []tls.Certificate{*srv}}, true
	if _, err := NewListener(noAuth); err == nil {
		t.Error("a listener checking identities without client certificates")
	}
}
