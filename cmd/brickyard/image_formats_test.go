package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

// keygenType runs keygen --type typ and returns the key directory.
func keygenType(t *testing.T, typ string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	out, errOut, code := runBrickyard(t, nil, "image", "keygen", "--type", typ, "--out", dir)
	if code != 0 || !strings.HasPrefix(out, "key "+typ+" ") {
		t.Fatalf("keygen --type %s: code %d, stdout %q, stderr %q", typ, code, out, errOut)
	}
	return dir
}

// packAs runs image pack with args into a new file and returns its path.
func packAs(t *testing.T, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fw.bin")
	out, errOut, code := runBrickyard(t, nil, append([]string{"image", "pack", "--out", path}, args...)...)
	if code != 0 || !strings.HasPrefix(out, "wrote "+path+": ") {
		t.Fatalf("pack %q: code %d, stdout %q, stderr %q", args, code, out, errOut)
	}
	return path
}

// Each format: pack, then inspect against the board that takes it (it
// would boot) and against one that does not.
func TestImageFormats_PackAndInspectOnBoards(t *testing.T) {
	ed, rsa, ec := keygen1(t), keygenType(t, "rsa-3072"), keygenType(t, "ecdsa-p256")
	key := func(dir string) string { return filepath.Join(dir, "image.key.pem") }
	pub := func(dir string) string { return filepath.Join(dir, "image.pub.pem") }
	for _, c := range []struct {
		name      string
		pack      []string
		pubkey    string
		board     string // the board whose bootloader takes it
		other     string // one whose bootloader does not
		version   string
		signature string
	}{
		{"mcuboot ed25519", []string{"--format", "mcuboot", "--key", key(ed), "--board", "mcuboot-nrf52", "--version", "2.0.0", "--size", "20KiB"},
			pub(ed), "mcuboot-nrf52", "esp32-ota", "2.0.0", "ok"},
		{"mcuboot confirmed, padded", []string{"--format", "mcuboot", "--key", key(ed), "--board", "mcuboot-nrf52", "--version", "2.0.1", "--size", "1KiB", "--confirm"},
			pub(ed), "mcuboot-nrf52", "uboot-nor", "2.0.1", "ok"},
		{"esp-app unsigned", []string{"--format", "esp-app", "--board", "esp32-ota", "--version", "2.1.0", "--size", "30KiB"},
			"", "esp32-ota", "mcuboot-nrf52", "2.1.0", "not required"},
		{"esp-app secure boot v2", []string{"--format", "esp-app", "--key", key(rsa), "--version", "2.1.1", "--size", "1KiB"},
			pub(rsa), "esp32-ota", "single-nor", "2.1.1", "not required"},
		{"fit rsa", []string{"--format", "fit", "--key", key(rsa), "--version", "2.2.0", "--size", "40KiB", "--load", "0x80008000", "--entry", "0x80008000", "--timestamp", "1700000000"},
			pub(rsa), "uboot-nor", "esp32-ota", "2.2.0", "ok"},
		{"fit ecdsa", []string{"--format", "fit", "--key", key(ec), "--version", "2.2.1", "--size", "1KiB"},
			pub(ec), "uboot-nor", "mcuboot-nrf52", "2.2.1", "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := packAs(t, c.pack...)
			args := []string{"--board", c.board, path}
			if c.pubkey != "" {
				args = append([]string{"--pubkey", c.pubkey}, args...)
			}
			r, errOut, code := inspectJSON(t, args...)
			if code != 0 || !r.OK || r.Board != c.board || r.Version != c.version || r.Signature != c.signature {
				t.Fatalf("inspect %q: code %d, stderr %q, report %+v", args, code, errOut, r)
			}
			out, _, _ := runBrickyard(t, nil, append([]string{"image", "inspect"}, args...)...)
			if !strings.Contains(out, "result            ok: would boot on "+c.board) {
				t.Errorf("text report:\n%s", out)
			}
			r, _, code = inspectJSON(t, "--board", c.other, path)
			if code != 1 || r.OK || r.Error != "format not accepted" {
				t.Errorf("on %s: code %d, report %+v", c.other, code, r)
			}
			out, _, _ = runBrickyard(t, nil, "image", "inspect", "--board", c.other, path)
			if !strings.Contains(out, "would not boot on "+c.other) {
				t.Errorf("text report on %s:\n%s", c.other, out)
			}
		})
	}
}

func keygen1(t *testing.T) string { d, _ := keygen(t); return d }

// A forged image (its signature garbage) is never "ok" without a key:
// inspect says the signature was not checked and exits 1; --no-verify
// looks without and says so.
func TestImageInspect_ForgedWithoutKey(t *testing.T) {
	dir := keygen1(t)
	for _, format := range []string{"byfw", "mcuboot", "fit"} {
		args := []string{"--format", format, "--key", filepath.Join(dir, "image.key.pem"), "--version", "1.0.0", "--size", "4KiB"}
		switch format {
		case "byfw":
			args = append(args, "--board", "ab-nor")
		case "mcuboot":
			args = append(args, "--slot-size", "65536")
		case "fit":
			rsa := keygenType(t, "rsa-2048")
			args[3] = filepath.Join(rsa, "image.key.pem")
		}
		path := packAs(t, args...)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		forge(t, format, b)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runBrickyard(t, nil, "image", "inspect", path)
		if code != 1 || !strings.Contains(out, "signature         not checked (no --pubkey)") ||
			!strings.Contains(out, "result            FAILED: signature not checked") || !strings.Contains(errOut, "signature not checked") {
			t.Errorf("%s forged, no key: code %d\n%s%s", format, code, out, errOut)
		}
		out, errOut, code = runBrickyard(t, nil, "image", "inspect", "--no-verify", path)
		if code != 0 || !strings.Contains(out, "result            ok, but the signature was not verified (--no-verify)") {
			t.Errorf("%s forged, --no-verify: code %d\n%s%s", format, code, out, errOut)
		}
	}
}

// forge spoils the signature bytes of a packed image.
func forge(t *testing.T, format string, b []byte) {
	t.Helper()
	switch format {
	case "byfw", "mcuboot":
		b[len(b)-1] ^= 0xff // the last byte of the Ed25519 signature
	case "fit":
		f, err := fit.Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.Config("")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := c.Child("signature-1")
		v, _ := s.Get("value")
		b[v.ValueOffset] ^= 0xff
	}
}

// pack --format mcuboot with imgtool's options writes imgtool's bytes: the
// golden vector of boards/image/mcuboot, checked against imgtool 2.4.0.
func TestImagePackMCUbootIsImgtools(t *testing.T) {
	dir := t.TempDir()
	key, payload := filepath.Join(dir, "key.pem"), filepath.Join(dir, "payload")
	if err := os.WriteFile(key, imagetest.PEM("ed25519", 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(payload, []byte("brickyard MCUboot golden image payload, 64 bytes long..........\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(packAs(t, "--format", "mcuboot", "--key", key, "--header-size", "0x200", "--slot-size", "0x4000",
		"--version", "2.0.0", "--align", "4", "--confirm", "--payload", payload))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../boards/image/mcuboot/testdata/ed25519-confirm.img")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("brickyard image pack --format mcuboot differs from imgtool sign -k key.pem -H 0x200 --pad-header -S 0x4000 -v 2.0.0 --align 4 --confirm")
	}
}

// dumpimage lists what pack --format fit writes.
func TestImagePackFITListedByDumpimage(t *testing.T) {
	dumpimage, err := exec.LookPath("dumpimage")
	if err != nil {
		t.Fatalf("dumpimage not found (run .ci/install-deps: u-boot-tools): %v", err)
	}
	rsa := keygenType(t, "rsa-2048")
	dtb := filepath.Join(t.TempDir(), "board.dtb")
	if err := os.WriteFile(dtb, []byte{0xd0, 0x0d, 0xfe, 0xed}, 0o644); err != nil {
		t.Fatal(err)
	}
	path := packAs(t, "--format", "fit", "--key", filepath.Join(rsa, "image.key.pem"), "--version", "3.0.0", "--size", "2KiB",
		"--load", "0x80008000", "--entry", "0x80008000", "--fdt", dtb, "--key-name-hint", "prod", "--timestamp", "1700000000")
	out, err := exec.Command(dumpimage, "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpimage -l: %v\n%s", err, out)
	}
	for _, want := range []string{"FIT description: brickyard FIT 3.0.0", "Image 0 (kernel-1)", "Data Size:    2048 Bytes",
		"Load Address: 0x80008000", "Image 1 (fdt-1)", "Description:  board.dtb", "Type:         Flat Device Tree",
		"Configuration 0 (conf-1)", "FDT:          fdt-1", "Sign algo:    sha256,rsa2048:prod"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dumpimage -l lacks %q:\n%s", want, out)
		}
	}
}
