package stomp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// TLS with a private CA, and a client certificate the broker requires.
func TestTLS(t *testing.T) {
	noLeaks(t)
	ca, caKey := selfSigned(t, "test CA", nil, nil)
	srv, srvKey := selfSigned(t, "localhost", ca, caKey)
	cli, cliKey := selfSigned(t, "proto::agent", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	b := serveBroker(ln)
	defer b.Close()
	cfg := config(t, b.Addr())
	cfg.TLS = &TLSConfig{CA: pool, ServerName: "localhost",
		Cert: &tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}}
	l := listen(t, cfg)
	a := dial(t, cfg, "proto::agent")
	c := accept(t, l)
	recv(t, c)
	send(t, c, record(t, ctrlID, "proto::agent", "over-tls"))
	if _, id, _ := open(t, "proto::agent", recv(t, a)); id != "over-tls" {
		t.Fatal(id)
	}

	cfg.TLS = &TLSConfig{ServerName: "localhost"} // system roots: the broker is unknown
	d, _ := NewDialer(cfg)
	_, err = d.Dial(ctx(t), "proto::stranger")
	mustBreak(t, "dial an unverified broker", err)
}

func selfSigned(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		parent, parentKey = tmpl, key
	} else {
		tmpl.DNSNames = []string{cn}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}
