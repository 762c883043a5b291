package formats_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/formats"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

// one image of each format, each signed with imagetest's key 0.
func samples(t *testing.T) map[image.Format][]byte {
	t.Helper()
	ed := imagetest.Key("ed25519", 0)
	byfw, err := image.Pack(ed.(ed25519.PrivateKey), image.Header{BoardID: "any", Version: image.Version{Major: 1}}, []byte("byfw"))
	if err != nil {
		t.Fatal(err)
	}
	mcu, err := mcuboot.Pack(ed, nil, mcuboot.PackOptions{Version: image.Version{Major: 1, Minor: 1}, PadHeader: true, SlotSize: 1 << 16}, []byte("mcuboot"))
	if err != nil {
		t.Fatal(err)
	}
	esp, err := espapp.Pack(espapp.PackOptions{Version: "1.2.0"}, []byte("esp"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fit.Pack(fit.PackOptions{Description: "fit", Version: "1.3.0",
		Images:  []fit.Image{{Name: "k", Description: "k", Type: "kernel", Data: []byte("fit")}},
		Configs: []fit.Config{{Name: "c", Description: "c", Kernel: "k", Sign: &fit.Signature{Algo: "sha256,rsa2048", KeyNameHint: "dev"}}}},
		imagetest.Key("rsa-2048", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[image.Format][]byte{image.FormatBYFW: byfw, image.FormatMCUboot: mcu, image.FormatESPApp: esp, image.FormatFIT: f}
}

var all = formats.Rules{Formats: image.Formats}

func TestDetectAndVerifyEveryFormat(t *testing.T) {
	want := map[image.Format]string{image.FormatBYFW: "1.0.0", image.FormatMCUboot: "1.1.0", image.FormatESPApp: "1.2.0", image.FormatFIT: "1.3.0"}
	keys := imagetest.Keyring()
	for f, img := range samples(t) {
		if got := formats.Detect(img); got != f {
			t.Errorf("Detect = %s, want %s", got, f)
		}
		info, err := formats.VerifyBytes(img, keys, all, image.Policy{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if info.Format != f || info.VersionString() != want[f] {
			t.Errorf("%s: info %+v, want version %s", f, info, want[f])
		}
		if f != image.FormatESPApp && info.Signer == "" {
			t.Errorf("%s: no signer named", f)
		}
		n, ok := formats.Extent(bytes.NewReader(img), int64(len(img)))
		if !ok || n != int64(info.Size) {
			t.Errorf("%s: Extent %d, %v; verified size %d", f, n, ok, info.Size)
		}
		_, rep, err := formats.Describe(bytes.NewReader(img), int64(len(img)), keys, all, image.Policy{})
		if err != nil || rep == nil || len(rep.Fields) == 0 || len(rep.Checks) == 0 || rep.Format != f {
			t.Errorf("%s: Describe: %v, %+v", f, err, rep)
		}
	}
}

// A board takes only the formats its rules list: BYFW alone by default.
func TestRulesAcceptOnlyTheirFormats(t *testing.T) {
	keys := imagetest.Keyring()
	for f, img := range samples(t) {
		_, err := formats.VerifyBytes(img, keys, formats.Rules{}, image.Policy{})
		if f == image.FormatBYFW {
			if err != nil {
				t.Errorf("BYFW on the default rules: %v", err)
			}
			continue
		}
		if !errors.Is(err, image.ErrFormat) {
			t.Errorf("%s on the default rules: err = %v, want ErrFormat", f, err)
		}
		// Describe still explains it, and says it is refused.
		_, rep, err := formats.Describe(bytes.NewReader(img), int64(len(img)), keys, formats.Rules{}, image.Policy{})
		if !errors.Is(err, image.ErrFormat) || rep == nil || rep.Checks[len(rep.Checks)-1].Name != "format" {
			t.Errorf("%s described on the default rules: %v, %+v", f, err, rep)
		}
	}
	for _, b := range [][]byte{bytes.Repeat([]byte{0xff}, 64), make([]byte, 64), []byte("junk"), nil} {
		if _, err := formats.VerifyBytes(b, keys, all, image.Policy{}); !errors.Is(err, image.ErrBadMagic) && !errors.Is(err, image.ErrTruncated) {
			t.Errorf("% x: err = %v, want ErrBadMagic", b, err)
		}
	}
}

// FIT signatures are required exactly when the board trusts a FIT key,
// unless the rules say otherwise.
func TestFITSignatureRequirement(t *testing.T) {
	unsigned, err := fit.Pack(fit.PackOptions{Description: "fit", Images: []fit.Image{{Name: "k", Description: "k", Type: "kernel", Data: []byte("x")}},
		Configs: []fit.Config{{Name: "c", Description: "c", Kernel: "k"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	edOnly, withRSA := imagetest.Keyring("ed25519"), imagetest.Keyring("ed25519", "rsa-2048")
	for _, c := range []struct {
		req  formats.Requirement
		keys *image.Keyring
		ok   bool
	}{
		{formats.SignedIfKeys, edOnly, true}, {formats.SignedIfKeys, withRSA, false},
		{formats.Signed, edOnly, false}, {formats.Unsigned, withRSA, true},
	} {
		r := all
		r.FITSignature = c.req
		_, err := formats.VerifyBytes(unsigned, c.keys, r, image.Policy{})
		if (err == nil) != c.ok {
			t.Errorf("requirement %d, %d keys: err = %v, want ok %v", c.req, c.keys.Len(), err, c.ok)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, img := range samplesF(f) {
		f.Add(img)
	}
	keys := imagetest.Keyring()
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := formats.VerifyBytes(b, keys, all, image.Policy{})
		if err == nil && (info.Size > len(b) || info.Format != formats.Detect(b)) {
			t.Fatalf("accepted %+v of %d bytes, detected %s", info, len(b), formats.Detect(b))
		}
		formats.Extent(bytes.NewReader(b), int64(len(b)))
		formats.Describe(bytes.NewReader(b), int64(len(b)), keys, formats.Rules{}, image.Policy{})
	})
}

func samplesF(*testing.F) [][]byte {
	var out [][]byte
	ed := imagetest.Key("ed25519", 0)
	if b, err := mcuboot.Pack(ed, nil, mcuboot.PackOptions{PadHeader: true, SlotSize: 1 << 16}, []byte("m")); err == nil {
		out = append(out, b)
	}
	if b, err := espapp.Pack(espapp.PackOptions{Version: "1"}, []byte("e"), nil); err == nil {
		out = append(out, b)
	}
	if b, err := image.Pack(ed.(ed25519.PrivateKey), image.Header{BoardID: "b"}, []byte("y")); err == nil {
		out = append(out, b)
	}
	return out
}

// Carried checks what an image carries: each sample verifies with the
// keys that signed it, and a signed one fails on its signature without.
func TestCarried(t *testing.T) {
	for f, img := range samples(t) {
		r := formats.Carried(bytes.NewReader(img), int64(len(img)))
		if _, err := formats.VerifyBytes(img, imagetest.Keyring(), r, image.Policy{}); err != nil {
			t.Errorf("%s with its keys: %v", f, err)
		}
		_, err := formats.VerifyBytes(img, nil, r, image.Policy{})
		if f == image.FormatESPApp { // unsigned: nothing to check a key against
			if err != nil {
				t.Errorf("unsigned %s: %v", f, err)
			}
			continue
		}
		if !errors.Is(err, image.ErrUnknownKey) {
			t.Errorf("%s without keys: err = %v, want ErrUnknownKey", f, err)
		}
	}
}
