package image_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"brickyard/boards/image"
)

var update = flag.Bool("update", false, "rewrite testdata/golden* from the code (review the diff)")

// The golden vectors: images and key files made from the fixed seed
// 00 01 … 1f. Ed25519 signatures and PKCS#8/PKIX encodings are
// deterministic, so these bytes never change unless the format does.
type goldenFile struct {
	name string
	make func(t *testing.T) []byte
}

func goldenHF72Header() image.Header {
	return image.Header{
		HeaderSize:      72,
		Flags:           image.FlagHealthFail,
		BoardID:         "ab-nor",
		Version:         image.Version{Major: 2, Minor: 6},
		SecurityCounter: 4,
	}
}

var goldenFiles = []goldenFile{
	{"golden.img", func(t *testing.T) []byte { return mustPack(t, goldenKey(), goldenHeader(), goldenPayload()) }},
	{"golden-hf72.img", func(t *testing.T) []byte { return mustPack(t, goldenKey(), goldenHF72Header(), nil) }},
	{"golden.key.pem", func(t *testing.T) []byte {
		b, err := image.MarshalPrivateKeyPEM(goldenKey())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}},
	{"golden.pub.pem", func(t *testing.T) []byte {
		b, err := image.MarshalPublicKeyPEM(pubOf(goldenKey()))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}},
}

func TestGolden_BytesAreStable(t *testing.T) {
	for _, g := range goldenFiles {
		path := filepath.Join("testdata", g.name)
		got := g.make(t)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestGolden -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the code makes now:\n got %x\nwant %x", g.name, got, want)
		}
	}
}

// The golden image's header, laid out by hand from the format table, and
// values computed outside Go (sha256sum, openssl) for the key id.
func TestGolden_ImageFields(t *testing.T) {
	img, err := os.ReadFile("testdata/golden.img")
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := strings.Join([]string{
		"42594657",                         // 0  magic "BYFW"
		"0100",                             // 4  format version 1
		"4000",                             // 6  header size 64
		"4c000000",                         // 8  payload size 76
		"00000000",                         // 12 flags
		"02050000" + "07000000",            // 16 version 2.5.0+7
		"03000000",                         // 24 security counter 3
		"00000000",                         // 28 reserved
		"61622d6e6f7200000000000000000000", // 32 board id "ab-nor"
		"56475aa75463474c",                 // 48 key id: sha256(raw pub)[:8], by openssl + sha256sum
		"0000000000000000",                 // 56 reserved
	}, "")
	if got := hex.EncodeToString(img[:64]); got != wantHeader {
		t.Fatalf("header\n got %s\nwant %s", got, wantHeader)
	}
	if len(img) != 64+76+96 || !bytes.Equal(img[64:140], goldenPayload()) {
		t.Fatalf("payload or size wrong: %d bytes", len(img))
	}
	if sum := sha256.Sum256(img[:140]); !bytes.Equal(img[140:172], sum[:]) {
		t.Fatal("digest is not SHA-256(header ‖ payload)")
	}

	keys := image.NewKeyring(pubOf(goldenKey()))
	h, err := image.VerifyBytes(img, keys, goldenPolicy)
	if err != nil || h.Version.String() != "2.5.0+7" || h.HealthFail() {
		t.Fatalf("Verify = %+v, %v", h, err)
	}
	hf, err := os.ReadFile("testdata/golden-hf72.img")
	if err != nil {
		t.Fatal(err)
	}
	h, err = image.VerifyBytes(hf, keys, goldenPolicy)
	if err != nil || !h.HealthFail() || h.HeaderSize != 72 || h.PayloadSize != 0 || len(hf) != 72+96 {
		t.Fatalf("golden-hf72: %+v, %v, %d bytes", h, err, len(hf))
	}
}

func TestGolden_KeyFilesParse(t *testing.T) {
	privPEM, err := os.ReadFile("testdata/golden.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile("testdata/golden.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := image.ParsePrivateKeyPEM(privPEM)
	if err != nil || !bytes.Equal(priv, goldenKey()) {
		t.Fatalf("private key: %v", err)
	}
	pub, err := image.ParsePublicKeyPEM(pubPEM)
	if err != nil || !bytes.Equal(pub, pubOf(goldenKey())) {
		t.Fatalf("public key: %v", err)
	}
}

// A third party agrees: OpenSSL reads our key files and verifies the
// golden image's signature over its digest. Skipped without openssl.
func TestGolden_OpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	img, err := os.ReadFile("testdata/golden.img")
	if err != nil {
		t.Fatal(err)
	}
	h, err := image.ParseHeader(img)
	if err != nil {
		t.Fatal(err)
	}
	end := int(h.HeaderSize) + int(h.PayloadSize)
	dir := t.TempDir()
	digest, sig := filepath.Join(dir, "digest"), filepath.Join(dir, "sig")
	os.WriteFile(digest, img[end:end+32], 0o600)
	os.WriteFile(sig, img[end+32:end+96], 0o600)

	out, err := exec.Command(openssl, "pkey", "-in", "testdata/golden.key.pem", "-pubout").CombinedOutput()
	if err != nil {
		t.Skipf("openssl cannot read Ed25519 keys: %v\n%s", err, out)
	}
	if pub, _ := os.ReadFile("testdata/golden.pub.pem"); !bytes.Equal(out, pub) {
		t.Errorf("openssl derives public key\n%s\nfile has\n%s", out, pub)
	}
	out, err = exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "testdata/golden.pub.pem",
		"-rawin", "-in", digest, "-sigfile", sig).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkeyutl -verify: %v\n%s", err, out)
	}
}
