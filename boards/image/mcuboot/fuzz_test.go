package mcuboot_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

// FuzzVerify feeds arbitrary bytes to the header, TLV and signature
// checks. Whatever the input: no panic, an error of a named category or
// success; an accepted image's hash TLV really is its hash; Extent agrees
// with the accepted size and never passes the input.
func FuzzVerify(f *testing.F) {
	for _, g := range golden {
		if b, err := os.ReadFile(filepath.Join("testdata", g.file)); err == nil {
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{0x3d, 0xb8, 0xf3, 0x96})
	keys := imagetest.Keyring("ed25519")
	cats := []error{image.ErrBadMagic, image.ErrTruncated, image.ErrBadHeader, image.ErrDigestMismatch,
		image.ErrNotSigned, image.ErrUnknownKey, image.ErrBadSignature, image.ErrDowngrade, image.ErrUnsupported}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rules := range []mcuboot.Rules{{}, {Signature: mcuboot.SigNone, HWRollback: true}} {
			info, err := mcuboot.Verify(bytes.NewReader(b), int64(len(b)), keys, rules, image.Policy{})
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
			h, herr := mcuboot.ParseHeader(b)
			if herr != nil || info.Size > len(b) {
				t.Fatalf("accepted: header %v, size %d of %d", herr, info.Size, len(b))
			}
			sum := sha256.Sum256(b[:h.HashedSize()])
			if !bytes.Contains(b[h.HashedSize():info.Size], sum[:]) {
				t.Fatal("accepted an image without its hash")
			}
			if n, ok := mcuboot.Extent(bytes.NewReader(b), int64(len(b))); !ok || n != int64(info.Size) {
				t.Fatalf("Extent %d, %v; verified size %d", n, ok, info.Size)
			}
		}
	})
}
