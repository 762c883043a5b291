package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	pool                      *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string
	otherCAFile               string
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{pool: x509.NewCertPool()}
	caKey, caCert, caDER := makeCert(t, "brickyard test CA", nil, nil, true)
	p.pool.AddCert(caCert)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	srvKey, _, srvDER := makeCert(t, "broker", caCert, caKey, false)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliKey, _, cliDER := makeCert(t, "proto::agent-tls", caCert, caKey, false)
	p.certFile = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", keyDER)
	_, _, otherDER := makeCert(t, "some other CA", nil, nil, true)
	p.otherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER)
	return p
}

func makeCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: isCA,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// R-MTP.0/1: TLS to the broker, with the broker's certificate checked
// against a CA and a client certificate (mutual TLS) against mochi.
func TestTLS_MutualWithTestCA(t *testing.T) {
	pki := newPKI(t)
	for _, v := range versions {
		t.Run("v"+v.String(), func(t *testing.T) {
			checkGoroutines(t)
			eb, err := NewEmbeddedBroker("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			eb.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool,
				ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
			b := runMochi(t, eb)
			c := config(b, v)
			c.TLS = TLS{CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile}
			l := listen(t, c)
			agent := dial(t, c, "proto::agent-tls")
			ctrl := accept(t, l)
			expectConnect(t, ctrl, "proto::agent-tls", "usp/agent/proto::agent-tls", v)
			for _, body := range []string{"one", "two"} {
				send(t, ctrl, body)
				if got := recvBody(t, agent); got != body {
					t.Fatalf("agent got %q", got)
				}
				send(t, agent, body+"-resp")
				if got := recvBody(t, ctrl); got != body+"-resp" {
					t.Fatalf("controller got %q", got)
				}
			}

			bad := c
			bad.TLS.CAFile = pki.otherCAFile
			d, err := NewDialer(bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Dial(tctx(t), "a-untrusting"); err == nil {
				t.Fatal("dial trusting another CA succeeded")
			}
			noCert := c
			noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
			d, _ = NewDialer(noCert)
			if _, err := d.Dial(tctx(t), "a-anonymous"); err == nil {
				t.Fatal("dial without a client certificate succeeded")
			}
		})
	}
}
