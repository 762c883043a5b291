package mcuboot

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"brickyard/boards/image"
)

// Trailer constants imgtool pads with (BOOT_MAX_ALIGN 8).
const (
	TrailerMagicSize  = 16
	DefaultMaxSectors = 128 // imgtool -M
	DefaultMaxAlign   = 8   // BOOT_MAX_ALIGN
)

// trailerMagic is the trailer magic for a max alignment of 8.
var trailerMagic = [TrailerMagicSize]byte{0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80}

// trailerMagicOther is the magic's tail for a max alignment other than 8
// (its first two bytes are the alignment, little-endian).
var trailerMagicOther = [14]byte{0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a}

// Dependency is a DEPENDENCY TLV: the image needs image ImageID at
// MinVersion or later.
type Dependency struct {
	ImageID    uint8
	MinVersion image.Version
}

// PackOptions are imgtool sign's options that brickyard implements, with
// imgtool's meaning and defaults.
type PackOptions struct {
	Version    image.Version // -v
	HeaderSize int           // -H: ih_hdr_size, 32 (the default) to 65535
	// PadHeader (--pad-header) prepends HeaderSize erased bytes to the
	// payload; without it the payload's first HeaderSize bytes must be
	// zero (the linker left room) and the header is written over them.
	PadHeader       bool
	LoadAddr        uint32  // -L: a RAM-load address; sets IMAGE_F_RAM_LOAD
	SecurityCounter *uint32 // -s: a protected SEC_CNT TLV; nil writes none
	Dependencies    []Dependency
	NonBootable     bool // --non-bootable
	// PublicKeyFull (--public-key-format full) writes the whole public key
	// (PUBKEY) instead of its hash (KEYHASH).
	PublicKeyFull bool
	// HealthFail writes brickyard's protected TLV 0x00ba with the
	// health-fail bit (imgtool --custom-tlv 0xba 0x01000000).
	HealthFail bool

	SlotSize      int  // -S: the image must leave the trailer room in a slot of this size
	Pad           bool // --pad: pad to SlotSize with the erased value and end with the trailer magic
	Test          bool // --test: implies Pad; image_ok stays erased (a test swap)
	Confirm       bool // --confirm: implies Pad; image_ok = 1 (a permanent swap)
	Align         int  // --align: 1 (default), 2, 4, 8, 16 or 32
	MaxAlign      int  // --max-align: 8 (default, or Align if larger), 16 or 32
	MaxSectors    int  // -M: 128 by default
	OverwriteOnly bool // --overwrite-only: the smaller trailer; image_ok not written
	Erased        byte // -R: the erased value, 0xff (default) or 0
	ErasedSet     bool // Erased was given (0 is a value)
}

func (o *PackOptions) defaults() error {
	if o.HeaderSize == 0 {
		o.HeaderSize = HeaderSize
	}
	if o.Align == 0 {
		o.Align = 1
	}
	if o.MaxAlign == 0 {
		o.MaxAlign = max(DefaultMaxAlign, o.Align)
	}
	if o.MaxSectors == 0 {
		o.MaxSectors = DefaultMaxSectors
	}
	if !o.ErasedSet {
		o.Erased = 0xff
	}
	if o.Test || o.Confirm {
		o.Pad = true
	}
	switch {
	case o.HeaderSize < HeaderSize || o.HeaderSize > 0xffff:
		return fmt.Errorf("mcuboot: header size %d: want %d to 65535", o.HeaderSize, HeaderSize)
	case o.Align&(o.Align-1) != 0 || o.Align > 32:
		return fmt.Errorf("mcuboot: align %d: want 1, 2, 4, 8, 16 or 32", o.Align)
	case o.MaxAlign != 8 && o.MaxAlign != 16 && o.MaxAlign != 32:
		return fmt.Errorf("mcuboot: max align %d: want 8, 16 or 32", o.MaxAlign)
	case o.MaxSectors < 1:
		return fmt.Errorf("mcuboot: max sectors %d: want at least 1", o.MaxSectors)
	case o.SlotSize <= 0:
		return fmt.Errorf("mcuboot: slot size %d: imgtool requires -S, the slot the image is for", o.SlotSize)
	case o.Erased != 0xff && o.Erased != 0:
		return fmt.Errorf("mcuboot: erased value %#x: want 0xff or 0", o.Erased)
	}
	return nil
}

// TrailerSize is imgtool's _trailer_size for the options (unencrypted):
// for swap modes MaxSectors × 3 × Align + 4 × MaxAlign + the magic
// rounded up to MaxAlign; for overwrite-only 2 × MaxAlign + the magic.
func (o PackOptions) TrailerSize() int {
	_ = o.defaults() // fills in the defaults; their errors are Pack's to report
	magic := alignUp(TrailerMagicSize, o.MaxAlign)
	if o.OverwriteOnly {
		return 2*o.MaxAlign + magic
	}
	return o.MaxSectors*3*o.Align + 4*o.MaxAlign + magic
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// Pack builds an MCUboot image of payload as imgtool sign does with the
// options, signed with s (nil: unsigned, the SHA256 TLV alone), and
// returns all of its bytes. rand supplies RSA-PSS salts (nil: derived
// from the key and the hash; see sign). For an Ed25519 key, and for an
// unsigned image, the result is byte for byte imgtool's.
func Pack(s crypto.Signer, rand io.Reader, o PackOptions, payload []byte) ([]byte, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	hs := o.HeaderSize
	var img []byte
	if o.PadHeader {
		img = make([]byte, hs, hs+len(payload)+256)
		for i := range img {
			img[i] = o.Erased
		}
		img = append(img, payload...)
	} else {
		if len(payload) < hs {
			return nil, fmt.Errorf("mcuboot: payload of %d bytes is shorter than the %d-byte header: use PadHeader (--pad-header)", len(payload), hs)
		}
		for i, c := range payload[:hs] {
			if c != 0 {
				return nil, fmt.Errorf("mcuboot: payload byte %d is %#02x: without --pad-header its first %d bytes must be zero (room for the header)", i, c, hs)
			}
		}
		img = append(make([]byte, 0, len(payload)+256), payload...)
	}
	if int64(len(img)-hs) > 0xffffffff {
		return nil, fmt.Errorf("mcuboot: payload of %d bytes exceeds ih_img_size", len(img)-hs)
	}

	// Protected TLVs, in imgtool's order: SEC_CNT, DEPENDENCY…, custom.
	var prot []byte
	le := binary.LittleEndian
	if o.SecurityCounter != nil {
		prot = appendTLV(prot, TLVSecCnt, le.AppendUint32(nil, *o.SecurityCounter))
	}
	for _, d := range o.Dependencies {
		v := []byte{d.ImageID, 0, 0, 0, d.MinVersion.Major, d.MinVersion.Minor}
		v = le.AppendUint16(v, d.MinVersion.Patch)
		v = le.AppendUint32(v, d.MinVersion.Build)
		prot = appendTLV(prot, TLVDependency, v)
	}
	if o.HealthFail {
		prot = appendTLV(prot, TLVBrickyard, le.AppendUint32(nil, brickyardHealthFail))
	}
	protSize := 0
	if len(prot) > 0 {
		protSize = InfoSize + len(prot)
	}
	if protSize > 0xffff {
		return nil, fmt.Errorf("mcuboot: protected TLVs of %d bytes exceed 65535", protSize)
	}

	h := Header{LoadAddr: o.LoadAddr, HeaderSize: uint16(hs), ProtectTLVSize: uint16(protSize),
		ImageSize: uint32(len(img) - hs), Version: o.Version}
	if o.LoadAddr != 0 {
		h.Flags |= FlagRAMLoad
	}
	if o.NonBootable {
		h.Flags |= FlagNonBootable
	}
	copy(img, h.Encode())
	if protSize > 0 {
		img = appendInfo(img, ProtInfoMagic, protSize)
		img = append(img, prot...)
	}
	digest := sha256.Sum256(img)

	unprot := appendTLV(nil, TLVSHA256, digest[:])
	if s != nil {
		if o.PublicKeyFull {
			der, err := publicBytes(s.Public())
			if err != nil {
				return nil, err
			}
			unprot = appendTLV(unprot, TLVPubKey, der)
		} else {
			kh, err := KeyHash(s.Public())
			if err != nil {
				return nil, err
			}
			unprot = appendTLV(unprot, TLVKeyHash, kh[:])
		}
		t, sig, err := sign(s, rand, digest[:])
		if err != nil {
			return nil, fmt.Errorf("mcuboot: sign: %w", err)
		}
		unprot = appendTLV(unprot, t, sig)
	}
	if InfoSize+len(unprot) > 0xffff {
		return nil, fmt.Errorf("mcuboot: TLVs of %d bytes exceed 65535", InfoSize+len(unprot))
	}
	img = appendInfo(img, InfoMagic, InfoSize+len(unprot))
	img = append(img, unprot...)

	tsize := o.TrailerSize()
	if len(img)+tsize > o.SlotSize {
		return nil, fmt.Errorf("mcuboot: image of %d bytes + trailer of %d exceeds the %d-byte slot", len(img), tsize, o.SlotSize)
	}
	if o.Pad {
		img = o.pad(img, tsize)
	}
	return img, nil
}

// pad is imgtool's pad_to(SlotSize): erased bytes up to the slot's end,
// the magic in its last 16 bytes, and with Confirm (not overwrite-only)
// image_ok = 1 at MaxAlign + the aligned magic from the end.
func (o PackOptions) pad(img []byte, tsize int) []byte {
	n := len(img)
	out := make([]byte, o.SlotSize)
	copy(out, img)
	for i := n; i < len(out); i++ {
		out[i] = o.Erased
	}
	m := out[len(out)-TrailerMagicSize:]
	if o.MaxAlign == DefaultMaxAlign {
		copy(m, trailerMagic[:])
	} else {
		binary.LittleEndian.PutUint16(m, uint16(o.MaxAlign))
		copy(m[2:], trailerMagicOther[:])
	}
	if o.Confirm && !o.OverwriteOnly {
		out[len(out)-(alignUp(TrailerMagicSize, o.MaxAlign)+o.MaxAlign)] = 0x01
	}
	return out
}

func appendTLV(b []byte, t uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, t)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func appendInfo(b []byte, magic uint16, tot int) []byte {
	b = binary.LittleEndian.AppendUint16(b, magic)
	return binary.LittleEndian.AppendUint16(b, uint16(tot))
}

// publicBytes is the key as imgtool's get_public_bytes encodes it.
func publicBytes(pub crypto.PublicKey) ([]byte, error) {
	var r image.Keyring
	if err := r.AddKey(pub); err != nil {
		return nil, err
	}
	return keyBytes(r.Keys()[0]), nil
}
