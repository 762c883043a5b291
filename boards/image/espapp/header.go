package espapp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"brickyard/boards/image"
)

// Constants of the format (esp_app_format.h, esp_app_desc.h,
// esp_image_format.c).
const (
	Magic            = 0xE9       // ESP_IMAGE_HEADER_MAGIC
	HeaderSize       = 24         // esp_image_header_t
	SegmentHeadSize  = 8          // esp_image_segment_header_t: load_addr, data_len
	MaxSegments      = 16         // ESP_IMAGE_MAX_SEGMENTS
	ChecksumSeed     = 0xEF       // ESP_ROM_CHECKSUM_INITIAL
	HashSize         = 32         // the appended SHA-256
	MaxPartitionSize = 16 << 20   // SIXTEEN_MB: no app partition or segment is larger
	AppDescMagic     = 0xABCD5432 // ESP_APP_DESC_MAGIC_WORD
	AppDescSize      = 256        // esp_app_desc_t
	AppDescOffset    = HeaderSize + SegmentHeadSize
	MMUPageSize      = 64 << 10 // SPI_FLASH_MMU_PAGE_SIZE (the default)
	SectorSize       = 4 << 10  // flash sector: secure boot pads to it
	WPDisabled       = 0xEE     // wp_pin: disabled
	revisionUnset    = 0xFFFF   // max_chip_rev_full: no upper bound (as is 0)
)

// Chip is what the format and the bootloader know of an ESP chip.
type Chip struct {
	Name       string // "esp32"
	ID         uint16 // esp_chip_id_t, the header's chip_id
	IROM, DROM [2]uint32
	// Schemes are the secure boot v2 schemes the chip's ROM verifies.
	Schemes []string
	// MaxBlocks is how many signature blocks the bootloader checks
	// (ESP32 ECO3: one; the others: three).
	MaxBlocks int
}

// Chips are the chips brickyard knows: ids and flash-mapped address
// ranges as esptool's targets give them.
var Chips = []Chip{
	{"esp32", 0x0000, [2]uint32{0x400D0000, 0x40400000}, [2]uint32{0x3F400000, 0x3F800000}, []string{SchemeRSA}, 1},
	{"esp32s2", 0x0002, [2]uint32{0x40080000, 0x40B80000}, [2]uint32{0x3F000000, 0x3F3F0000}, []string{SchemeRSA}, 3},
	{"esp32c3", 0x0005, [2]uint32{0x42000000, 0x42800000}, [2]uint32{0x3C000000, 0x3C800000}, []string{SchemeRSA}, 3},
	{"esp32s3", 0x0009, [2]uint32{0x42000000, 0x44000000}, [2]uint32{0x3C000000, 0x3E000000}, []string{SchemeRSA}, 3},
	{"esp32c2", 0x000C, [2]uint32{0x42000000, 0x42400000}, [2]uint32{0x3C000000, 0x3C400000}, []string{SchemeECDSA}, 3},
	{"esp32c6", 0x000D, [2]uint32{0x42000000, 0x42800000}, [2]uint32{0x42800000, 0x43000000}, []string{SchemeRSA, SchemeECDSA}, 3},
}

// ChipByName returns the chip called name.
func ChipByName(name string) (Chip, error) {
	for _, c := range Chips {
		if c.Name == name {
			return c, nil
		}
	}
	names := make([]string, len(Chips))
	for i, c := range Chips {
		names[i] = c.Name
	}
	return Chip{}, fmt.Errorf("esp-app: chip %q: want one of %s", name, strings.Join(names, ", "))
}

// ChipByID returns the chip with id, or ok false.
func ChipByID(id uint16) (Chip, bool) {
	for _, c := range Chips {
		if c.ID == id {
			return c, true
		}
	}
	return Chip{}, false
}

// mapped is should_map: the address is in the chip's flash-mapped ranges.
func (c Chip) mapped(addr uint32) bool {
	return (addr >= c.IROM[0] && addr < c.IROM[1]) || (addr >= c.DROM[0] && addr < c.DROM[1])
}

// Header is esp_image_header_t.
type Header struct {
	SegmentCount   uint8
	SPIMode        uint8
	SPISpeedSize   uint8 // speed in the low nibble, size in the high one
	EntryAddr      uint32
	WPPin          uint8
	SPIPinDrv      [3]uint8
	ChipID         uint16
	MinChipRev     uint8  // legacy
	MinChipRevFull uint16 // major × 100 + minor
	MaxChipRevFull uint16
	Reserved       [4]uint8
	HashAppended   bool
}

// Encode returns the 24 header bytes.
func (h Header) Encode() []byte {
	b := make([]byte, HeaderSize)
	le := binary.LittleEndian
	b[0], b[1], b[2], b[3] = Magic, h.SegmentCount, h.SPIMode, h.SPISpeedSize
	le.PutUint32(b[4:], h.EntryAddr)
	b[8] = h.WPPin
	copy(b[9:12], h.SPIPinDrv[:])
	le.PutUint16(b[12:], h.ChipID)
	b[14] = h.MinChipRev
	le.PutUint16(b[15:], h.MinChipRevFull)
	le.PutUint16(b[17:], h.MaxChipRevFull)
	copy(b[19:23], h.Reserved[:])
	if h.HashAppended {
		b[23] = 1
	}
	return b
}

// ParseHeader decodes the 24-byte header at the start of b: the magic
// (ErrMagic), then the fields. The chip and segment checks are Verify's.
func ParseHeader(b []byte) (Header, error) {
	if len(b) == 0 || b[0] != Magic {
		var first byte
		if len(b) > 0 {
			first = b[0]
		}
		return Header{}, fmt.Errorf("%w: first byte %#02x, want %#02x", ErrMagic, first, Magic)
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, the header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	h := Header{SegmentCount: b[1], SPIMode: b[2], SPISpeedSize: b[3], EntryAddr: le.Uint32(b[4:]), WPPin: b[8],
		ChipID: le.Uint16(b[12:]), MinChipRev: b[14], MinChipRevFull: le.Uint16(b[15:]), MaxChipRevFull: le.Uint16(b[17:])}
	copy(h.SPIPinDrv[:], b[9:12])
	copy(h.Reserved[:], b[19:23])
	switch b[23] {
	case 0:
	case 1:
		h.HashAppended = true
	default:
		return h, fmt.Errorf("%w: hash_appended is %#02x, want 0 or 1", ErrHeader, b[23])
	}
	return h, nil
}

// AppDesc is esp_app_desc_t, the application description an ESP-IDF app
// carries at the start of its first segment.
type AppDesc struct {
	SecureVersion uint32
	Reserved1     [2]uint32 // reserv1; brickyard's marks live in [0] (see FlagHealthFail)
	Version       string    // up to 31 bytes
	ProjectName   string
	Time, Date    string
	IDFVersion    string
	ELFSHA256     [32]byte
}

// FlagHealthFail, in AppDesc.Reserved1[0], marks an app brickyard made
// whose simulated application fails its health check. ESP-IDF writes
// zero there and its bootloader ignores the field.
const FlagHealthFail = 1 << 0

// Encode returns the 256 description bytes. Strings longer than their
// fields (31 bytes, 15 for time and date) are an error.
func (d AppDesc) Encode() ([]byte, error) {
	b := make([]byte, AppDescSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], AppDescMagic)
	le.PutUint32(b[4:], d.SecureVersion)
	le.PutUint32(b[8:], d.Reserved1[0])
	le.PutUint32(b[12:], d.Reserved1[1])
	for _, f := range []struct {
		name string
		off  int
		n    int
		v    string
	}{{"version", 16, 32, d.Version}, {"project name", 48, 32, d.ProjectName}, {"time", 80, 16, d.Time},
		{"date", 96, 16, d.Date}, {"IDF version", 112, 32, d.IDFVersion}} {
		if len(f.v) >= f.n || strings.IndexByte(f.v, 0) >= 0 {
			return nil, fmt.Errorf("esp-app: app description %s %q: at most %d bytes, no NUL", f.name, f.v, f.n-1)
		}
		copy(b[f.off:f.off+f.n], f.v)
	}
	copy(b[144:176], d.ELFSHA256[:])
	return b, nil
}

// ParseAppDesc decodes a description from its 256 bytes; ok is false
// without the magic word.
func ParseAppDesc(b []byte) (d AppDesc, ok bool) {
	le := binary.LittleEndian
	if len(b) < AppDescSize || le.Uint32(b) != AppDescMagic {
		return AppDesc{}, false
	}
	str := func(f []byte) string {
		s, _, _ := bytes.Cut(f, []byte{0})
		return string(s)
	}
	d = AppDesc{SecureVersion: le.Uint32(b[4:]), Reserved1: [2]uint32{le.Uint32(b[8:]), le.Uint32(b[12:])},
		Version: str(b[16:48]), ProjectName: str(b[48:80]), Time: str(b[80:96]), Date: str(b[96:112]), IDFVersion: str(b[112:144])}
	copy(d.ELFSHA256[:], b[144:176])
	return d, true
}

// version is the numeric form of the description's version text.
func (d AppDesc) version() image.Version {
	v, _ := image.ParseVersionText(d.Version)
	return v
}
