package espapp

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// PackOptions describe an app image to build. The zero value (with a
// version) builds an ESP32 image with hash appended, unsigned.
type PackOptions struct {
	Chip string // "" means "esp32"
	// The application description (esp_app_desc_t).
	Version       string // at most 31 bytes, e.g. "2.5.0"
	ProjectName   string // "" means "brickyard"
	SecureVersion uint32
	Time, Date    string // compile time and date as __TIME__ and __DATE__ write them; "" leaves them empty
	IDFVersion    string // "" means "brickyard"
	ELFSHA256     [32]byte
	HealthFail    bool // brickyard's mark in reserv1 (FlagHealthFail)

	EntryAddr      uint32 // the entry point; 0 means the start of the chip's IROM map
	SPIMode        uint8  // 0 QIO … 3 DOUT; default 2 (DIO)
	SPISpeedSize   uint8  // speed nibble | size nibble << 4; default 0x20 (40 MHz, 4 MB)
	MinChipRevFull uint16
	MaxChipRevFull uint16
	NoHash         bool // hash_appended = 0 (esptool elf2image --dont-append-digest)
}

// Pack builds an app image whose one flash-mapped data segment (at the
// chip's DROM map + 0x20, as esptool places the first) holds the
// application description and then payload, padded to 4 bytes; then the
// checksum, and the SHA-256 unless NoHash.
//
// With signers (at most 3, all of one scheme) the image is first padded
// as esptool elf2image --secure-pad-v2 pads it (a zero-filled segment
// loaded nowhere, so that the image with its hash ends on a 64 KiB
// boundary), then signed as espsecure sign_data --version 2 signs it: a
// 4 KiB signature sector of one block per key, the rest 0xff. rand is
// for RSA-PSS salts (nil: derived from the key and digest); ECDSA
// signatures are deterministic (RFC 6979).
func Pack(o PackOptions, payload []byte, rand io.Reader, signers ...crypto.Signer) ([]byte, error) {
	chipName := o.Chip
	if chipName == "" {
		chipName = "esp32"
	}
	chip, err := ChipByName(chipName)
	if err != nil {
		return nil, err
	}
	if len(signers) > BlockCount {
		return nil, fmt.Errorf("esp-app: %d signing keys; a signature sector holds %d blocks", len(signers), BlockCount)
	}
	if len(signers) > 0 && o.NoHash {
		return nil, fmt.Errorf("esp-app: a signed image needs its SHA-256 appended (secure padding)")
	}
	d := AppDesc{SecureVersion: o.SecureVersion, Version: o.Version, ProjectName: o.ProjectName, Time: o.Time,
		Date: o.Date, IDFVersion: o.IDFVersion, ELFSHA256: o.ELFSHA256}
	if d.ProjectName == "" {
		d.ProjectName = "brickyard"
	}
	if d.IDFVersion == "" {
		d.IDFVersion = "brickyard"
	}
	if o.HealthFail {
		d.Reserved1[0] |= FlagHealthFail
	}
	desc, err := d.Encode()
	if err != nil {
		return nil, err
	}
	data := append(desc, payload...)
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	if len(data) >= MaxPartitionSize {
		return nil, fmt.Errorf("esp-app: a %d-byte segment; at most 16 MB", len(data))
	}
	h := Header{SegmentCount: 1, SPIMode: 2, SPISpeedSize: 0x20, EntryAddr: o.EntryAddr, WPPin: WPDisabled,
		ChipID: chip.ID, MinChipRevFull: o.MinChipRevFull, MaxChipRevFull: o.MaxChipRevFull, HashAppended: !o.NoHash}
	if o.SPIMode != 0 {
		h.SPIMode = o.SPIMode
	}
	if o.SPISpeedSize != 0 {
		h.SPISpeedSize = o.SPISpeedSize
	}
	if h.EntryAddr == 0 {
		h.EntryAddr = chip.IROM[0]
	}
	le := binary.LittleEndian
	img := make([]byte, HeaderSize, HeaderSize+SegmentHeadSize+len(data)+MMUPageSize)
	img = le.AppendUint32(img, chip.DROM[0]+AppDescOffset)
	img = le.AppendUint32(img, uint32(len(data)))
	img = append(img, data...)
	sum := byte(ChecksumSeed)
	for _, c := range data {
		sum ^= c
	}
	if len(signers) > 0 {
		// --secure-pad-v2: a padding segment so that image + hash ends on
		// an MMU page boundary.
		past := (len(img) + SegmentHeadSize) % MMUPageSize
		n := ((MMUPageSize-past-16-HashSize)%MMUPageSize + MMUPageSize) % MMUPageSize
		img = le.AppendUint32(img, 0)
		img = le.AppendUint32(img, uint32(n))
		img = append(img, make([]byte, n)...)
		h.SegmentCount++
	}
	for (len(img)+1)%16 != 0 {
		img = append(img, 0)
	}
	img = append(img, sum)
	copy(img, h.Encode())
	if h.HashAppended {
		digest := sha256.Sum256(img)
		img = append(img, digest[:]...)
	}
	if len(signers) == 0 {
		return img, nil
	}
	for len(img)%SectorSize != 0 {
		img = append(img, 0xff) // espsecure pads to the sector with 0xff
	}
	digest := sha256.Sum256(img)
	sector := make([]byte, 0, SectorSize)
	var scheme string
	for _, s := range signers {
		blk, err := signBlock(s, rand, digest[:])
		if err != nil {
			return nil, err
		}
		if b := parseBlock(0, blk); scheme == "" {
			scheme = b.Scheme()
		} else if b.Scheme() != scheme {
			return nil, fmt.Errorf("esp-app: keys of two schemes (%s, %s); the bootloader verifies one", scheme, b.Scheme())
		}
		sector = append(sector, blk...)
	}
	for len(sector) < SectorSize {
		sector = append(sector, 0xff)
	}
	return append(img, sector...), nil
}
