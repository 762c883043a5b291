package profile_test

// Each bootloader model refuses a bad image of its native format the way
// the real loader does: at Activate where the updater checks, else at the
// boot that would run it, falling back to the image that ran before.

import (
	"bytes"
	"crypto"
	"errors"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/espota"
	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
	mcubootswap "brickyard/boards/mcuboot"
	"brickyard/boards/profile"
	"brickyard/flash"
)

// update writes img into slot and activates it; it returns Activate's
// error and the boot after it.
func update(t *testing.T, b *boards.Board, slot string, img []byte) (error, boards.Boot) {
	t.Helper()
	if err := b.Loader.Write(b, slot, flash.NewBlob(img, b.Chip.Geometry().Erased)); err != nil {
		t.Fatalf("write: %v", err)
	}
	aerr := b.Loader.Activate(b, slot)
	r, err := b.Loader.Boot(b)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	return aerr, r
}

func profileNamed(t *testing.T, yaml, name string) profile.Profile {
	t.Helper()
	set, err := profile.Parse(name+".yaml", []byte(yaml), profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get(name)
	return p
}

// runs says what a boot ran: its version, trial, fell back.
func runs(r boards.Boot) string {
	if r.Bricked {
		return "bricked: " + r.Reason
	}
	s := r.Image.VersionString()
	if r.Trial {
		s += " trial"
	}
	if r.FellBack {
		s += " fell back"
	}
	return s
}

const mcubootYAML = `boards:
  mcu:
    bootloader: mcuboot-swap
    flash: {size: 1MiB, sector: 4KiB, write_unit: 4}
    partitions:
      - {name: primary, offset: 0x10000, size: 384KiB}
      - {name: secondary, offset: 0x70000, size: 384KiB}
      - {name: scratch, offset: 0xd0000, size: 8KiB}
    options: {%s}
`

func TestMCUbootBoard_RefusesAsMCUbootDoes(t *testing.T) {
	ed := imagetest.Key("ed25519", 0)
	mk := func(p profile.Profile, key crypto.Signer, v image.Version, mut func(*mcuboot.PackOptions)) []byte {
		o := mcuboot.PackOptions{Version: v, HeaderSize: 0x200, PadHeader: true, SlotSize: p.SlotSize(), Align: 4}
		if mut != nil {
			mut(&o)
		}
		img, err := mcuboot.Pack(key, nil, o, imagetest.Payload(8<<10, v.Major))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	v := func(major uint8) image.Version { return image.Version{Major: major} }
	withCounter := func(n uint32) func(*mcuboot.PackOptions) {
		return func(o *mcuboot.PackOptions) { o.SecurityCounter = &n }
	}
	for _, c := range []struct {
		name, options string
		factory       func(p profile.Profile) []byte
		update        func(p profile.Profile) []byte
		activateErr   error
		want          string // what the boot after runs
		erased        bool   // the secondary slot is erased after that boot
	}{
		{"a good update is tried", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) }, func(p profile.Profile) []byte { return mk(p, ed, v(2), nil) },
			nil, "2.0.0 trial", false},
		{"tampered body: no swap, secondary erased", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte { b := mk(p, ed, v(2), nil); b[0x400] ^= 1; return b },
			nil, "1.0.0 fell back", true},
		{"signed by an untrusted key", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte { return mk(p, imagetest.Key("ed25519", 1), v(2), nil) },
			nil, "1.0.0 fell back", true},
		{"ECDSA image on an Ed25519 build", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte { return mk(p, imagetest.Key("ecdsa-p256", 0), v(2), nil) },
			nil, "1.0.0 fell back", true},
		{"an ECDSA build takes it", "signature: ecdsa-p256",
			func(p profile.Profile) []byte { return mk(p, imagetest.Key("ecdsa-p256", 0), v(1), nil) },
			func(p profile.Profile) []byte { return mk(p, imagetest.Key("ecdsa-p256", 0), v(2), nil) },
			nil, "2.0.0 trial", false},
		{"downgrade prevented by version", "downgrade_prevention: version",
			func(p profile.Profile) []byte { return mk(p, ed, v(3), nil) }, func(p profile.Profile) []byte { return mk(p, ed, v(2), nil) },
			nil, "3.0.0 fell back", true},
		{"no downgrade prevention: the older image is tried", "downgrade_prevention: \"off\"",
			func(p profile.Profile) []byte { return mk(p, ed, v(3), nil) }, func(p profile.Profile) []byte { return mk(p, ed, v(2), nil) },
			nil, "2.0.0 trial", false},
		{"hardware rollback: SEC_CNT below the board's", "hw_rollback_protection: true",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), withCounter(5)) },
			func(p profile.Profile) []byte { return mk(p, ed, v(2), withCounter(4)) },
			nil, "1.0.0 fell back", true},
		{"hardware rollback: no SEC_CNT", "hw_rollback_protection: true",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), withCounter(5)) },
			func(p profile.Profile) []byte { return mk(p, ed, v(2), nil) },
			nil, "1.0.0 fell back", true},
		{"counter downgrade prevented", "hw_rollback_protection: true, downgrade_prevention: security-counter",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), withCounter(5)) },
			func(p profile.Profile) []byte { return mk(p, ed, v(2), withCounter(5)) },
			nil, "2.0.0 trial", false},
		{"padded --confirm: a permanent swap", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte {
				return mk(p, ed, v(2), func(o *mcuboot.PackOptions) { o.Confirm = true })
			},
			nil, "2.0.0", false},
		{"padded with a damaged trailer magic: set_pending erases the slot", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte {
				b := mk(p, ed, v(2), func(o *mcuboot.PackOptions) { o.Pad = true })
				b[len(b)-3] ^= 1
				return b
			},
			mcubootswap.ErrBadMagic, "1.0.0", true},
		{"truncated TLVs: no swap", "signature: ed25519",
			func(p profile.Profile) []byte { return mk(p, ed, v(1), nil) },
			func(p profile.Profile) []byte { b := mk(p, ed, v(2), nil); return b[:len(b)-40] },
			nil, "1.0.0 fell back", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := profileNamed(t, strings.Replace(mcubootYAML, "%s", c.options, 1), "mcu")
			b, err := p.Provision(imagetest.Keyring(), flash.NewBlob(c.factory(p), 0xff))
			if err != nil {
				t.Fatal(err)
			}
			b.RaiseSecurityCounter(b.Running.Image.SecurityCounter)
			aerr, r := update(t, b, mcubootswap.Secondary, c.update(p))
			if !errors.Is(aerr, c.activateErr) {
				t.Errorf("activate: %v, want %v", aerr, c.activateErr)
			}
			if got := runs(r); got != c.want {
				t.Errorf("boot runs %q, want %q (%s)", got, c.want, r.Reason)
			}
			sec, _ := b.Layout.Get(mcubootswap.Secondary)
			head := make([]byte, 32)
			if err := b.Chip.Read(sec.Offset, head); err != nil {
				t.Fatal(err)
			}
			if erased := bytes.Equal(head, bytes.Repeat([]byte{0xff}, 32)); c.erased && !erased {
				t.Errorf("the secondary slot still holds % x…", head[:8])
			}
		})
	}
}

const espYAML = `boards:
  esp:
    bootloader: esp-ota
    flash: {size: 4MiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: otadata, offset: 0xd000, size: 8KiB}
      - {name: ota_0, offset: 0x10000, size: 0x180000}
      - {name: ota_1, offset: 0x190000, size: 0x180000}
    options: {%s}
`

func TestESPBoard_RefusesAsTheBootloaderDoes(t *testing.T) {
	rsa := imagetest.Key("rsa-3072", 0)
	mk := func(version string, secure uint32, chip string, keys ...crypto.Signer) []byte {
		img, err := espapp.Pack(espapp.PackOptions{Version: version, SecureVersion: secure, Chip: chip}, imagetest.Payload(6<<10, byte(secure)), nil, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, c := range []struct {
		name, options string
		factory       []byte
		update        []byte
		activateErr   error
		want          string
	}{
		{"an app boots on trial", "chip: esp32", mk("1.0.0", 0, ""), mk("2.0.0", 0, ""), nil, "2.0.0 trial"},
		{"another chip's app: not activated", "chip: esp32", mk("1.0.0", 0, ""), mk("2.0.0", 0, "esp32s3"), espota.ErrValidateFailed, "1.0.0"},
		{"secure boot: unsigned app not activated", "secure_boot: rsa-3072", mk("1.0.0", 0, "", rsa), mk("2.0.0", 0, ""), espota.ErrValidateFailed, "1.0.0"},
		{"secure boot: signed app boots", "secure_boot: rsa-3072", mk("1.0.0", 0, "", rsa), mk("2.0.0", 0, "", rsa), nil, "2.0.0 trial"},
		{"secure boot: another key", "secure_boot: rsa-3072", mk("1.0.0", 0, "", rsa), mk("2.0.0", 0, "", imagetest.Key("rsa-3072", 1)), espota.ErrValidateFailed, "1.0.0"},
		{"anti-rollback: lower secure_version not activated", "anti_rollback: true", mk("2.0.0", 3, ""), mk("2.1.0", 2, ""), espota.ErrValidateFailed, "2.0.0"},
		{"anti-rollback: equal secure_version boots", "anti_rollback: true", mk("2.0.0", 3, ""), mk("2.1.0", 3, ""), nil, "2.1.0 trial"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := profileNamed(t, strings.Replace(espYAML, "%s", c.options, 1), "esp")
			b, err := p.Provision(imagetest.Keyring(), flash.NewBlob(c.factory, 0xff))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Loader.Confirm(b); err != nil { // the factory app marks itself valid: the eFuse is burnt
				t.Fatal(err)
			}
			aerr, r := update(t, b, espota.PartOTA1, c.update)
			if !errors.Is(aerr, c.activateErr) {
				t.Errorf("activate: %v, want %v", aerr, c.activateErr)
			}
			if got := runs(r); got != c.want {
				t.Errorf("boot runs %q, want %q (%s)", got, c.want, r.Reason)
			}
		})
	}
}

func TestUBootBoard_ChecksFITsAsBootmDoes(t *testing.T) {
	rsa := imagetest.Key("rsa-2048", 0)
	mk := func(version string, key crypto.Signer, confs ...string) []byte {
		o := fit.PackOptions{Description: "board " + version, Version: version,
			Images: []fit.Image{{Name: "kernel-1", Description: "kernel", Type: "kernel", Arch: "arm", OS: "linux", Data: imagetest.Payload(4<<10, version[0])},
				{Name: "kernel-2", Description: "recovery", Type: "kernel", Arch: "arm", OS: "linux", Data: []byte("recovery kernel")}},
			Configs: []fit.Config{{Name: "conf-1", Description: "normal", Kernel: "kernel-1"}, {Name: "conf-2", Description: "recovery", Kernel: "kernel-2"}}}
		if key != nil {
			for i := range o.Configs {
				o.Configs[i].Sign = &fit.Signature{Algo: "sha256,rsa2048", KeyNameHint: "dev"}
			}
		}
		img, err := fit.Pack(o, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	uboot := func(opts string) profile.Profile {
		return profileNamed(t, `boards:
  ub:
    bootloader: uboot-ab
    flash: {size: 8MiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: env1, offset: 0x0, size: 8KiB}
      - {name: env2, offset: 0x2000, size: 8KiB}
      - {name: A, offset: 0x100000, size: 3MiB}
      - {name: B, offset: 0x400000, size: 3MiB}
    options: {`+opts+`}
`, "ub")
	}
	damaged := func(img []byte) []byte {
		b := bytes.Clone(img)
		b[bytes.Index(b, imagetest.Payload(64, '2'))+10] ^= 1
		return b
	}
	for _, c := range []struct {
		name    string
		opts    string
		keys    *image.Keyring
		factory []byte
		update  []byte
		want    string
	}{
		{"no FIT key: hashes only, an unsigned FIT boots", "", imagetest.Keyring("ed25519"), mk("1.0.0", nil), mk("2.0.0", nil), "2.0.0 trial"},
		{"a FIT key: an unsigned FIT is refused, rolled back", "", imagetest.Keyring("ed25519", "rsa-2048"), mk("1.0.0", rsa), mk("2.0.0", nil), "1.0.0 fell back"},
		{"a FIT key: a signed FIT boots", "", imagetest.Keyring("ed25519", "rsa-2048"), mk("1.0.0", rsa), mk("2.0.0", rsa), "2.0.0 trial"},
		{"fit_signature none: unsigned boots despite the key", "fit_signature: none", imagetest.Keyring("ed25519", "rsa-2048"), mk("1.0.0", rsa), mk("2.0.0", nil), "2.0.0 trial"},
		{"a damaged kernel is refused, rolled back", "", imagetest.Keyring("ed25519"), mk("1.0.0", nil), damaged(mk("2.0.0", nil)), "1.0.0 fell back"},
		{"bootconf conf-2 does not load the damaged kernel-1", "bootconf: conf-2", imagetest.Keyring("ed25519"), mk("1.0.0", nil), damaged(mk("2.0.0", nil)), "2.0.0 trial"},
		{"bootconf names a configuration the FIT lacks", "bootconf: conf-9", imagetest.Keyring("ed25519"), mk("1.0.0", nil), mk("2.0.0", nil), "bricked"},
		{"arch arm64: an arm kernel is refused", "arch: arm64", imagetest.Keyring("ed25519"), nil, mk("2.0.0", nil), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := uboot(c.opts)
			if c.factory == nil { // the factory image itself is refused: provisioning fails
				if _, err := p.Provision(c.keys, flash.NewBlob(c.update, 0xff)); err == nil {
					t.Error("provisioned with a FIT U-Boot refuses")
				}
				return
			}
			b, err := p.Provision(c.keys, flash.NewBlob(c.factory, 0xff))
			if c.want == "bricked" {
				if err == nil {
					t.Error("provisioned though no configuration boots")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, r := update(t, b, "B", c.update)
			if got := runs(r); got != c.want {
				t.Errorf("boot runs %q, want %q (%s)", got, c.want, r.Reason)
			}
		})
	}
}
