package mcuboot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"brickyard/boards/image"
)

// Rules are the parts of a bootloader's build that decide which images it
// accepts. The zero value is MCUboot built with MCUBOOT_SIGN_ED25519 and
// SHA-256, key hashes (not MCUBOOT_HW_KEY), no hardware rollback
// protection.
type Rules struct {
	// Signature is the signature type the bootloader verifies (one of
	// SignatureTypes); "" means SigEd25519. With SigNone only the hash
	// TLV is checked, and any image that hashes right boots.
	Signature string
	// HWRollback is MCUBOOT_HW_ROLLBACK_PROT: an image must carry a
	// SEC_CNT TLV of at least the board's counter (the policy's minimum),
	// and the counter is raised to the protected SEC_CNT once the image is
	// confirmed.
	HWRollback bool
	// MaxImageSize is bootutil_max_image_size, the slot less its trailer:
	// an image whose TLVs end past it is refused. 0: no bound but the
	// bytes available.
	MaxImageSize int64
}

// Check reports the first thing wrong with r.
func (r Rules) Check() error {
	switch r.sig() {
	case SigEd25519, SigEC256, SigRSA2048, SigRSA3072, SigNone:
	default:
		return fmt.Errorf("mcuboot: signature %q: want one of %s", r.Signature, strings.Join(SignatureTypes, ", "))
	}
	if r.MaxImageSize < 0 {
		return fmt.Errorf("mcuboot: max image size %d is negative", r.MaxImageSize)
	}
	return nil
}

func (r Rules) sig() string {
	if r.Signature == "" {
		return SigEd25519
	}
	return r.Signature
}

// Verify checks the MCUboot image at the start of r, where size bytes
// are readable (a slot), as bootutil_img_validate and the header checks
// before it do, and returns what the board needs of it. See the package
// documentation for the order of the checks. p.MinSecurityCounter applies
// when rules.HWRollback is set; p.Board is not used (MCUboot images name
// no board).
func Verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, error) {
	return verify(r, size, keys, rules, p, nil)
}

// Describe is Verify that also explains: the report lists the header's
// fields, every TLV, a padded image's trailer, and each check with its
// result. The report is filled as far as the image parses.
func Describe(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, *image.Report, error) {
	rep := &image.Report{Format: image.FormatMCUboot}
	info, err := verify(r, size, keys, rules, p, rep)
	return info, rep, err
}

func verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy, rep *image.Report) (image.Info, error) {
	if err := rules.Check(); err != nil {
		return image.Info{}, err
	}
	size = max(size, 0)
	var hb [HeaderSize]byte
	if err := image.ReadFull(r, hb[:min(size, HeaderSize)], 0, size); err != nil {
		return image.Info{}, rep.Check("header", err, "")
	}
	h, err := ParseHeader(hb[:min(size, HeaderSize)])
	if err != nil {
		return image.Info{}, rep.Check("header", err, "")
	}
	describeHeader(rep, h)
	if err := rep.Check("header", checkHeader(h, size), "magic, sizes, flags"); err != nil {
		return image.Info{}, err
	}
	a, err := ReadArea(r, size, h)
	if err != nil {
		return image.Info{}, rep.Check("TLV area", err, "")
	}
	describeArea(rep, a)
	if rules.MaxImageSize > 0 && a.End > rules.MaxImageSize {
		return image.Info{}, rep.Check("TLV area", fmt.Errorf("%w: the TLVs end at %d, past the %d bytes the slot leaves above its trailer",
			ErrHeader, a.End, rules.MaxImageSize), "")
	}
	rep.Check("TLV area", nil, fmt.Sprintf("%d TLVs, image ends at %d", len(a.TLVs), a.End))
	describeTrailer(r, size, a.End, rep)

	// The hash, streaming header, body and protected TLVs.
	d := sha256.New()
	if err := image.HashRange(d, r, 0, h.HashedSize(), size, make([]byte, image.ChunkSize)); err != nil {
		return image.Info{}, rep.Check("hash", err, "")
	}
	var sum [sha256.Size]byte
	d.Sum(sum[:0])

	info := image.Info{Format: image.FormatMCUboot, Version: h.Version, Size: int(a.End)}
	if t, ok := a.Find(TLVBrickyard, true); ok && len(t.Value) == 4 {
		info.SetHealthFail(binary.LittleEndian.Uint32(t.Value)&brickyardHealthFail != 0)
	}
	sig := rules.sig()
	sigType, sigLen, signed := sigTLV(sig)
	var (
		hashOK, counterOK     bool
		sigSeen, keySeen      bool
		validSig              bool
		key                   = -1
		signer                string
		counterErr, sigTLVErr error
	)
	for _, t := range a.TLVs {
		switch {
		case t.Type == TLVSHA256:
			if len(t.Value) != sha256.Size {
				return info, rep.Check("hash", fmt.Errorf("%w: SHA256 TLV of %d bytes", ErrTLV, len(t.Value)), "")
			}
			if !bytes.Equal(t.Value, sum[:]) {
				return info, rep.Check("hash", fmt.Errorf("%w: TLV has %x, the image hashes to %x", ErrHash, t.Value, sum), "")
			}
			hashOK = true
		case signed && t.Type == TLVKeyHash:
			if len(t.Value) > sha256.Size {
				return info, rep.Check("key", fmt.Errorf("%w: KEYHASH TLV of %d bytes", ErrTLV, len(t.Value)), "")
			}
			key = findKey(keys, sig, t.Value)
			keySeen = keySeen || key >= 0
		case signed && t.Type == sigType:
			sigSeen = true
			if key < 0 {
				continue // a signature whose key is unknown is ignored
			}
			if (sigLen != 0 && len(t.Value) != sigLen) || len(t.Value) > max(sigLen, sigBufSize) {
				sigTLVErr = fmt.Errorf("%w: %s TLV of %d bytes", ErrTLV, TLVName(t.Type), len(t.Value))
				return info, rep.Check("signature", sigTLVErr, "")
			}
			k := keys.Keys()[key]
			validSig = keys.CheckSignature(k.SPKI, sum[:], t.Value, func() bool { return verifySig(sig, k.Public, sum[:], t.Value) })
			if validSig {
				signer = k.Name
			}
			key = -1
		case rules.HWRollback && t.Type == TLVSecCnt:
			if len(t.Value) != 4 {
				counterErr = fmt.Errorf("%w: SEC_CNT TLV of %d bytes", ErrSecurityCounter, len(t.Value))
				return info, rep.Check("security counter", counterErr, "")
			}
			if c := binary.LittleEndian.Uint32(t.Value); c < p.MinSecurityCounter {
				return info, rep.Check("security counter", fmt.Errorf("%w: image has %d, the board's counter is %d",
					ErrSecurityCounter, c, p.MinSecurityCounter), "")
			}
			counterOK = true
		}
	}
	if !hashOK {
		return info, rep.Check("hash", fmt.Errorf("%w: no SHA256 TLV (the bootloader is built for SHA-256)", ErrTLV), "")
	}
	rep.Check("hash", nil, "SHA-256 "+hex.EncodeToString(sum[:]))
	if !signed {
		rep.Skip("signature", "the bootloader verifies no signature (signature: none)")
	} else {
		var err error
		switch {
		case validSig:
		case !sigSeen:
			err = fmt.Errorf("%w: want %s (%s)", ErrNotSigned, TLVName(sigType), sig)
		case !keySeen:
			err = fmt.Errorf("%w: no KEYHASH names one of the board's %s keys", ErrUnknownKey, sig)
		default:
			err = fmt.Errorf("%w: %s does not verify with the key its KEYHASH names", ErrSignature, TLVName(sigType))
		}
		if err := rep.Check("signature", err, sig+" by "+signer); err != nil {
			return info, err
		}
		info.Signer = signer
	}
	if rules.HWRollback {
		if !counterOK {
			return info, rep.Check("security counter", fmt.Errorf("%w: no SEC_CNT TLV, which MCUBOOT_HW_ROLLBACK_PROT requires (imgtool -s)", ErrSecurityCounter), "")
		}
		if t, ok := a.Find(TLVSecCnt, true); ok && len(t.Value) == 4 {
			info.SecurityCounter = binary.LittleEndian.Uint32(t.Value)
		}
		rep.Check("security counter", nil, fmt.Sprintf("%d, board requires at least %d", info.SecurityCounter, p.MinSecurityCounter))
	} else {
		rep.Skip("security counter", "hardware rollback protection is off")
	}
	return info, nil
}

// checkHeader applies boot_validate_slot's header rules.
func checkHeader(h Header, size int64) error {
	switch {
	case h.Flags&FlagNonBootable != 0:
		return fmt.Errorf("%w (flags %#x)", ErrNotBootable, h.Flags)
	case h.Flags&unsupportedFlags != 0:
		return fmt.Errorf("%w: flags %#x ask for decryption or decompression, which the model does not have", ErrUnsupported, h.Flags&unsupportedFlags)
	case h.HashedSize() >= size:
		return fmt.Errorf("%w: header %d + image %d + protected TLVs %d reach past the %d-byte slot",
			ErrHeader, h.HeaderSize, h.ImageSize, h.ProtectTLVSize, size)
	}
	return nil
}

var flagNames = []struct {
	f    uint32
	name string
}{{FlagPIC, "PIC"}, {FlagEncryptedAES128, "ENCRYPTED_AES128"}, {FlagEncryptedAES256, "ENCRYPTED_AES256"},
	{FlagNonBootable, "NON_BOOTABLE"}, {FlagRAMLoad, "RAM_LOAD"}, {FlagROMFixed, "ROM_FIXED"},
	{FlagCompressedLZMA1, "COMPRESSED_LZMA1"}, {FlagCompressedLZMA2, "COMPRESSED_LZMA2"}, {FlagCompressedARMThumb, "COMPRESSED_ARM_THUMB"}}

// FlagString names the flags that are set ("RAM_LOAD|ROM_FIXED").
func FlagString(f uint32) string {
	var names []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			names = append(names, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		names = append(names, fmt.Sprintf("%#x", f))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

func describeHeader(rep *image.Report, h Header) {
	if rep == nil {
		return
	}
	rep.Field("magic", "%#08x", Magic)
	rep.Field("load address", "%#08x", h.LoadAddr)
	rep.Field("header size", "%d bytes", h.HeaderSize)
	rep.Field("image size", "%d bytes", h.ImageSize)
	rep.Field("protected TLV size", "%d bytes", h.ProtectTLVSize)
	rep.Field("flags", "%#x (%s)", h.Flags, FlagString(h.Flags))
	rep.Field("version", "%d.%d.%d+%d", h.Version.Major, h.Version.Minor, h.Version.Patch, h.Version.Build)
}

func describeArea(rep *image.Report, a Area) {
	if rep == nil {
		return
	}
	for _, t := range a.TLVs {
		where := "unprotected"
		if t.Protected {
			where = "protected"
		}
		v := hex.EncodeToString(t.Value)
		switch {
		case t.Type == TLVSecCnt && len(t.Value) == 4:
			v = fmt.Sprintf("%d", binary.LittleEndian.Uint32(t.Value))
		case t.Type == TLVDependency && len(t.Value) == 12:
			d := t.Value
			v = fmt.Sprintf("image %d at least %d.%d.%d+%d", d[0], d[4], d[5], binary.LittleEndian.Uint16(d[6:]), binary.LittleEndian.Uint32(d[8:]))
		case len(v) > 64:
			v = v[:64] + "…"
		}
		rep.Field(fmt.Sprintf("tlv %#04x %s", t.Type, TLVName(t.Type)), "%s, %d bytes: %s", where, len(t.Value), v)
	}
	rep.Field("image extent", "%d bytes (header, body, TLVs)", a.End)
}

// describeTrailer reports the MCUboot trailer of a padded image (imgtool
// --pad, --test, --confirm): the magic in the last 16 bytes of what was
// given, and image_ok 24 bytes from its end (BOOT_MAX_ALIGN 8).
func describeTrailer(r io.ReaderAt, size, end int64, rep *image.Report) {
	if rep == nil || size < end+2*TrailerMagicSize {
		return
	}
	var t [24]byte
	if image.ReadFull(r, t[:], size-24, size) != nil {
		return
	}
	if !bytes.Equal(t[8:], trailerMagic[:]) {
		return
	}
	ok := "erased: a test swap (--pad, --test)"
	if t[0] == 0x01 {
		ok = "set: a permanent swap (--confirm)"
	}
	rep.Field("trailer", "padded to %d bytes; magic at the end, image_ok %s", size, ok)
}
