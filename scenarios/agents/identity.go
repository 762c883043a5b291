package agents

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"brickyard/mtp/certs"
	"brickyard/scenarios"
)

// Device identity (--device-certs, --device-ca, --check-identity): every
// device gets a certificate of its own from a fleet CA, made when it first
// connects (mtp/certs), and shows it in Device.LocalAgent.Certificate.1;
// with --check-identity it refuses a controller whose certificate does not
// name --controller-id. WebSocket over TLS (wss) only.

// DeviceCAFile is where a run's own fleet CA certificate is written, in
// --out, for the controller under test to trust.
const DeviceCAFile = "device-ca.pem"

// deviceCAValidity is how long a CA made for the run (and its devices'
// certificates) is valid.
const deviceCAValidity = 30 * 24 * time.Hour

// resolveIdentity checks the identity flags and makes or loads the CA.
func (sp *Spec) resolveIdentity(f Config, now time.Time) error {
	sp.checkIdentity = f.CheckIdentity
	wss := sp.transport == "websocket" && sp.wsURL != nil && sp.wsURL.Scheme == "wss"
	if f.CheckIdentity && !wss {
		return fmt.Errorf("--check-identity: needs a wss:// --ws-url (MQTT and STOMP do not check identities yet)")
	}
	if (f.DeviceCA == "") != (f.DeviceCAKey == "") {
		return fmt.Errorf("--device-ca and --device-ca-key: give both or neither")
	}
	if !f.DeviceCerts && f.DeviceCA == "" {
		return nil
	}
	if !wss && sp.transport != "" {
		return fmt.Errorf("--device-certs: needs a wss:// --ws-url (MQTT and STOMP use --tls-cert)")
	}
	if f.DeviceCA != "" {
		certPEM, err := os.ReadFile(f.DeviceCA)
		if err != nil {
			return fmt.Errorf("--device-ca: %w", err)
		}
		keyPEM, err := os.ReadFile(f.DeviceCAKey)
		if err != nil {
			return fmt.Errorf("--device-ca-key: %w", err)
		}
		if sp.ca, err = certs.Load(certPEM, keyPEM); err != nil {
			return fmt.Errorf("--device-ca: %w", err)
		}
	} else {
		if f.Out == "" && sp.transport != "" {
			return fmt.Errorf("--device-certs: give --out (the run's fleet CA is written there as %s for the controller to trust) or --device-ca", DeviceCAFile)
		}
		var err error
		if sp.ca, err = certs.New("brickyard fleet CA", now, deviceCAValidity); err != nil {
			return fmt.Errorf("--device-certs: %w", err)
		}
		sp.caMade = true
	}
	sp.deviceCert = scenarios.DeviceCertificate(sp.ca)
	return nil
}

// WriteDeviceCA writes the run's own fleet CA certificate into dir, and
// returns its path; "" when the run made none (no --device-certs, or
// --device-ca given).
func (sp *Spec) WriteDeviceCA(dir string) (string, error) {
	if !sp.caMade {
		return "", nil
	}
	p := filepath.Join(dir, DeviceCAFile)
	if err := os.WriteFile(p, sp.ca.CertPEM(), 0o644); err != nil {
		return "", fmt.Errorf("--device-certs: %w", err)
	}
	return p, nil
}
