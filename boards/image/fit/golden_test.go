package fit_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.itb from the code (review the diff)")

// Golden vectors: FITs Pack makes from fixed inputs (PKCS#1 v1.5 and
// RFC 6979 signatures are deterministic).
var golden = []struct {
	file, algo, key string
}{
	{"unsigned.itb", "", ""},
	{"rsa2048.itb", "sha256,rsa2048", "rsa-2048"},
	{"ecdsa256.itb", "sha256,ecdsa256", "ecdsa-p256"},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			var b []byte
			rules := fit.Rules{}
			if g.key == "" {
				b = pack(t, opts(""), nil)
			} else {
				b = pack(t, opts(g.algo), imagetest.Key(g.key, 0))
				rules.RequireSignature = true
			}
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("Pack's bytes differ from %s", path)
			}
			if _, err := verify(want, imagetest.Keyring(), rules); err != nil {
				t.Fatal(err)
			}
		})
	}
}
