package fit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

func TestPackVerify(t *testing.T) {
	for _, c := range []struct {
		algo, key string
	}{
		{"", ""},
		{"sha256,rsa2048", "rsa-2048"},
		{"sha256,rsa3072", "rsa-3072"},
		{"sha1,rsa2048", "rsa-2048"},
		{"sha256,ecdsa256", "ecdsa-p256"},
	} {
		t.Run(c.algo, func(t *testing.T) {
			var key = imagetest.Key("ed25519", 0)
			rules := fit.Rules{}
			if c.key != "" {
				key = imagetest.Key(c.key, 0)
				rules.RequireSignature = true
			}
			b := pack(t, opts(c.algo), key)
			info, err := verify(b, imagetest.Keyring(), rules)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if c.key != "" {
				want, _ = image.KeyName(key.Public())
			}
			if info.Format != image.FormatFIT || info.VersionString() != "2.0.0" || info.Signer != want || info.Size != len(b) {
				t.Errorf("info %+v; want fit 2.0.0 by %q, %d bytes", info, want, len(b))
			}
		})
	}
}

func TestVerify_PSS(t *testing.T) {
	o := opts("sha256,rsa2048")
	o.Configs[0].Sign.Padding = "pss"
	b, err := fit.Pack(o, imagetest.Key("rsa-2048", 0), bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(b, imagetest.Keyring(), fit.Rules{RequireSignature: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := fit.Pack(o, imagetest.Key("rsa-2048", 0), nil); err == nil {
		t.Error("PSS without a random source packed")
	}
}

// The refusals of bootm, one per way a FIT goes wrong.
func TestVerify_Refusals(t *testing.T) {
	rsa := imagetest.Key("rsa-2048", 0)
	signed := pack(t, opts("sha256,rsa2048"), rsa)
	plain := pack(t, opts(""), nil)
	keys := imagetest.Keyring()
	req := fit.Rules{RequireSignature: true}
	at := func(b []byte, s string) int {
		i := bytes.Index(b, []byte(s))
		if i < 0 {
			t.Fatalf("no %q in the FIT", s)
		}
		return i
	}
	mut := func(b []byte, f func(b []byte)) []byte { c := bytes.Clone(b); f(c); return c }
	kernelAt := at(plain, string(kernelData[:32]))
	withO := func(f func(o *fit.PackOptions), algo string) []byte {
		o := opts(algo)
		f(&o)
		var k = rsa
		return pack(t, o, k)
	}
	for _, c := range []struct {
		name  string
		b     []byte
		keys  *image.Keyring
		rules fit.Rules
		want  error
		cat   error
	}{
		{"erased", bytes.Repeat([]byte{0xff}, 4096), keys, fit.Rules{}, fit.ErrMagic, image.ErrBadMagic},
		{"truncated tree", plain[:len(plain)-1], keys, fit.Rules{}, fit.ErrTruncated, image.ErrTruncated},
		{"bad version", mut(plain, func(b []byte) { binary.BigEndian.PutUint32(b[20:], 16) }), keys, fit.Rules{}, fit.ErrTree, image.ErrBadHeader},
		{"structure block past the tree", mut(plain, func(b []byte) { binary.BigEndian.PutUint32(b[36:], 1<<20) }), keys, fit.Rules{}, fit.ErrTree, image.ErrBadHeader},
		{"tampered kernel", mut(plain, func(b []byte) { b[kernelAt+100] ^= 1 }), keys, fit.Rules{}, fit.ErrHash, image.ErrDigestMismatch},
		{"tampered kernel, signed", mut(signed, func(b []byte) { b[kernelAt+100] ^= 1 }), keys, req, fit.ErrHash, image.ErrDigestMismatch},
		{"tampered hash value, signed", mut(signed, func(b []byte) {
			i := at(b, "sha256\x00") - 40
			b[i] ^= 1
		}), keys, req, fit.ErrSignature, image.ErrBadSignature},
		{"tampered load address, signed", mut(signed, func(b []byte) { b[at(b, "\x80\x00\x80\x00")+3] = 1 }), keys, req, fit.ErrSignature, image.ErrBadSignature},
		{"unsigned, signature required", plain, keys, req, fit.ErrNotSigned, image.ErrNotSigned},
		{"signed by another key", pack(t, opts("sha256,rsa2048"), imagetest.Key("rsa-2048", 1)), keys, req, fit.ErrSignature, image.ErrBadSignature},
		{"no key of its algorithm", signed, imagetest.Keyring("ed25519", "rsa-3072"), req, fit.ErrUnknownKey, image.ErrUnknownKey},
		{"no such configuration", plain, keys, fit.Rules{Config: "conf-9"}, fit.ErrFIT, image.ErrBadHeader},
		{"kernel of type firmware", withO(func(o *fit.PackOptions) { o.Images[0].Type = "ramdisk" }, ""), keys, fit.Rules{}, fit.ErrFIT, image.ErrBadHeader},
		{"kernel for arm64 on arm", plain, keys, fit.Rules{Arch: "arm64"}, fit.ErrFIT, image.ErrBadHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(c.b, c.keys, c.rules)
			if !errors.Is(err, c.want) || !errors.Is(err, c.cat) {
				t.Fatalf("err = %v; want %v (%v)", err, c.want, c.cat)
			}
		})
	}
	// The controls.
	for _, c := range []struct {
		b     []byte
		rules fit.Rules
	}{{plain, fit.Rules{}}, {signed, req}, {signed, fit.Rules{}}, {plain, fit.Rules{Config: "conf-1", Arch: "arm"}}} {
		if _, err := verify(c.b, keys, c.rules); err != nil {
			t.Errorf("%+v: %v", c.rules, err)
		}
	}
}

// The configuration the environment names is the one booted: its images
// and its signature, not the default's.
func TestVerify_NamedConfiguration(t *testing.T) {
	o := opts("")
	o.Images = append(o.Images, fit.Image{Name: "kernel-2", Description: "recovery", Type: "kernel", Arch: "arm", OS: "linux", Data: []byte("recovery kernel")})
	o.Configs = append(o.Configs, fit.Config{Name: "conf-2", Description: "recovery", Kernel: "kernel-2",
		Sign: &fit.Signature{Algo: "sha256,rsa2048", KeyNameHint: "dev"}})
	b := pack(t, o, imagetest.Key("rsa-2048", 0))
	keys := imagetest.Keyring()
	if _, err := verify(b, keys, fit.Rules{RequireSignature: true}); !errors.Is(err, fit.ErrNotSigned) {
		t.Errorf("default conf-1 is unsigned: err = %v", err)
	}
	if _, err := verify(b, keys, fit.Rules{RequireSignature: true, Config: "conf-2"}); err != nil {
		t.Errorf("conf-2 is signed: %v", err)
	}
	i := bytes.Index(b, []byte("recovery kernel"))
	b[i] ^= 1
	if _, err := verify(b, keys, fit.Rules{Config: "conf-1"}); err != nil {
		t.Errorf("conf-1 does not load kernel-2: %v", err)
	}
	if _, err := verify(b, keys, fit.Rules{Config: "conf-2"}); !errors.Is(err, fit.ErrHash) {
		t.Errorf("conf-2 loads the damaged kernel-2: err = %v", err)
	}
}

// A configuration signature needs a hash node in every image it covers;
// node names with '@' are refused when signatures are checked.
func TestVerify_SignatureRules(t *testing.T) {
	b := pack(t, opts("sha256,rsa2048"), imagetest.Key("rsa-2048", 0))
	// Rename hash-1 of fdt-1 to xash-1 (same length), re-signing is not needed: it must fail.
	i := bytes.LastIndex(b, []byte("\x00\x00\x00\x01hash-1")) + 4 // the BEGIN_NODE of fdt-1's hash-1
	c := bytes.Clone(b)
	copy(c[i:], "xash-1")
	if _, err := verify(c, imagetest.Keyring(), fit.Rules{RequireSignature: true}); err == nil || !strings.Contains(err.Error(), "no hash node") {
		t.Errorf("an image without a hash node under a signature: err = %v", err)
	}
	c = bytes.Clone(b)
	copy(c[bytes.Index(c, []byte("\x00\x00\x00\x01fdt-1"))+4:], "fdt@1")
	if _, err := verify(c, imagetest.Keyring(), fit.Rules{RequireSignature: true}); !errors.Is(err, fit.ErrTree) {
		t.Errorf("a node named with '@': err = %v", err)
	}
}

func TestPack_Refusals(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(o *fit.PackOptions)
	}{
		{"no images", func(o *fit.PackOptions) { o.Images = nil }},
		{"duplicate image", func(o *fit.PackOptions) { o.Images[1].Name = "kernel-1" }},
		{"image name with @", func(o *fit.PackOptions) { o.Images[1].Name = "fdt@1" }},
		{"missing reference", func(o *fit.PackOptions) { o.Configs[0].FDT = []string{"fdt-9"} }},
		{"no kernel", func(o *fit.PackOptions) { o.Configs[0].Kernel = "" }},
		{"unknown default", func(o *fit.PackOptions) { o.Default = "conf-9" }},
		{"unknown hash", func(o *fit.PackOptions) { o.Images[0].Hashes = []string{"sha3"} }},
		{"signed without key", func(o *fit.PackOptions) { o.Configs[0].Sign = &fit.Signature{Algo: "sha256,rsa2048"} }},
	} {
		o := opts("")
		c.f(&o)
		if _, err := fit.Pack(o, nil, nil); err == nil {
			t.Errorf("%s: packed", c.name)
		}
	}
	o := opts("sha256,rsa4096")
	if _, err := fit.Pack(o, imagetest.Key("rsa-2048", 0), nil); err == nil {
		t.Error("a 2048-bit key signed sha256,rsa4096")
	}
}
