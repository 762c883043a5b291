package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/mtp/websocket"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// --device-certs: every device connects to a wss:// controller that
// requires verified client certificates and checks their Endpoint IDs
// with its own certificate from the fleet CA, and shows that certificate's
// serial number in Device.LocalAgent.Certificate.1. With
// --check-identity the devices refuse a controller whose certificate
// names another endpoint.
func TestFleet_DeviceCerts(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.New("test fleet CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ca.KeyPEM()
	caFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if os.WriteFile(caFile, ca.CertPEM(), 0o600) != nil || os.WriteFile(keyFile, key, 0o600) != nil {
		t.Fatal("writing the CA")
	}
	for _, tc := range []struct {
		name   string
		server string // the Endpoint ID the controller's certificate names
		want   int    // devices the controller sees
	}{{"identities agree", testCtrl, 2}, {"impostor controller", "proto::impostor", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			srv, err := ca.ServerCertificate(tc.server, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			l, err := websocket.NewListener(websocket.Config{URL: "wss://127.0.0.1:0/usp", ControllerID: testCtrl, CheckIdentity: true,
				TLS: &tls.Config{Certificates: []tls.Certificate{*srv}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			defer func() { cancel(); l.Close(); wg.Wait() }()
			var mu sync.Mutex
			serials := map[string]string{} // device → the serial number it shows
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					conn, err := l.Accept(ctx)
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer conn.Close()
						if s := askSerial(ctx, conn); s != "" {
							mu.Lock()
							serials[conn.Info().Peer] = s
							mu.Unlock()
						}
					}()
				}
			}()
			_, errOut := runFleetFor(t, "fleet", "--ws-url", l.(*websocket.Listener).URL(), "--controller-id", testCtrl, "--tls-ca", caFile,
				"--device-ca", caFile, "--device-ca-key", keyFile, "--check-identity", "--devices", "2", "--duration", "2s", "--quiet")
			mu.Lock()
			defer mu.Unlock()
			if len(serials) != tc.want {
				t.Fatalf("the controller saw %d devices, want %d; stderr:\n%s", len(serials), tc.want, errOut)
			}
			for eid, s := range serials {
				if s != certs.SerialString(eid) {
					t.Errorf("%s shows serial %s, its certificate has %s", eid, s, certs.SerialString(eid))
				}
			}
			if tc.want == 0 && !strings.Contains(errOut, "not the claimed endpoint") {
				t.Errorf("the devices did not say why they refused the controller:\n%s", errOut)
			}
		})
	}
}

// askSerial asks a device for Device.LocalAgent.Certificate.1.SerialNumber.
func askSerial(ctx context.Context, conn mtp.Conn) string {
	codec := usp.Codec{LocalID: testCtrl}
	data, _ := codec.Seal(conn.Info().Peer, usp.NewRequest("cert", &pb.Get{ParamPaths: []string{"Device.LocalAgent.Certificate.1.SerialNumber"}}))
	if conn.Send(ctx, data) != nil {
		return ""
	}
	for {
		data, err := conn.Recv(ctx)
		if err != nil {
			return ""
		}
		in, err := codec.Open(data)
		if err != nil || in.Msg == nil || in.Msg.GetHeader().GetMsgId() != "cert" {
			continue
		}
		for _, rr := range in.Msg.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			for _, res := range rr.GetResolvedPathResults() {
				return res.GetResultParams()["SerialNumber"]
			}
		}
		return ""
	}
}
