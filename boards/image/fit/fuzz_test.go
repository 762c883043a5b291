package fit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

func seeds(f *testing.F) {
	for _, g := range golden {
		if b, err := os.ReadFile(filepath.Join("testdata", g.file)); err == nil {
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{0xd0, 0x0d, 0xfe, 0xed})
}

// FuzzReadTree feeds arbitrary bytes to the device-tree reader: no
// panic, no hang, only ErrMagic, ErrTree or ErrTruncated; a tree that
// parses has its root and a bounded number of tokens.
func FuzzReadTree(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := fit.ReadTree(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, fit.ErrMagic) && !errors.Is(err, fit.ErrTree) && !errors.Is(err, fit.ErrTruncated) {
				t.Fatalf("error of no category: %v", err)
			}
			return
		}
		if tr.Root == nil || tr.Root.Path != "/" || int64(tr.Header.TotalSize) > int64(len(b)) {
			t.Fatalf("parsed tree without a root, or larger than its input: %+v", tr.Header)
		}
	})
}

// FuzzVerify feeds arbitrary bytes to the whole FIT check, signatures
// required and not: only errors of a named category; an accepted FIT's
// extent lies within its input.
func FuzzVerify(f *testing.F) {
	seeds(f)
	keys := imagetest.Keyring()
	cats := []error{image.ErrBadMagic, image.ErrTruncated, image.ErrBadHeader, image.ErrDigestMismatch,
		image.ErrNotSigned, image.ErrUnknownKey, image.ErrBadSignature}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rules := range []fit.Rules{{}, {RequireSignature: true}} {
			info, err := fit.Verify(bytes.NewReader(b), int64(len(b)), keys, rules, image.Policy{})
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
			if info.Size > len(b) {
				t.Fatalf("accepted with extent %d of %d bytes", info.Size, len(b))
			}
		}
	})
}

// FuzzControlKeys feeds arbitrary bytes to the control-DTB key reader:
// no panic; every key it returns is one the keyring takes.
func FuzzControlKeys(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := fit.ControlKeys(b)
		if err != nil {
			return
		}
		var r image.Keyring
		for _, k := range keys {
			if err := r.AddKey(k); err != nil {
				t.Fatalf("returned a key the keyring refuses: %v", err)
			}
		}
	})
}
