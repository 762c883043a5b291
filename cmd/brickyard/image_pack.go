package main

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/profile"

	"github.com/spf13/cobra"
)

// packFlags are image pack's flags; the format-specific ones are read by
// the format's builder (image_pack_formats.go).
type packFlags struct {
	format, keyFile, board, boardsFile, payloadFile, out string
	ver                                                  versionFlag
	counter                                              uint32
	healthFail                                           bool
	size                                                 sizeFlag

	// MCUboot (imgtool sign's names).
	headerSize, slotSize, align, maxSectors int
	padHeader, pad, confirm, test, fullKey  bool

	// ESP-IDF.
	chip, project string

	// FIT.
	description, arch, osName, imgType, signAlgo, keyHint string
	load, entry, timestamp                                uint32
	fdts                                                  []string
}

func newImagePackCmd(_ *app) *cobra.Command {
	var pf packFlags
	cmd := &cobra.Command{
		Use:   "pack [--format byfw|mcuboot|esp-app|fit] [--key KEY] [--board NAME] --version V (--payload FILE | --size N) --out FILE",
		Short: "Build and sign a firmware image: BYFW, MCUboot, an ESP-IDF app or a U-Boot FIT",
		Long: "pack builds an image of the payload (the content of --payload FILE, or with --size N, N\n" +
			"filler bytes in which byte i is i mod 251) in --format (default byfw) and signs it with KEY.\n" +
			"BYFW needs an Ed25519 KEY and --board. MCUboot writes what imgtool sign writes (Ed25519,\n" +
			"ECDSA P-256, RSA-2048/3072; unsigned without --key), padded with --pad, --test or --confirm.\n" +
			"esp-app wraps the payload as an ESP-IDF app with its description, signed for secure boot v2\n" +
			"with an RSA-3072 or ECDSA P-256 KEY. fit writes a FIT with the payload as its kernel, signing\n" +
			"the configuration with an RSA or ECDSA KEY. --board fills in what the profile knows (the\n" +
			"slot size, the chip). Packing the same inputs gives the same bytes. docs/image-format.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPack(cmd, &pf)
		},
	}
	f := cmd.Flags()
	f.StringVar(&pf.format, "format", "byfw", "image `FORMAT`: byfw, mcuboot, esp-app or fit")
	f.StringVar(&pf.keyFile, "key", "", "sign with the private key in `FILE` (PEM: PKCS#8, PKCS#1 or SEC 1)")
	f.StringVar(&pf.board, "board", "", "board profile `NAME` the image is for (BYFW: its board id; others: the profile's slot size and chip)")
	f.StringVar(&pf.boardsFile, "boards", "", "also read board profiles from `FILE`")
	f.Var(&pf.ver, "version", "image `VERSION`: MAJOR.MINOR.PATCH or MAJOR.MINOR.PATCH+BUILD")
	f.Uint32Var(&pf.counter, "security-counter", 0, "security counter `N` (BYFW; MCUboot's SEC_CNT TLV when given; an ESP app's secure_version)")
	f.BoolVar(&pf.healthFail, "health-fail", false, "mark the image so that a board that trial-boots it rolls back")
	f.StringVar(&pf.payloadFile, "payload", "", "the payload is the content of `FILE` (at most 1GiB)")
	f.Var(&pf.size, "size", "the payload is `N` filler bytes, byte i being i mod 251 (65536, 64KiB, 1MiB; at most 1GiB)")
	f.StringVar(&pf.out, "out", "", "write the image to `FILE`, replacing it")
	f.IntVar(&pf.headerSize, "header-size", 0x200, "MCUboot: ih_hdr_size `BYTES` (imgtool -H)")
	f.BoolVar(&pf.padHeader, "pad-header", true, "MCUboot: prepend the header's room to the payload (imgtool --pad-header; false: the payload starts with that many zeros)")
	f.IntVar(&pf.slotSize, "slot-size", 0, "MCUboot: the slot `BYTES` the image is for (imgtool -S; default: --board's slot size)")
	f.BoolVar(&pf.pad, "pad", false, "MCUboot: pad to the slot with the trailer magic: a pending test swap (imgtool --pad)")
	f.BoolVar(&pf.test, "test", false, "MCUboot: as --pad (imgtool --test)")
	f.BoolVar(&pf.confirm, "confirm", false, "MCUboot: as --pad with image_ok set: a permanent swap (imgtool --confirm)")
	f.IntVar(&pf.align, "align", 0, "MCUboot: flash write alignment `N` for the trailer (imgtool --align; default 1)")
	f.IntVar(&pf.maxSectors, "max-sectors", 0, "MCUboot: BOOT_MAX_IMG_SECTORS `N` for the trailer (imgtool -M; default 128)")
	f.BoolVar(&pf.fullKey, "public-key-full", false, "MCUboot: write the whole public key (PUBKEY) instead of its hash (imgtool --public-key-format full)")
	f.StringVar(&pf.chip, "chip", "", "esp-app: the `CHIP` (esp32, esp32s3, esp32c6, …; default: --board's, else esp32)")
	f.StringVar(&pf.project, "project", "", "esp-app: the app description's project `NAME` (default brickyard)")
	f.StringVar(&pf.description, "description", "", "fit: the FIT's description (default: brickyard FIT VERSION)")
	f.StringVar(&pf.arch, "arch", "arm", "fit: the kernel's `ARCH`")
	f.StringVar(&pf.osName, "os", "linux", "fit: the kernel's `OS`")
	f.StringVar(&pf.imgType, "type", "kernel", "fit: the payload image's `TYPE` (kernel or firmware)")
	f.Uint32Var(&pf.load, "load", 0, "fit: the kernel's load `ADDRESS`")
	f.Uint32Var(&pf.entry, "entry", 0, "fit: the kernel's entry `ADDRESS`")
	f.StringArrayVar(&pf.fdts, "fdt", nil, "fit: add the device tree blob `FILE` to the configuration (repeatable)")
	f.StringVar(&pf.signAlgo, "sign-algo", "", "fit: the signature's `ALGO` (default sha256,rsaN or sha256,ecdsa256 after the key)")
	f.StringVar(&pf.keyHint, "key-name-hint", "dev", "fit: the signature's key-name-hint `NAME` (U-Boot's key-NAME)")
	f.Uint32Var(&pf.timestamp, "timestamp", 0, "fit: the FIT's timestamp, `SECONDS` since 1970 (default $SOURCE_DATE_EPOCH, else 0)")
	for _, name := range []string{"version", "out"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runPack(cmd *cobra.Command, pf *packFlags) error {
	format, err := image.ParseFormat(pf.format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	changed := cmd.Flags().Changed
	fromFile := changed("payload")
	if fromFile == changed("size") {
		return errors.New("--payload, --size: give exactly one: the payload's FILE or its size N")
	}
	var signer crypto.Signer
	if changed("key") {
		if signer, err = readKeyFile("--key", pf.keyFile, image.ParseSignerPEM); err != nil {
			return err
		}
	} else if format == image.FormatBYFW {
		return errors.New(`required flag(s) "key" not set`)
	}
	var prof *profile.Profile
	if pf.board != "" && format != image.FormatBYFW {
		set, err := loadProfiles(pf.boardsFile)
		if err != nil {
			return err
		}
		p, err := set.Get(pf.board)
		if err != nil {
			return fmt.Errorf("--board: %w", err)
		}
		prof = &p
	}
	b, err := packBuilder(format, pf, signer, prof, changed)
	if err != nil {
		return err
	}
	// Check what can be checked before reading a payload of up to 1 GiB.
	if _, err := b(nil); err != nil {
		return err
	}
	var payload []byte
	if fromFile {
		if payload, err = readPayload(pf.payloadFile); err != nil {
			return err
		}
	} else {
		payload = filler(int(pf.size))
	}
	img, err := b(payload)
	if err != nil {
		return err
	}
	if err := os.WriteFile(pf.out, img, 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\n", pf.out, describePacked(img, signer))
	return err
}

// packBuilder returns the function that packs a payload in format.
func packBuilder(format image.Format, pf *packFlags, signer crypto.Signer, prof *profile.Profile, changed func(string) bool) (func([]byte) ([]byte, error), error) {
	switch format {
	case image.FormatBYFW:
		priv, ok := signer.(ed25519.PrivateKey)
		if !ok {
			alg, _ := image.KeyAlgorithm(signer.Public())
			return nil, fmt.Errorf("--key %s: a BYFW image is signed with an Ed25519 key, not %s", pf.keyFile, alg)
		}
		if !changed("board") {
			return nil, errors.New(`required flag(s) "board" not set`)
		}
		h := image.Header{BoardID: pf.board, Version: pf.ver.v, SecurityCounter: pf.counter}
		if pf.healthFail {
			h.Flags = image.FlagHealthFail
		}
		if _, err := image.Pack(priv, h, nil); err != nil {
			return nil, fmt.Errorf("--board: %w", err)
		}
		return func(p []byte) ([]byte, error) { return image.Pack(priv, h, p) }, nil
	case image.FormatMCUboot:
		return mcubootBuilder(pf, signer, prof, changed)
	case image.FormatESPApp:
		return espBuilder(pf, signer, prof, changed)
	case image.FormatFIT:
		if prof != nil && !prof.ImageRules().Accepts(image.FormatFIT) {
			return nil, fmt.Errorf("--board: %s's bootloader does not take FIT images", prof.Name)
		}
		return fitBuilder(pf, signer, changed)
	}
	return nil, fmt.Errorf("--format: %s", format)
}

// describePacked is the one-line summary of a packed image.
func describePacked(img []byte, signer crypto.Signer) string {
	rules := formats.Rules{Formats: image.Formats, FITSignature: formats.Unsigned}
	var keys image.Keyring
	if signer != nil {
		_ = keys.AddKey(signer.Public())
		rules = formats.Carried(bytesReaderAt(img), int64(len(img)))
	}
	info, err := formats.VerifyBytes(img, &keys, rules, image.Policy{})
	if err != nil { // cannot happen for what pack wrote; say so rather than hide it
		return fmt.Sprintf("%d bytes (does not verify: %v)", len(img), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", info.Format)
	if info.BoardID != "" {
		fmt.Fprintf(&b, ", board %s", info.BoardID)
	}
	fmt.Fprintf(&b, ", version %s", info.VersionString())
	if info.SecurityCounter != 0 {
		fmt.Fprintf(&b, ", security counter %d", info.SecurityCounter)
	}
	if info.HealthFail() {
		b.WriteString(", health-fail")
	}
	fmt.Fprintf(&b, ", %d bytes in all", len(img))
	if info.Format == image.FormatBYFW {
		h, _ := image.ParseHeader(img)
		fmt.Fprintf(&b, ", payload %d bytes, key id %x", h.PayloadSize, h.KeyID)
	} else if info.Signer != "" {
		fmt.Fprintf(&b, ", signed by %s", info.Signer)
	} else {
		b.WriteString(", unsigned")
	}
	return b.String()
}

// filler returns the n-byte payload of --size: byte i is i mod 251. The
// prime period keeps the pattern out of step with flash pages and sectors,
// so a block written to the wrong place shows, and no byte is 0xFF, the
// value of erased flash.
func filler(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// readPayload reads the --payload file, refusing one over the size limit
// before reading it when its size is known.
func readPayload(path string) ([]byte, error) {
	return readFlagFile("--payload", path, image.MaxPayloadSize, "(1GiB), the largest payload")
}

// readFlagFile reads the file a flag names, refusing one of more than
// maxSize bytes (why says what the bound is) before reading it when its
// size is known.
func readFlagFile(flag, path string, maxSize int64, why string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	tooBig := fmt.Errorf("%s %s: more than %d bytes %s", flag, path, maxSize, why)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxSize {
		return nil, tooBig
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if int64(len(data)) > maxSize {
		return nil, tooBig
	}
	return data, nil
}
