package fit_test

// Debian's u-boot-tools (mkimage, dumpimage) and dtc are the oracles:
// FITs mkimage makes verify here, FITs brickyard makes are listed right
// by dumpimage, and mkimage re-signing brickyard's FIT writes the very
// signature brickyard wrote.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
)

// its is an image source file as a board's build writes one.
const its = `/dts-v1/;
/ {
	description = "mkimage-made FIT";
	#address-cells = <1>;
	version = "3.1.0";
	images {
		kernel-1 {
			description = "Linux kernel";
			data = /incbin/("kernel.bin");
			type = "kernel";
			arch = "arm";
			os = "linux";
			compression = "none";
			load = <0x80008000>;
			entry = <0x80008000>;
			hash-1 { algo = "sha256"; };
			hash-2 { algo = "crc32"; };
		};
		fdt-1 {
			description = "board device tree";
			data = /incbin/("board.dtb");
			type = "flat_dt";
			arch = "arm";
			compression = "none";
			hash-1 { algo = "sha1"; };
		};
	};
	configurations {
		default = "conf-1";
		conf-1 {
			description = "board configuration";
			kernel = "kernel-1";
			fdt = "fdt-1";
			%s
		};
	};
};
`

// mkimageFIT writes the .its (with sig inside conf-1), its inputs and a
// key directory for key into a temporary directory, runs mkimage with
// args and returns the FIT and the directory.
func mkimageFIT(t *testing.T, sig string, args ...string) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"kernel.bin": kernelData, "image.its": []byte(fmt.Sprintf(its, sig))} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "board.dts"), []byte("/dts-v1/;\n/ { compatible = \"brickyard,test\"; model = \"test board\"; };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "dtc", "-I", "dts", "-O", "dtb", "-o", "board.dtb", "board.dts")
	if err := os.WriteFile(filepath.Join(dir, "u-boot.dts"), []byte("/dts-v1/;\n/ { };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "dtc", "-I", "dts", "-O", "dtb", "-o", "u-boot.dtb", "u-boot.dts")
	run(t, dir, "mkimage", append(append([]string{"-f", "image.its"}, args...), "image.itb")...)
	b, err := os.ReadFile(filepath.Join(dir, "image.itb"))
	if err != nil {
		t.Fatal(err)
	}
	return b, dir
}

const rsaSig = `signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; };`

// A FIT mkimage signs boots where its key is trusted, and is refused
// where it is not, when damaged, or when its configuration changes.
func TestMkimage_SignedFITBoots(t *testing.T) {
	key := imagetest.Key("rsa-2048", 0)
	dir0 := t.TempDir()
	keyDir(t, filepath.Join(dir0, "keys"), "dev", key)
	b, dir := mkimageFIT(t, rsaSig, "-k", filepath.Join(dir0, "keys"), "-K", "u-boot.dtb", "-r")
	keys := imagetest.Keyring("rsa-2048")
	req := fit.Rules{RequireSignature: true}
	info, err := verify(b, keys, req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := image.KeyName(key.Public())
	if info.Signer != want || info.VersionString() != "3.1.0" {
		t.Errorf("info %+v: want signer %s, version 3.1.0", info, want)
	}
	// The key mkimage wrote into the control device tree is the key.
	dtb, err := os.ReadFile(filepath.Join(dir, "u-boot.dtb"))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := fit.ControlKeys(dtb)
	if err != nil || len(ctl) != 1 {
		t.Fatalf("ControlKeys: %v, %v", ctl, err)
	}
	if n, _ := image.KeyName(ctl[0]); n != want {
		t.Errorf("control DTB key %s, want %s", n, want)
	}
	var fromDTB image.Keyring
	if err := fromDTB.AddKey(ctl[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(b, &fromDTB, req); err != nil {
		t.Errorf("with the key from u-boot.dtb: %v", err)
	}

	kernelAt := bytes.Index(b, kernelData[:64])
	for _, c := range []struct {
		name string
		b    []byte
		keys *image.Keyring
		want error
	}{
		{"another key", b, imagetest.Keyring("rsa-3072"), fit.ErrUnknownKey},
		{"a kernel byte", flip(b, kernelAt+4000), keys, fit.ErrHash},
		{"the configuration's description", flip(b, bytes.Index(b, []byte("board configuration\x00"))), keys, fit.ErrSignature},
		{"the root's version", flip(b, bytes.Index(b, []byte("3.1.0"))), keys, fit.ErrSignature},
	} {
		if _, err := verify(c.b, c.keys, req); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// mkimage's ECDSA P-256 signature (r‖s, keydir/NAME.pem) verifies too.
func TestMkimage_ECDSASignedFITBoots(t *testing.T) {
	key := imagetest.Key("ecdsa-p256", 0)
	keys := t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, "dev.pem"), imagetest.PEM("ecdsa-p256", 0), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := mkimageFIT(t, `signature-1 { algo = "sha256,ecdsa256"; key-name-hint = "dev"; };`, "-k", keys)
	info, err := verify(b, imagetest.Keyring("ecdsa-p256"), fit.Rules{RequireSignature: true})
	if want, _ := image.KeyName(key.Public()); err != nil || info.Signer != want {
		t.Fatalf("%+v, %v", info, err)
	}
	if _, err := verify(b, imagetest.Keyring("rsa-2048"), fit.Rules{RequireSignature: true}); !errors.Is(err, fit.ErrUnknownKey) {
		t.Errorf("no ECDSA key trusted: err = %v", err)
	}
}

func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

// mkimage -f auto's FIT (crc32 hashes, no signature) boots on a board
// without keys, and one with external data (-E) too.
func TestMkimage_AutoAndExternalData(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kernel.bin"), kernelData, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "mkimage", "-f", "auto", "-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none",
		"-a", "0x80008000", "-e", "0x80008000", "-n", "auto kernel", "-d", "kernel.bin", "auto.itb")
	b, err := os.ReadFile(filepath.Join(dir, "auto.itb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(b, nil, fit.Rules{Arch: "arm"}); err != nil {
		t.Errorf("mkimage -f auto: %v", err)
	}
	if _, err := verify(flip(b, bytes.Index(b, kernelData[:64])+10), nil, fit.Rules{}); !errors.Is(err, fit.ErrHash) {
		t.Errorf("damaged: err = %v, want ErrHash", err)
	}

	ext, _ := mkimageFIT(t, "", "-E")
	info, err := verify(ext, nil, fit.Rules{})
	if err != nil {
		t.Fatalf("mkimage -E: %v", err)
	}
	if info.Size > len(ext) || info.Size < len(ext)-3 {
		t.Errorf("external data: extent %d, file %d (the last data padded to 4)", info.Size, len(ext))
	}
	if _, err := verify(ext[:len(ext)-10], nil, fit.Rules{}); !errors.Is(err, fit.ErrTruncated) {
		t.Errorf("external data cut short: err = %v", err)
	}
	pos, _ := mkimageFIT(t, "", "-p", "0x2000")
	if _, err := verify(pos, nil, fit.Rules{}); err != nil {
		t.Errorf("mkimage -p (data-position): %v", err)
	}
}

// dumpimage -l lists a FIT brickyard made as brickyard wrote it, and
// dumpimage -p extracts its images' data unchanged.
func TestDumpimage_ListsBrickyardFIT(t *testing.T) {
	o := opts("sha256,rsa2048")
	o.Images[0].Hashes = []string{"sha256", "crc32"}
	b := pack(t, o, imagetest.Key("rsa-2048", 0))
	dir := t.TempDir()
	path := filepath.Join(dir, "by.itb")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, "dumpimage", "-l", "by.itb")
	f, err := fit.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := must(f.Config("conf-1")).Child("signature-1")
	sv, _ := sn.Get("value")
	for _, want := range []string{
		"FIT description: brickyard test FIT",
		"Image 0 (kernel-1)", "Description:  Linux kernel", "Type:         Kernel Image", "Compression:  uncompressed",
		fmt.Sprintf("Data Size:    %d Bytes", len(kernelData)), "Architecture: ARM", "OS:           Linux",
		"Load Address: 0x80008000", "Entry Point:  0x80008000",
		"Hash algo:    sha256", "Hash value:   " + hexSum("sha256", kernelData), "Hash algo:    crc32", "Hash value:   " + hexSum("crc32", kernelData),
		"Image 1 (fdt-1)", "Type:         Flat Device Tree", fmt.Sprintf("Data Size:    %d Bytes", len(dtbData)),
		"Default Configuration: 'conf-1'", "Configuration 0 (conf-1)", "Kernel:       kernel-1", "FDT:          fdt-1",
		"Sign algo:    sha256,rsa2048:dev", "Sign value:   " + hex.EncodeToString(sv.Value),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dumpimage -l lacks %q:\n%s", want, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^ Image \d+ `).FindAllString(out, -1)); n != 2 {
		t.Errorf("dumpimage lists %d images, want 2", n)
	}
	for i, want := range [][]byte{kernelData, dtbData} {
		name := fmt.Sprintf("image%d.bin", i)
		run(t, dir, "dumpimage", "-T", "flat_dt", "-p", fmt.Sprint(i), "-o", name, "by.itb")
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dumpimage -p %d extracted %d bytes (%v), want the %d packed", i, len(got), err, len(want))
		}
	}
	// dtc reads it back as a device tree.
	run(t, dir, "dtc", "-I", "dtb", "-O", "dts", "-o", filepath.Join(dir, "by.dts"), "by.itb")
}

// mkimage -F re-signs brickyard's FIT, its signature value blanked, with
// the same key: the value it writes is brickyard's, byte for byte. So
// brickyard hashes exactly the regions mkimage does.
func TestMkimage_ResignsBrickyardFITIdentically(t *testing.T) {
	for _, algo := range []string{"sha256,rsa2048", "sha1,rsa3072"} {
		t.Run(algo, func(t *testing.T) {
			key := imagetest.Key("rsa-"+strings.TrimPrefix(strings.SplitN(algo, ",", 2)[1], "rsa"), 0)
			b := pack(t, opts(algo), key)
			f, err := fit.Parse(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			sn, _ := must(f.Config("conf-1")).Child("signature-1")
			v, _ := sn.Get("value")
			want := bytes.Clone(v.Value)
			blank := bytes.Clone(b)
			clear(blank[v.ValueOffset : v.ValueOffset+int64(v.Len)])
			dir := t.TempDir()
			keyDir(t, filepath.Join(dir, "keys"), "dev", key)
			if err := os.WriteFile(filepath.Join(dir, "by.itb"), blank, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, dir, "mkimage", "-F", "-k", "keys", "by.itb")
			resigned, err := os.ReadFile(filepath.Join(dir, "by.itb"))
			if err != nil {
				t.Fatal(err)
			}
			g, err := fit.Parse(bytes.NewReader(resigned), int64(len(resigned)))
			if err != nil {
				t.Fatal(err)
			}
			rn, _ := must(g.Config("conf-1")).Child("signature-1")
			rv, _ := rn.Get("value")
			if !bytes.Equal(rv.Value, want) {
				t.Fatalf("mkimage's signature differs from brickyard's:\n%x\n%x", rv.Value, want)
			}
			if _, err := verify(resigned, imagetest.Keyring(), fit.Rules{RequireSignature: true}); err != nil {
				t.Errorf("the re-signed FIT: %v", err)
			}
		})
	}
}
