package espapp_test

import (
	"bytes"
	"crypto"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/imagetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bin from the code (review the diff)")

// Golden vectors: apps Pack makes from fixed inputs. RSA-PSS salts are
// derived (rand nil) and ECDSA is RFC 6979, so all are deterministic.
var golden = []struct {
	file  string
	o     func() espapp.PackOptions
	keys  []string
	rules espapp.Rules
}{
	{"app.bin", func() espapp.PackOptions { o := desc("2.5.0"); o.SecureVersion = 2; return o }, nil, espapp.Rules{}},
	{"app-sbv2-rsa.bin", func() espapp.PackOptions { return desc("2.5.1") }, []string{"rsa-3072"}, espapp.Rules{SecureBoot: espapp.SchemeRSA}},
	{"app-sbv2-ecdsa-c6.bin", func() espapp.PackOptions { o := desc("2.5.2"); o.Chip = "esp32c6"; return o }, []string{"ecdsa-p256"},
		espapp.Rules{Chip: "esp32c6", SecureBoot: espapp.SchemeECDSA}},
}

var goldenPayload = []byte("brickyard ESP-IDF app golden payload\n")

func TestGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			var ss []crypto.Signer
			for _, k := range g.keys {
				ss = append(ss, imagetest.Key(k, 0))
			}
			got := pack(t, g.o(), goldenPayload, ss...)
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Pack's bytes differ from %s", path)
			}
			info, err := verify(want, imagetest.Keyring(), g.rules, image.Policy{})
			if err != nil || info.VersionText != g.o().Version {
				t.Fatalf("%+v, %v", info, err)
			}
		})
	}
}
