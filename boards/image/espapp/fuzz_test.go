package espapp_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/imagetest"
)

// FuzzVerify feeds arbitrary bytes to the header, segment, checksum,
// hash and signature-block checks: no panic, no hang, only errors of a
// named category; an accepted image is no larger than its input.
func FuzzVerify(f *testing.F) {
	for _, g := range golden {
		if b, err := os.ReadFile(filepath.Join("testdata", g.file)); err == nil {
			f.Add(b)
			f.Add(b[:len(b)/3])
		}
	}
	f.Add([]byte{0xe9, 16, 2, 0x20})
	keys := imagetest.Keyring()
	cats := []error{image.ErrBadMagic, image.ErrTruncated, image.ErrBadHeader, image.ErrWrongBoard, image.ErrDigestMismatch,
		image.ErrNotSigned, image.ErrUnknownKey, image.ErrBadSignature, image.ErrDowngrade}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rules := range []espapp.Rules{{}, {SecureBoot: espapp.SchemeRSA, AntiRollback: true}, {Chip: "esp32c6", SecureBoot: espapp.SchemeECDSA}} {
			info, err := espapp.Verify(bytes.NewReader(b), int64(len(b)), keys, rules, image.Policy{})
			if err != nil {
				named := false
				for _, c := range cats {
					named = named || errors.Is(err, c)
				}
				if !named {
					t.Fatalf("error of no category: %v", err)
				}
				continue
			}
			if info.Size > len(b) || info.Size < espapp.HeaderSize {
				t.Fatalf("accepted with size %d of %d", info.Size, len(b))
			}
		}
	})
}
