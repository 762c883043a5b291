package fit_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"hash/crc32"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"brickyard/boards/image"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

func u32(v uint32) *uint32 { return &v }

// kernelData and dtbData are the test images' payloads.
var (
	kernelData = imagetest.Payload(9000, 5)
	dtbData    = imagetest.Payload(300, 6)
)

// opts is a FIT as a Linux board's build makes one: a kernel and a device
// tree, one configuration, signed with algo when it is not "".
func opts(algo string) fit.PackOptions {
	o := fit.PackOptions{Description: "brickyard test FIT", Timestamp: 1700000000, Version: "2.0.0",
		Images: []fit.Image{
			{Name: "kernel-1", Description: "Linux kernel", Type: "kernel", Arch: "arm", OS: "linux", Load: u32(0x80008000), Entry: u32(0x80008000), Data: kernelData},
			{Name: "fdt-1", Description: "board", Type: "flat_dt", Arch: "arm", Data: dtbData},
		},
		Configs: []fit.Config{{Name: "conf-1", Description: "board", Kernel: "kernel-1", FDT: []string{"fdt-1"}}},
	}
	if algo != "" {
		o.Configs[0].Sign = &fit.Signature{Algo: algo, KeyNameHint: "dev"}
	}
	return o
}

func pack(t testing.TB, o fit.PackOptions, key crypto.Signer) []byte {
	t.Helper()
	b, err := fit.Pack(o, key, nil)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return b
}

func verify(b []byte, keys *image.Keyring, r fit.Rules) (image.Info, error) {
	return fit.Verify(bytes.NewReader(b), int64(len(b)), keys, r, image.Policy{})
}

// tool returns the path of a u-boot-tools or dtc program; the oracle tests
// need it (.ci/install-deps installs u-boot-tools and device-tree-compiler).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (run .ci/install-deps: u-boot-tools, device-tree-compiler): %v", name, err)
	}
	return p
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// keyDir writes mkimage's key directory for key: DIR/NAME.key (PKCS#8)
// and DIR/NAME.crt (a self-signed certificate of its public key).
func keyDir(t *testing.T, dir, name string, key crypto.Signer) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), must(image.MarshalSignerPEM(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(1900000000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// hexSum is a hash node's value for data, in hex.
func hexSum(algo string, data []byte) string {
	var h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	switch algo {
	case "sha256":
		h = sha256.New()
	case "crc32":
		h = crc32.NewIEEE()
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
