package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"brickyard/boards/image"
)

// keygen runs `brickyard image keygen` into a new directory and returns it
// with the key id printed.
func keygen(t *testing.T) (dir, keyID string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keys")
	out, errOut, code := runBrickyard(t, nil, "image", "keygen", "--out", dir)
	id, ok := strings.CutPrefix(out, "key id ")
	if code != 0 || !ok || len(id) < 17 || id[16] != ':' {
		t.Fatalf("keygen: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	return dir, id[:16]
}

// pack runs `brickyard image pack` with the key in dir and args, writing a
// new file, and returns the file's path and the image.
func pack(t *testing.T, dir string, args ...string) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fw.img")
	args = append([]string{"image", "pack", "--key", filepath.Join(dir, "image.key.pem"), "--out", path}, args...)
	out, errOut, code := runBrickyard(t, nil, args...)
	if code != 0 || !strings.HasPrefix(out, "wrote "+path+": ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("pack %q: code %d, stdout %q, stderr %q", args, code, out, errOut)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, img
}

// inspectJSON runs `brickyard image inspect --json` and decodes the report.
func inspectJSON(t *testing.T, args ...string) (inspectReport, string, int) {
	t.Helper()
	out, errOut, code := runBrickyard(t, nil, append([]string{"image", "inspect", "--json"}, args...)...)
	var r inspectReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("inspect %q: stdout %q is not a report: %v (stderr %q)", args, out, err, errOut)
	}
	return r, errOut, code
}

func TestImageRoundTrip(t *testing.T) {
	dir, id := keygen(t)
	if fi, err := os.Stat(filepath.Join(dir, "image.key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, %v; want mode 0600", fi, err)
	}
	path, img := pack(t, dir, "--board", "ab-nor", "--version", "2.5.0+7", "--security-counter", "3", "--health-fail", "--size", "64KiB")
	if len(img) != 64+65536+96 {
		t.Fatalf("image is %d bytes; want %d", len(img), 64+65536+96)
	}
	for i, c := range img[64 : 64+65536] {
		if c != byte(i%251) {
			t.Fatalf("payload byte %d is %#x; want i mod 251", i, c)
		}
	}
	pub := filepath.Join(dir, "image.pub.pem")

	// Text: one "name  value" line per field. Without --pubkey nothing
	// vouches for the image: it fails unless --no-verify asks for a look.
	for _, tc := range []struct {
		args   []string
		sig    string
		result string
		code   int
	}{
		{nil, "not checked (no --pubkey)", "FAILED: signature not checked", 1},
		{[]string{"--no-verify"}, "not checked (--no-verify)", "ok, but the signature was not verified (--no-verify)", 0},
		{[]string{"--pubkey", pub}, "ok", "ok", 0},
	} {
		out, errOut, code := runBrickyard(t, nil, append(append([]string{"image", "inspect"}, tc.args...), path)...)
		if code != tc.code || (errOut != "") != (tc.code != 0) {
			t.Fatalf("inspect %q: code %d, stderr %q", tc.args, code, errOut)
		}
		got := map[string]string{}
		for line := range strings.Lines(out) {
			if !strings.HasPrefix(line, " ") && len(line) > 18 {
				got[strings.TrimSpace(line[:18])] = strings.TrimSuffix(line[18:], "\n")
			}
		}
		for name, want := range map[string]string{
			"file": path + ", 65696 bytes", "format": "byfw", "magic": "BYFW", "format version": "1", "header size": "64 bytes",
			"version": "2.5.0+7", "board": "ab-nor", "payload size": "65536 bytes", "flags": "0x1 (health-fail)",
			"security counter": "3", "key id": id, "total size": "65696 bytes", "digest": "ok",
			"signature": tc.sig, "result": tc.result,
		} {
			if got[name] != want {
				t.Errorf("inspect %q: %s = %q; want %q\n%s", tc.args, name, got[name], want, out)
			}
		}
	}

	// JSON.
	header := headerReport{Magic: "BYFW", FormatVersion: 1, HeaderSize: 64, Version: "2.5.0+7", PayloadSize: 65536, Flags: 1,
		HealthFail: true, SecurityCounter: 3, Board: "ab-nor", KeyID: id, TotalSize: 65696}
	for _, tc := range []struct {
		args     []string
		sig, err string
		ok       bool
		code     int
		signed   bool
	}{
		{[]string{path}, "not checked", "signature not checked", false, 1, false},
		{[]string{"--no-verify", path}, "not checked", "", true, 0, false},
		{[]string{"--pubkey", pub, path}, "ok", "", true, 0, true},
	} {
		r, _, code := inspectJSON(t, tc.args...)
		if code != tc.code || r.Header == nil || *r.Header != header {
			t.Fatalf("inspect --json %q: code %d, header %+v", tc.args, code, r.Header)
		}
		if r.File != path || r.FileSize != 65696 || r.Format != "byfw" || r.Version != "2.5.0+7" || r.Digest != "ok" ||
			r.Signature != tc.sig || r.OK != tc.ok || r.Error != tc.err || (r.Signer != "") != tc.signed || len(r.Fields) == 0 || len(r.Checks) == 0 {
			t.Errorf("inspect --json %q = %+v", tc.args, r)
		}
	}
}

func TestImagePackIsDeterministic(t *testing.T) {
	dir, _ := keygen(t)
	args := []string{"--board", "esp32-ota", "--version", "1.2.3", "--size", "1000"}
	_, a := pack(t, dir, args...)
	_, b := pack(t, dir, args...)
	if !bytes.Equal(a, b) {
		t.Error("two packs of the same inputs differ")
	}
	// --payload with the filler bytes makes the same image as --size.
	payload := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(payload, filler(1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, c := pack(t, dir, "--board", "esp32-ota", "--version", "1.2.3", "--payload", payload); !bytes.Equal(a, c) {
		t.Error("--payload with the filler differs from --size")
	}
	if _, d := pack(t, dir, "--board", "esp32-ota", "--version", "1.2.4", "--size", "1000"); bytes.Equal(a, d) {
		t.Error("another version gives the same image")
	}
}

func TestImageInspectFailures(t *testing.T) {
	dir, _ := keygen(t)
	other, _ := keygen(t)
	pub, otherPub := filepath.Join(dir, "image.pub.pem"), filepath.Join(other, "image.pub.pem")
	_, img := pack(t, dir, "--board", "ab-nor", "--version", "2.5.0", "--size", "4KiB")
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0x01; return b }
	}
	for _, tc := range []struct {
		name      string
		mutate    func([]byte) []byte
		pubkey    string
		err       string // the report's error; "" when ok
		digest    string
		signature string
		header    bool // the header is reported
	}{
		{"flipped payload byte", flip(64 + 100), "", "digest mismatch", "mismatch", "not checked", true},
		{"flipped payload byte, with key", flip(64 + 100), pub, "digest mismatch", "mismatch", "not checked", true},
		{"wrong public key", nil, otherPub, "unknown signing key", "ok", "unknown key", true},
		{"flipped signature byte", flip(len(img) - 1), pub, "bad signature", "ok", "bad", true},
		{"flipped signature byte, no key", flip(len(img) - 1), "", "signature not checked", "ok", "not checked", true},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "", "truncated", "not checked", "not checked", true},
		{"truncated header", func(b []byte) []byte { return b[:40] }, "", "truncated", "not checked", "not checked", false},
		{"bad magic", flip(0), "", "bad magic", "not checked", "not checked", false},
		{"empty file", func([]byte) []byte { return nil }, "", "truncated", "not checked", "not checked", false},
		{"bad header", flip(28), "", "bad header", "not checked", "not checked", false},
		{"erased flash after the image", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xFF}, 100)...) }, pub, "", "ok", "ok", true},
		{"intact, no key", nil, "", "signature not checked", "ok", "not checked", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(img)
			if tc.mutate != nil {
				b = tc.mutate(b)
			}
			path := filepath.Join(t.TempDir(), "fw.img")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{path}
			if tc.pubkey != "" {
				args = []string{"--pubkey", tc.pubkey, path}
			}
			r, errOut, code := inspectJSON(t, args...)
			if r.Error != tc.err || r.OK != (tc.err == "") || r.Digest != tc.digest || r.Signature != tc.signature ||
				(r.Header != nil) != tc.header || r.FileSize != int64(len(b)) {
				t.Errorf("report %+v; want error %q, digest %q, signature %q, header %v", r, tc.err, tc.digest, tc.signature, tc.header)
			}
			wantErr := ""
			if tc.err != "" {
				wantErr = "brickyard: " + path + ": image: " + tc.err
			}
			if tc.err == "signature not checked" {
				wantErr = "brickyard: " + path + ": " + tc.err
			}
			if (code == 0) != (tc.err == "") || !strings.HasPrefix(errOut, wantErr) || (wantErr == "") != (errOut == "") {
				t.Errorf("code %d, stderr %q; want %q", code, errOut, wantErr)
			}
			// The text form fails alike and names the failed check.
			out, errOut2, code2 := runBrickyard(t, nil, append([]string{"image", "inspect"}, args...)...)
			if code2 != code || errOut2 != errOut || (tc.err != "" && !strings.Contains(out, "FAILED: "+tc.err)) {
				t.Errorf("text: code %d, stderr %q, stdout:\n%s", code2, errOut2, out)
			}
		})
	}
}

func TestImageKeygenRefusesToOverwrite(t *testing.T) {
	dir, id := keygen(t)
	key := filepath.Join(dir, "image.key.pem")
	out, errOut, code := runBrickyard(t, nil, "image", "keygen", "--out", dir)
	if want := "brickyard: --out: " + key + " already exists; use --force to replace it"; code != 1 || out != "" || !strings.Contains(errOut, want) {
		t.Errorf("second keygen: code %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBrickyard(t, nil, "image", "keygen", "--out", dir, "--force")
	if code != 0 || strings.Contains(out, id) {
		t.Errorf("keygen --force: code %d, stdout %q, stderr %q; want a new key", code, out, errOut)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced private key: %v, %v; want mode 0600", fi, err)
	}
}

func TestImageBadInput(t *testing.T) {
	dir, _ := keygen(t)
	tmp := t.TempDir()
	key, pub := filepath.Join(dir, "image.key.pem"), filepath.Join(dir, "image.pub.pem")
	file := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := file("garbage", []byte("not a key\n"))
	openssh := file("openssh", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecKey := file("ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	huge := file("huge", bytes.Repeat([]byte("x"), maxKeyFileSize+1))
	sparse := file("sparse", nil)
	if err := os.Truncate(sparse, image.MaxPayloadSize+1); err != nil { // no blocks written
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	out := filepath.Join(tmp, "out.img")

	p := func(args ...string) []string { // pack with good defaults, overridden by args
		base := map[string]string{"--key": key, "--board": "ab-nor", "--version": "1.0.0", "--size": "1KiB", "--out": out}
		all := []string{"image", "pack"}
		for i := 0; i+1 < len(args); i += 2 {
			if args[i+1] == "-" {
				delete(base, args[i])
			} else {
				base[args[i]] = args[i+1]
			}
		}
		for k, v := range base {
			all = append(all, k+"="+v)
		}
		return all
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "keygen"}, `required flag(s) "out" not set`},
		{[]string{"image", "keygen", "--out="}, "--out: expected a directory name; got an empty string"},
		{[]string{"image", "keygen", "--out", garbage}, "--out: lstat " + garbage + "/image.key.pem: not a directory"},
		{[]string{"image", "bogus"}, `unknown command "bogus" for "brickyard image"`},
		{p("--key", missing), "--key: open " + missing + ": no such file or directory"},
		{p("--key", pub), "--key " + pub + `: image: private key file holds a "PUBLIC KEY" PEM block, want "PRIVATE KEY"`},
		{p("--key", garbage), "--key " + garbage + ": image: private key file holds no PEM block"},
		{p("--key", openssh), `private key file holds a "OPENSSH PRIVATE KEY" PEM block`},
		{p("--key", ecKey), "--key " + ecKey + ": a BYFW image is signed with an Ed25519 key, not ecdsa-p256"},
		{p("--key", huge), "--key " + huge + ": larger than 1048576 bytes; not a key file"},
		{p("--key", tmp), "--key: read " + tmp + ": is a directory"},
		{p("--version", "2.5"), `invalid argument "2.5" for "--version" flag: image: version "2.5": not three dot-separated numbers`},
		{p("--version", "2.5.0+0"), `for "--version" flag: image: version "2.5.0+0": a zero build is written without +0`},
		{p("--version", "256.0.0"), `for "--version" flag: image: version "256.0.0": major exceeds 8 bits`},
		{p("--board", "a-board-name-too-long"), `--board: image: bad header: board id "a-board-name-too-long" must be 1 to 16 bytes`},
		{p("--board", "ab nor"), `--board: image: bad header: board id "ab nor" has byte 0x20 at 2`},
		{p("--board", ""), `--board: image: bad header: board id "" must be 1 to 16 bytes`},
		{p("--size", "2GiB"), `invalid argument "2GiB" for "--size" flag: more than 1073741824 bytes (1GiB), the largest payload`},
		{p("--size", "1073741825"), `invalid argument "1073741825" for "--size" flag: more than`},
		{p("--size", "12XB"), `invalid argument "12XB" for "--size" flag: want a byte count such as 65536, 64KiB or 1MiB`},
		{p("--size", "-1"), `invalid argument "-1" for "--size" flag: want a byte count`},
		{p("--size", "-", "--payload", sparse), "--payload " + sparse + ": more than 1073741824 bytes (1GiB), the largest payload"},
		{p("--size", "-", "--payload", missing), "--payload: open " + missing + ": no such file or directory"},
		{p("--size", "-", "--payload", tmp), "--payload: read " + tmp + ": is a directory"},
		{p("--payload", garbage), "--payload, --size: give exactly one"},
		{p("--size", "-"), "--payload, --size: give exactly one"},
		{p("--security-counter", "-1"), `invalid argument "-1" for "--security-counter" flag`},
		{p("--out", filepath.Join(missing, "fw.img")), "--out: open " + filepath.Join(missing, "fw.img") + ": no such file or directory"},
		{p("--key", "-", "--board", "-"), `required flag(s) "key" not set`},
		{p("--board", "-"), `required flag(s) "board" not set`},
		{p("--format", "zip"), `--format: image: format "zip": want one of byfw, mcuboot, esp-app, fit`},
		{[]string{"image", "inspect"}, "accepts 1 arg(s), received 0"},
		{[]string{"image", "inspect", garbage, garbage}, "accepts 1 arg(s), received 2"},
		{[]string{"image", "inspect", missing}, "open " + missing + ": no such file or directory"},
		{[]string{"image", "inspect", tmp}, tmp + ": is a directory"},
		{[]string{"image", "inspect", "--pubkey", missing, garbage}, "--pubkey: open " + missing + ": no such file or directory"},
		{[]string{"image", "inspect", "--pubkey", key, garbage}, "--pubkey " + key + `: image: the file holds a private key ("PRIVATE KEY"); give its public half`},
		{[]string{"image", "inspect", "--board", "no-such-board", garbage}, `--board: unknown board "no-such-board"`},
		{[]string{"image", "inspect", "--pubkey", garbage, garbage}, "--pubkey " + garbage + ": image: public key file holds no PEM block"},
	} {
		stdout, errOut, code := runBrickyard(t, nil, tc.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(errOut, "brickyard: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("run %q: code %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, stdout, errOut, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed pack wrote its --out file")
	}
}

func TestImageUnreadableKey(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read any file")
	}
	dir, _ := keygen(t)
	key := filepath.Join(dir, "image.key.pem")
	if err := os.Chmod(key, 0); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runBrickyard(t, nil, "image", "pack", "--key", key, "--board", "b", "--version", "1.0.0", "--size", "1", "--out", filepath.Join(dir, "x"))
	if want := "brickyard: --key: open " + key + ": permission denied"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("code %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

func TestImageHelp(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "image")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"keygen", "pack", "inspect", "docs/image-format.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("image help lacks %q:\n%s", want, out)
		}
	}
}
