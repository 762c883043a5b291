package mcuboot

import (
	"encoding/binary"
	"fmt"

	"brickyard/boards/image"
)

// Constants of the format (MCUboot's bootutil/image.h; imgtool's image.py).
const (
	Magic      uint32 = 0x96f3b83d // IMAGE_MAGIC
	MagicV1    uint32 = 0x96f3b83c // IMAGE_MAGIC_V1: an old image; not bootable
	HeaderSize        = 32         // IMAGE_HEADER_SIZE: the fixed header

	InfoMagic     uint16 = 0x6907 // IMAGE_TLV_INFO_MAGIC: the unprotected TLV area
	ProtInfoMagic uint16 = 0x6908 // IMAGE_TLV_PROT_INFO_MAGIC: the protected TLV area
	InfoSize             = 4      // image_tlv_info: magic u16, total size u16
	TLVHeaderSize        = 4      // image_tlv: type u16, length u16
)

// Header flags (IMAGE_F_*).
const (
	FlagPIC                uint32 = 0x01
	FlagEncryptedAES128    uint32 = 0x04
	FlagEncryptedAES256    uint32 = 0x08
	FlagNonBootable        uint32 = 0x10
	FlagRAMLoad            uint32 = 0x20
	FlagROMFixed           uint32 = 0x100
	FlagCompressedLZMA1    uint32 = 0x200
	FlagCompressedLZMA2    uint32 = 0x400
	FlagCompressedARMThumb uint32 = 0x800

	// unsupportedFlags need MCUboot features the model does not have.
	unsupportedFlags = FlagEncryptedAES128 | FlagEncryptedAES256 | FlagCompressedLZMA1 | FlagCompressedLZMA2 | FlagCompressedARMThumb
)

// TLV types (IMAGE_TLV_*, imgtool's TLV_VALUES).
const (
	TLVKeyHash     uint16 = 0x01
	TLVPubKey      uint16 = 0x02
	TLVSHA256      uint16 = 0x10
	TLVSHA384      uint16 = 0x11
	TLVSHA512      uint16 = 0x12
	TLVRSA2048     uint16 = 0x20 // RSA-2048 PSS
	TLVECDSA224    uint16 = 0x21 // no longer supported
	TLVECDSA       uint16 = 0x22 // ECDSA (P-256 with SHA-256), DER
	TLVRSA3072     uint16 = 0x23 // RSA-3072 PSS
	TLVEd25519     uint16 = 0x24
	TLVSigPure     uint16 = 0x25
	TLVEncRSA2048  uint16 = 0x30
	TLVEncKW       uint16 = 0x31
	TLVEncEC256    uint16 = 0x32
	TLVEncX25519   uint16 = 0x33
	TLVEncX25519S5 uint16 = 0x34
	TLVDependency  uint16 = 0x40
	TLVSecCnt      uint16 = 0x50
	TLVBootRecord  uint16 = 0x60
	TLVDecompSize  uint16 = 0x70
	TLVDecompSHA   uint16 = 0x71
	TLVDecompSig   uint16 = 0x72
	TLVCompDecSize uint16 = 0x73
	TLVUUIDVID     uint16 = 0x74
	TLVUUIDCID     uint16 = 0x75

	// TLVBrickyard is brickyard's own protected TLV, in the vendor range
	// (0x00a0-0x00ff) MCUboot leaves to users and ignores: 4 bytes of
	// flags, bit 0 the health-fail mark (imgtool --custom-tlv 0xba
	// 0x01000000 writes the same).
	TLVBrickyard uint16 = 0x00ba

	brickyardHealthFail = 1 << 0
)

var tlvNames = map[uint16]string{
	TLVKeyHash: "KEYHASH", TLVPubKey: "PUBKEY", TLVSHA256: "SHA256", TLVSHA384: "SHA384", TLVSHA512: "SHA512",
	TLVRSA2048: "RSA2048_PSS", TLVECDSA224: "ECDSA224", TLVECDSA: "ECDSA_SIG", TLVRSA3072: "RSA3072_PSS",
	TLVEd25519: "ED25519", TLVSigPure: "SIG_PURE", TLVEncRSA2048: "ENC_RSA2048", TLVEncKW: "ENC_KW",
	TLVEncEC256: "ENC_EC256", TLVEncX25519: "ENC_X25519", TLVEncX25519S5: "ENC_X25519_SHA512",
	TLVDependency: "DEPENDENCY", TLVSecCnt: "SEC_CNT", TLVBootRecord: "BOOT_RECORD", TLVDecompSize: "DECOMP_SIZE",
	TLVDecompSHA: "DECOMP_SHA", TLVDecompSig: "DECOMP_SIGNATURE", TLVCompDecSize: "COMP_DEC_SIZE",
	TLVUUIDVID: "UUID_VID", TLVUUIDCID: "UUID_CID", TLVBrickyard: "brickyard flags (vendor)",
}

// TLVName is MCUboot's name of a TLV type, "vendor 0x00a5" in the vendor
// range, "unknown 0x0099" otherwise.
func TLVName(t uint16) string {
	if n, ok := tlvNames[t]; ok {
		return n
	}
	if t&0xff >= 0xa0 {
		return fmt.Sprintf("vendor %#04x", t)
	}
	return fmt.Sprintf("unknown %#04x", t)
}

// Header is the decoded 32-byte image header (struct image_header,
// little-endian).
type Header struct {
	LoadAddr       uint32        // ih_load_addr
	HeaderSize     uint16        // ih_hdr_size: where the body starts (imgtool -H)
	ProtectTLVSize uint16        // ih_protect_tlv_size: the protected TLV area with its info header; 0 if none
	ImageSize      uint32        // ih_img_size: the body
	Flags          uint32        // ih_flags
	Version        image.Version // ih_ver: major u8, minor u8, revision u16, build u32
	Pad1           uint32        // _pad1
}

// TLVOffset is where the TLV areas start: header size + image size.
func (h Header) TLVOffset() int64 { return int64(h.HeaderSize) + int64(h.ImageSize) }

// HashedSize is how much the image hash covers: header, body and the
// protected TLV area.
func (h Header) HashedSize() int64 { return h.TLVOffset() + int64(h.ProtectTLVSize) }

// Encode returns the 32 header bytes.
func (h Header) Encode() []byte {
	b := make([]byte, HeaderSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	le.PutUint32(b[4:], h.LoadAddr)
	le.PutUint16(b[8:], h.HeaderSize)
	le.PutUint16(b[10:], h.ProtectTLVSize)
	le.PutUint32(b[12:], h.ImageSize)
	le.PutUint32(b[16:], h.Flags)
	b[20], b[21] = h.Version.Major, h.Version.Minor
	le.PutUint16(b[22:], h.Version.Patch)
	le.PutUint32(b[24:], h.Version.Build)
	le.PutUint32(b[28:], h.Pad1)
	return b
}

// ParseHeader decodes the header at the start of b and applies the rules
// MCUboot applies before it hashes (boot_check_header_valid): the magic
// (ErrMagic; an erased or V1 magic included), a header size of at least
// 32 (ErrHeader), and header + body + protected TLVs within a uint32
// (ErrHeader). It does not look at the TLVs.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 4 {
		return Header{}, fmt.Errorf("%w: %d bytes, the magic needs 4", ErrTruncated, len(b))
	}
	le := binary.LittleEndian
	switch m := le.Uint32(b); m {
	case Magic:
	case MagicV1:
		return Header{}, fmt.Errorf("%w: IMAGE_MAGIC_V1 %#08x, an image too old for this bootloader", ErrMagic, m)
	case 0xffffffff, 0:
		return Header{}, fmt.Errorf("%w: %#08x (erased)", ErrMagic, m)
	default:
		return Header{}, fmt.Errorf("%w: %#08x, want %#08x", ErrMagic, m, Magic)
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	h := Header{
		LoadAddr:       le.Uint32(b[4:]),
		HeaderSize:     le.Uint16(b[8:]),
		ProtectTLVSize: le.Uint16(b[10:]),
		ImageSize:      le.Uint32(b[12:]),
		Flags:          le.Uint32(b[16:]),
		Version:        image.Version{Major: b[20], Minor: b[21], Patch: le.Uint16(b[22:]), Build: le.Uint32(b[24:])},
		Pad1:           le.Uint32(b[28:]),
	}
	switch {
	case h.HeaderSize < HeaderSize:
		return h, fmt.Errorf("%w: ih_hdr_size %d is less than the %d-byte header", ErrHeader, h.HeaderSize, HeaderSize)
	case h.HashedSize() > 0xffffffff:
		return h, fmt.Errorf("%w: header %d + image %d + protected TLVs %d overflow 32 bits", ErrHeader, h.HeaderSize, h.ImageSize, h.ProtectTLVSize)
	case h.ProtectTLVSize != 0 && h.ProtectTLVSize < InfoSize:
		return h, fmt.Errorf("%w: ih_protect_tlv_size %d is less than its %d-byte info header", ErrHeader, h.ProtectTLVSize, InfoSize)
	}
	return h, nil
}
