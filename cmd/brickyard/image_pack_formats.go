package main

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/mcuboot"
	"brickyard/boards/profile"
)

// mcubootBuilder packs as imgtool sign does: -v, -H, --pad-header, -S,
// -s, --pad/--test/--confirm, --align, -M, --public-key-format.
func mcubootBuilder(pf *packFlags, signer crypto.Signer, prof *profile.Profile, changed func(string) bool) (func([]byte) ([]byte, error), error) {
	o := mcuboot.PackOptions{Version: pf.ver.v, HeaderSize: pf.headerSize, PadHeader: pf.padHeader, SlotSize: pf.slotSize,
		Pad: pf.pad, Test: pf.test, Confirm: pf.confirm, Align: pf.align, MaxSectors: pf.maxSectors,
		PublicKeyFull: pf.fullKey, HealthFail: pf.healthFail}
	if changed("security-counter") {
		o.SecurityCounter = &pf.counter
	}
	if prof != nil {
		if o.SlotSize == 0 {
			o.SlotSize = prof.SlotSize()
		}
		if o.Align == 0 && prof.Flash.WriteUnit > 1 {
			o.Align = prof.Flash.WriteUnit
		}
		if r := prof.ImageRules(); !r.Accepts(image.FormatMCUboot) {
			return nil, fmt.Errorf("--board: %s's bootloader does not take MCUboot images", prof.Name)
		} else if sig := r.MCUboot.Signature; sig != "" && sig != mcuboot.SigNone && signer != nil {
			if alg, _ := image.KeyAlgorithm(signer.Public()); alg != sig {
				return nil, fmt.Errorf("--key %s: an %s key; %s's MCUboot verifies %s signatures", pf.keyFile, alg, prof.Name, sig)
			}
		}
	}
	if o.SlotSize == 0 {
		return nil, errors.New("--slot-size: MCUboot images are made for a slot (imgtool -S): give --slot-size or --board")
	}
	if _, err := mcuboot.Pack(nil, nil, o, make([]byte, o.HeaderSize)); err != nil {
		return nil, err
	}
	return func(p []byte) ([]byte, error) {
		if p == nil {
			return nil, nil
		}
		return mcuboot.Pack(signer, nil, o, p)
	}, nil
}

// espBuilder wraps the payload as an ESP-IDF app, signed for secure boot
// v2 when a key is given.
func espBuilder(pf *packFlags, signer crypto.Signer, prof *profile.Profile, changed func(string) bool) (func([]byte) ([]byte, error), error) {
	if prof != nil && !prof.ImageRules().Accepts(image.FormatESPApp) {
		return nil, fmt.Errorf("--board: %s's bootloader does not take ESP-IDF apps", prof.Name)
	}
	o := espapp.PackOptions{Chip: pf.chip, Version: pf.ver.v.String(), ProjectName: pf.project, SecureVersion: pf.counter, HealthFail: pf.healthFail}
	if o.Chip == "" && prof != nil {
		o.Chip = prof.ImageRules().ESP.Chip
	}
	if _, err := espapp.ChipByName(orDefault(o.Chip, "esp32")); err != nil {
		return nil, fmt.Errorf("--chip: %w", err)
	}
	var signers []crypto.Signer
	if signer != nil {
		signers = append(signers, signer)
	}
	if _, err := espapp.Pack(o, nil, nil, signers...); err != nil {
		return nil, fmt.Errorf("--key %s: %w", pf.keyFile, err)
	}
	return func(p []byte) ([]byte, error) {
		if p == nil {
			return nil, nil
		}
		return espapp.Pack(o, p, nil, signers...)
	}, nil
}

// fitBuilder packs the payload as the kernel (or firmware) of a one-
// configuration FIT, with the --fdt blobs, signing the configuration when
// a key is given.
func fitBuilder(pf *packFlags, signer crypto.Signer, changed func(string) bool) (func([]byte) ([]byte, error), error) {
	if pf.imgType != "kernel" && pf.imgType != "firmware" {
		return nil, fmt.Errorf("--type %q: want kernel or firmware", pf.imgType)
	}
	ts := pf.timestamp
	if !changed("timestamp") {
		if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
			n, err := strconv.ParseUint(e, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", e)
			}
			ts = uint32(n)
		}
	}
	desc := pf.description
	if desc == "" {
		desc = "brickyard FIT " + pf.ver.v.String()
	}
	o := fit.PackOptions{Description: desc, Timestamp: ts, Version: pf.ver.v.String(), HealthFail: pf.healthFail}
	main := fit.Image{Name: pf.imgType + "-1", Description: desc, Type: pf.imgType, Arch: pf.arch, OS: pf.osName}
	if changed("load") {
		main.Load = &pf.load
	}
	if changed("entry") {
		main.Entry = &pf.entry
	}
	conf := fit.Config{Name: "conf-1", Description: desc}
	if pf.imgType == "kernel" {
		conf.Kernel = main.Name
	} else {
		conf.Firmware = main.Name
	}
	var fdts []fit.Image
	for i, f := range pf.fdts {
		data, err := readFlagFile("--fdt", f, 16<<20, "(16MiB), the most a device tree is taken")
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("fdt-%d", i+1)
		fdts = append(fdts, fit.Image{Name: name, Description: filepath.Base(f), Type: "flat_dt", Arch: pf.arch, Data: data})
		conf.FDT = append(conf.FDT, name)
	}
	if signer != nil {
		algo := pf.signAlgo
		if algo == "" {
			alg, _ := image.KeyAlgorithm(signer.Public())
			switch alg {
			case "rsa-2048", "rsa-3072", "rsa-4096":
				algo = "sha256,rsa" + alg[4:]
			case "ecdsa-p256":
				algo = "sha256,ecdsa256"
			default:
				return nil, fmt.Errorf("--key %s: a FIT is signed with an RSA or ECDSA P-256 key, not %s", pf.keyFile, alg)
			}
		}
		conf.Sign = &fit.Signature{Algo: algo, KeyNameHint: pf.keyHint}
	}
	build := func(p []byte) ([]byte, error) {
		m := main
		m.Data = p
		o := o
		o.Images = append([]fit.Image{m}, fdts...)
		o.Configs = []fit.Config{conf}
		return fit.Pack(o, signer, nil)
	}
	if _, err := build(nil); err != nil {
		return nil, err
	}
	return build, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// bytesReaderAt is b as an io.ReaderAt.
func bytesReaderAt(b []byte) io.ReaderAt { return bytes.NewReader(b) }
