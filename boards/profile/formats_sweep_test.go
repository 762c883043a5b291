package profile_test

// The exhaustive power-cut sweep with each real format on its board: an
// MCUboot image on mcuboot-nrf52, an ESP-IDF app on esp32-ota with secure
// boot v2 and anti-rollback, a FIT mkimage made and signed on uboot-nor.
// As with brickyard's own images, no cut may brick these A/B boards,
// cutting cleanly or tearing the operation.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
	"brickyard/boards/profile"
	"brickyard/boards/sweep"
	"brickyard/flash"
)

// sweepFormat provisions p with old, sweeps the update to new cleanly and
// torn with three seeds, and requires every cut to end updated or rolled
// back (sweep.Run itself fails when the uninterrupted update does not end
// updated).
func sweepFormat(t *testing.T, p profile.Profile, keys *image.Keyring, old, new []byte, format image.Format) {
	t.Helper()
	b, err := p.Provision(keys, flash.NewBlob(old, p.Flash.Erased))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if got := b.Running.Image.Format; got != format {
		t.Fatalf("the factory boot runs a %s image, want %s", got, format)
	}
	for _, run := range []struct {
		torn bool
		seed uint64
	}{{false, 0}, {true, 1}, {true, 2}, {true, 0x5EED}} {
		res, err := sweep.Run(sweep.Config{Factory: b, Update: flash.NewBlob(new, p.Flash.Erased), Torn: run.torn, Seed: run.seed})
		if err != nil {
			t.Fatalf("torn=%v seed=%d: %v", run.torn, run.seed, err)
		}
		t.Logf("%s torn=%-5v seed=%-5d ops=%d updated=%d rolled_back=%d bricked=%d",
			p.Name, run.torn, run.seed, res.Ops, res.Updated, res.RolledBack, res.Bricked)
		if res.Bricked != 0 || res.Cuts != res.Ops || res.Updated+res.RolledBack != res.Cuts {
			t.Errorf("torn=%v seed=%d: %d cuts, %d updated, %d rolled back, %d bricked: %+v",
				run.torn, run.seed, res.Cuts, res.Updated, res.RolledBack, res.Bricked, res.BrickPoints)
		}
	}
}

func TestSweep_MCUbootImagesOnMCUbootBoard(t *testing.T) {
	p, err := builtin(t).Get("mcuboot-nrf52")
	if err != nil {
		t.Fatal(err)
	}
	key := imagetest.Key("ed25519", 0)
	mk := func(v image.Version, pad bool) []byte {
		img, err := mcuboot.Pack(key, nil, mcuboot.PackOptions{Version: v, HeaderSize: 0x200, PadHeader: true,
			SlotSize: p.SlotSize(), Align: p.Flash.WriteUnit, Pad: pad}, imagetest.Payload(24<<10, v.Major))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	keys := imagetest.Keyring("ed25519")
	t.Run("uploaded", func(t *testing.T) {
		sweepFormat(t, p, keys, mk(image.Version{Major: 1}, false), mk(image.Version{Major: 2}, false), image.FormatMCUboot)
	})
	// imgtool --pad: the update carries its trailer, already pending.
	t.Run("padded", func(t *testing.T) {
		sweepFormat(t, p, keys, mk(image.Version{Major: 1}, false), mk(image.Version{Major: 2}, true), image.FormatMCUboot)
	})
}

func TestSweep_ESPAppsOnESPBoard_SecureBootAntiRollback(t *testing.T) {
	set, err := profile.Parse("esp-sbv2.yaml", []byte(`boards:
  esp32-sbv2:
    bootloader: esp-ota
    flash: {size: 4MiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: otadata, offset: 0xd000, size: 8KiB}
      - {name: ota_0, offset: 0x10000, size: 0x180000}
      - {name: ota_1, offset: 0x190000, size: 0x180000}
    options: {chip: esp32, secure_boot: rsa-3072, anti_rollback: true}
`), profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("esp32-sbv2")
	key := imagetest.Key("rsa-3072", 0)
	mk := func(version string, secure uint32) []byte {
		img, err := espapp.Pack(espapp.PackOptions{Version: version, SecureVersion: secure}, imagetest.Payload(20<<10, byte(secure)), nil, key)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	sweepFormat(t, p, imagetest.Keyring("rsa-3072"), mk("1.0.0", 1), mk("2.0.0", 2), image.FormatESPApp)
}

// The FITs are mkimage's, made from an image source with a kernel and a
// device tree and signed in the configuration with the board's RSA key.
func TestSweep_MkimageFITsOnUBootBoard(t *testing.T) {
	p, err := builtin(t).Get("uboot-nor")
	if err != nil {
		t.Fatal(err)
	}
	old, new := mkimageFIT(t, "1.0.0"), mkimageFIT(t, "2.0.0")
	sweepFormat(t, p, imagetest.Keyring("ed25519", "rsa-2048"), old, new, image.FormatFIT)
}

// mkimageFIT runs Debian's mkimage on an image source of version v,
// signing with imagetest's RSA-2048 key 0.
func mkimageFIT(t *testing.T, v string) []byte {
	t.Helper()
	mkimage, err := exec.LookPath("mkimage")
	if err != nil {
		t.Fatalf("mkimage not found (run .ci/install-deps: u-boot-tools, device-tree-compiler): %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("keys/dev.key", imagetest.PEM("rsa-2048", 0))
	write("kernel.bin", imagetest.Payload(16<<10, v[0]))
	write("board.dtb", imagetest.Payload(512, 9)) // the board's device tree, as data
	write("image.its", []byte(fmt.Sprintf(`/dts-v1/;
/ {
	description = "board %[1]s";
	#address-cells = <1>;
	version = "%[1]s";
	images {
		kernel-1 {
			description = "kernel"; data = /incbin/("kernel.bin");
			type = "kernel"; arch = "arm"; os = "linux"; compression = "none";
			load = <0x80008000>; entry = <0x80008000>;
			hash-1 { algo = "sha256"; };
		};
		fdt-1 {
			description = "dtb"; data = /incbin/("board.dtb");
			type = "flat_dt"; arch = "arm"; compression = "none";
			hash-1 { algo = "sha256"; };
		};
	};
	configurations {
		default = "conf-1";
		conf-1 {
			description = "board"; kernel = "kernel-1"; fdt = "fdt-1";
			signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; };
		};
	};
};
`, v)))
	cmd := exec.Command(mkimage, "-f", "image.its", "-k", "keys", "image.itb")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "image.itb"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
