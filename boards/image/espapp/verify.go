package espapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	"brickyard/boards/image"
)

// Rules are the parts of a chip and bootloader configuration that decide
// which app images boot. The zero value is an ESP32 at revision 3.0
// without secure boot or anti-rollback.
type Rules struct {
	Chip         string // the chip (ChipByName); "" means "esp32"
	ChipRevision uint16 // major × 100 + minor; 0 means 300 (v3.0)
	// SecureBoot is the secure boot v2 scheme the bootloader verifies
	// apps with (CONFIG_SECURE_BOOT_V2_ENABLED): SchemeRSA or SchemeECDSA,
	// one the chip supports; "" means secure boot is off.
	SecureBoot string
	// AntiRollback is CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK: an app whose
	// secure_version is below the chip's eFuse counter (the policy's
	// minimum) is not booted, and confirming an app raises the counter.
	AntiRollback bool
}

func (r Rules) chip() (Chip, error) {
	if r.Chip == "" {
		return ChipByName("esp32")
	}
	return ChipByName(r.Chip)
}

func (r Rules) revision() uint16 {
	if r.ChipRevision == 0 {
		return 300
	}
	return r.ChipRevision
}

// Check reports the first thing wrong with r.
func (r Rules) Check() error {
	c, err := r.chip()
	if err != nil {
		return err
	}
	if r.SecureBoot != "" {
		ok := false
		for _, s := range c.Schemes {
			ok = ok || s == r.SecureBoot
		}
		if !ok {
			return fmt.Errorf("esp-app: secure boot %q: %s verifies %v", r.SecureBoot, c.Name, c.Schemes)
		}
	}
	return nil
}

// Segment is one segment of an image.
type Segment struct {
	LoadAddr   uint32
	DataOffset int64 // where its data starts in the image
	Length     uint32
}

// Verify checks the app image at the start of r, where size bytes are
// readable (the app partition), as esp_image_verify and the bootloader's
// load do, and returns what the board needs of it. See the package
// documentation for the checks and their order. p.MinSecurityCounter
// applies with rules.AntiRollback; p.Board is not used (the chip is the
// rules').
func Verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, error) {
	return verify(r, size, keys, rules, p, nil)
}

// Describe is Verify that also explains: header fields, segments, the
// application description, signature blocks, and each check.
func Describe(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, *image.Report, error) {
	rep := &image.Report{Format: image.FormatESPApp}
	info, err := verify(r, size, keys, rules, p, rep)
	return info, rep, err
}

func verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy, rep *image.Report) (image.Info, error) {
	if err := rules.Check(); err != nil {
		return image.Info{}, err
	}
	chip, _ := rules.chip()
	size = max(size, 0)
	if size > MaxPartitionSize {
		return image.Info{}, rep.Check("header", fmt.Errorf("%w: a partition of %d bytes; the bootloader takes at most 16 MB", ErrHeader, size), "")
	}
	var hb [HeaderSize]byte
	if err := image.ReadFull(r, hb[:min(size, HeaderSize)], 0, size); err != nil {
		return image.Info{}, rep.Check("header", err, "")
	}
	h, err := ParseHeader(hb[:min(size, HeaderSize)])
	if err != nil {
		return image.Info{}, rep.Check("header", err, "")
	}
	describeHeader(rep, h)
	if err := rep.Check("chip", checkChip(h, chip, rules.revision()), fmt.Sprintf("%s, revision v%d.%d", chip.Name, rules.revision()/100, rules.revision()%100)); err != nil {
		return image.Info{}, err
	}
	if h.SegmentCount > MaxSegments {
		return image.Info{}, rep.Check("header", fmt.Errorf("%w: %d segments, at most %d", ErrHeader, h.SegmentCount, MaxSegments), "")
	}

	// Segments: headers, data (checksummed and hashed as they stream).
	d := sha256.New()
	d.Write(hb[:])
	sum := byte(ChecksumSeed)
	buf := make([]byte, image.ChunkSize)
	off := int64(HeaderSize)
	var first Segment
	for i := range int(h.SegmentCount) {
		var sh [SegmentHeadSize]byte
		if err := image.ReadFull(r, sh[:], off, size); err != nil {
			return image.Info{}, rep.Check("segments", fmt.Errorf("%w: segment %d header: %w", ErrTruncated, i, err), "")
		}
		d.Write(sh[:])
		s := Segment{LoadAddr: binary.LittleEndian.Uint32(sh[:]), DataOffset: off + SegmentHeadSize, Length: binary.LittleEndian.Uint32(sh[4:])}
		rep.Field(fmt.Sprintf("segment %d", i), "load %#08x, %d bytes at %#x%s", s.LoadAddr, s.Length, s.DataOffset, mapNote(chip, s.LoadAddr))
		if err := checkSegment(i, s, chip); err != nil {
			return image.Info{}, rep.Check("segments", err, "")
		}
		if s.DataOffset+int64(s.Length) > size {
			return image.Info{}, rep.Check("segments", fmt.Errorf("%w: segment %d ends at %d, the partition at %d", ErrTruncated, i, s.DataOffset+int64(s.Length), size), "")
		}
		for o, end := s.DataOffset, s.DataOffset+int64(s.Length); o < end; {
			c := buf[:min(end-o, int64(len(buf)))]
			if err := image.ReadFull(r, c, o, size); err != nil {
				return image.Info{}, rep.Check("segments", err, "")
			}
			d.Write(c)
			for _, x := range c {
				sum ^= x
			}
			o += int64(len(c))
		}
		if i == 0 {
			first = s
		}
		off = s.DataOffset + int64(s.Length)
	}
	rep.Check("segments", nil, fmt.Sprintf("%d segments, data ends at %d", h.SegmentCount, off))

	// The checksum: the last byte of the 16-byte block after the data.
	pad := (off+1+15)/16*16 - off
	cb := buf[:pad]
	if err := image.ReadFull(r, cb, off, size); err != nil {
		return image.Info{}, rep.Check("checksum", fmt.Errorf("%w: the checksum block: %w", ErrTruncated, err), "")
	}
	d.Write(cb)
	if got := cb[pad-1]; got != sum {
		return image.Info{}, rep.Check("checksum", fmt.Errorf("%w: image has %#02x, the segments' data give %#02x", ErrChecksum, got, sum), "")
	}
	rep.Check("checksum", nil, fmt.Sprintf("%#02x", sum))
	end := off + pad

	info := image.Info{Format: image.FormatESPApp, BoardID: chip.Name}
	var digest [sha256.Size]byte
	if h.HashAppended {
		var app [HashSize]byte
		if err := image.ReadFull(r, app[:], end, size); err != nil {
			return image.Info{}, rep.Check("hash", fmt.Errorf("%w: the appended SHA-256: %w", ErrTruncated, err), "")
		}
		d.Sum(digest[:0])
		rep.Field("appended SHA-256", "%x", app)
		if rules.SecureBoot == "" {
			if !bytes.Equal(app[:], digest[:]) {
				return image.Info{}, rep.Check("hash", fmt.Errorf("%w: appended %x, the image hashes to %x", ErrHash, app, digest), "")
			}
			rep.Check("hash", nil, "SHA-256 "+hex.EncodeToString(digest[:]))
		}
		d.Write(app[:])
		end += HashSize
	} else if rules.SecureBoot == "" {
		rep.Skip("hash", "hash_appended is 0: no SHA-256 to check")
	}

	// The application description, at the start of segment 0's data.
	desc, hasDesc := AppDesc{}, false
	if h.SegmentCount > 0 && first.Length >= AppDescSize {
		db := make([]byte, AppDescSize)
		if image.ReadFull(r, db, first.DataOffset, size) == nil {
			desc, hasDesc = ParseAppDesc(db)
		}
	}
	if hasDesc {
		describeAppDesc(rep, desc)
		info.VersionText, info.Version = desc.Version, desc.version()
		info.SetHealthFail(desc.Reserved1[0]&FlagHealthFail != 0)
	} else {
		rep.Field("app description", "none (no magic %#08x at offset %d)", uint32(AppDescMagic), AppDescOffset)
	}
	info.Size = int(end)

	if rules.SecureBoot != "" {
		n, signer, err := checkSignature(r, size, d, end, keys, rules.SecureBoot, chip, rep)
		if err := rep.Check("signature", err, rules.SecureBoot+" by "+signer); err != nil {
			return info, err
		}
		info.Size, info.Signer = int(n), signer
	} else {
		rep.Skip("signature", "secure boot is off")
		describeBlocks(r, size, end, rep)
	}

	if rules.AntiRollback {
		if !hasDesc {
			return info, rep.Check("secure version", fmt.Errorf("%w: anti-rollback reads secure_version from it", ErrAppDesc), "")
		}
		if desc.SecureVersion < p.MinSecurityCounter {
			return info, rep.Check("secure version", fmt.Errorf("%w: app has %d, the eFuse counter is %d", ErrSecureVersion, desc.SecureVersion, p.MinSecurityCounter), "")
		}
		info.SecurityCounter = desc.SecureVersion
		rep.Check("secure version", nil, fmt.Sprintf("%d, eFuse counter %d", desc.SecureVersion, p.MinSecurityCounter))
	} else {
		rep.Skip("secure version", "anti-rollback is off")
	}
	return info, nil
}

// checkChip is bootloader_common_check_chip_validity.
func checkChip(h Header, chip Chip, rev uint16) error {
	if h.ChipID != chip.ID {
		name := "unknown"
		if c, ok := ChipByID(h.ChipID); ok {
			name = c.Name
		}
		return fmt.Errorf("%w: image is for chip id %#04x (%s), this is %s (%#04x)", ErrChip, h.ChipID, name, chip.Name, chip.ID)
	}
	if rev < h.MinChipRevFull {
		return fmt.Errorf("%w: image needs chip revision v%d.%d or later, this is v%d.%d", ErrChip, h.MinChipRevFull/100, h.MinChipRevFull%100, rev/100, rev%100)
	}
	if h.MaxChipRevFull != 0 && h.MaxChipRevFull != revisionUnset && rev > h.MaxChipRevFull {
		return fmt.Errorf("%w: image supports chip revisions up to v%d.%d, this is v%d.%d", ErrChip, h.MaxChipRevFull/100, h.MaxChipRevFull%100, rev/100, rev%100)
	}
	return nil
}

// checkSegment is verify_segment_header.
func checkSegment(i int, s Segment, chip Chip) error {
	switch {
	case s.Length%4 != 0 || s.Length >= MaxPartitionSize:
		return fmt.Errorf("%w: segment %d length %#x: want a multiple of 4 below 16 MB", ErrHeader, i, s.Length)
	case chip.mapped(s.LoadAddr) && uint32(s.DataOffset)%MMUPageSize != s.LoadAddr%MMUPageSize:
		return fmt.Errorf("%w: segment %d maps %#08x from offset %#x: not the same place in a 64 KiB page", ErrHeader, i, s.LoadAddr, s.DataOffset)
	}
	return nil
}

func mapNote(c Chip, addr uint32) string {
	if c.mapped(addr) {
		return " (flash-mapped)"
	}
	if addr < 0x10000000 {
		return " (not loaded)"
	}
	return ""
}

// checkSignature is verify_secure_boot_signature with secure boot v2: the
// digest runs on over the image's padding to the next 4 KiB boundary,
// where the signature sector starts; a block is trusted when its key
// digest is one of the trusted keys'; the image verifies when a trusted
// block's digest is the image's and its signature verifies. It returns
// the end of the signature sector and the signer.
func checkSignature(r io.ReaderAt, size int64, d interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, end int64, keys *image.Keyring, scheme string, chip Chip, rep *image.Report) (int64, string, error) {
	padded := (end + SectorSize - 1) / SectorSize * SectorSize
	if padded > end {
		p := make([]byte, padded-end)
		if err := image.ReadFull(r, p, end, size); err != nil {
			return 0, "", fmt.Errorf("%w: the image ends at %d, before the 4 KiB boundary its signature sector would start at: %w", ErrNotSigned, end, err)
		}
		d.Write(p)
	}
	var digest [sha256.Size]byte
	d.Sum(digest[:0])
	sector := make([]byte, SectorSize)
	if err := image.ReadFull(r, sector, padded, size); err != nil {
		return 0, "", fmt.Errorf("%w: no signature sector at %d: %w", ErrNotSigned, padded, err)
	}
	trusted := trustedDigests(keys, scheme)
	want := BlockVersionRSA
	if scheme == SchemeECDSA {
		want = BlockVersionECDSA
	}
	var valid, known, bad int
	for i := range chip.MaxBlocks {
		blk := parseBlock(i, sector[i*BlockSize:(i+1)*BlockSize])
		describeBlock(rep, blk, trusted)
		if blk.Problem != "" || blk.Version != uint8(want) {
			continue
		}
		valid++
		name, ok := trusted[blk.KeyDigest]
		if !ok {
			continue
		}
		known++
		if blk.Digest == digest && blk.verify(digest[:]) {
			return padded + SectorSize, name, nil
		}
		bad++
	}
	switch {
	case valid == 0:
		return 0, "", fmt.Errorf("%w: none of the %d block(s) the bootloader reads is a valid %s block", ErrNotSigned, chip.MaxBlocks, scheme)
	case known == 0:
		return 0, "", fmt.Errorf("%w: %d valid block(s), none with a trusted key", ErrUnknownKey, valid)
	}
	return 0, "", fmt.Errorf("%w: %d block(s) with a trusted key; none signs this image's digest %x", ErrSignature, bad, digest)
}

func describeHeader(rep *image.Report, h Header) {
	if rep == nil {
		return
	}
	chip := "unknown"
	if c, ok := ChipByID(h.ChipID); ok {
		chip = c.Name
	}
	rep.Field("magic", "%#02x", Magic)
	rep.Field("segments", "%d", h.SegmentCount)
	rep.Field("spi mode, speed/size", "%d, %#02x", h.SPIMode, h.SPISpeedSize)
	rep.Field("entry", "%#08x", h.EntryAddr)
	rep.Field("chip", "%#04x (%s), revisions v%d.%d to %s", h.ChipID, chip, h.MinChipRevFull/100, h.MinChipRevFull%100, maxRev(h.MaxChipRevFull))
	rep.Field("hash appended", "%v", h.HashAppended)
}

func maxRev(r uint16) string {
	if r == 0 || r == revisionUnset {
		return "any"
	}
	return fmt.Sprintf("v%d.%d", r/100, r%100)
}

func describeAppDesc(rep *image.Report, d AppDesc) {
	if rep == nil {
		return
	}
	rep.Field("version", "%q", d.Version)
	rep.Field("project", "%q", d.ProjectName)
	rep.Field("secure version", "%d", d.SecureVersion)
	rep.Field("compiled", "%s %s", d.Date, d.Time)
	rep.Field("IDF version", "%q", d.IDFVersion)
	rep.Field("ELF SHA-256", "%x", d.ELFSHA256)
	if d.Reserved1[0]&FlagHealthFail != 0 {
		rep.Field("brickyard", "health-fail")
	}
}

// describeBlocks reports the signature sector of an image read without
// secure boot, if one follows it.
func describeBlocks(r io.ReaderAt, size, end int64, rep *image.Report) {
	if rep == nil {
		return
	}
	padded := (end + SectorSize - 1) / SectorSize * SectorSize
	sector := make([]byte, SectorSize)
	if image.ReadFull(r, sector, padded, size) != nil {
		return
	}
	for i := range BlockCount {
		if blk := parseBlock(i, sector[i*BlockSize:(i+1)*BlockSize]); blk.Problem == "" {
			describeBlock(rep, blk, nil)
		}
	}
}

func describeBlock(rep *image.Report, b Block, trusted map[[32]byte]string) {
	if rep == nil {
		return
	}
	name := fmt.Sprintf("signature block %d", b.Index)
	if b.Problem != "" {
		if b.Index == 0 || !bytes.HasPrefix([]byte(b.Problem), []byte("magic")) {
			rep.Field(name, "invalid: %s", b.Problem)
		}
		return
	}
	who := "key digest " + hex.EncodeToString(b.KeyDigest[:])
	if n, ok := trusted[b.KeyDigest]; ok {
		who += " (trusted: " + n + ")"
	}
	rep.Field(name, "%s, image digest %x, %s", b.Scheme(), b.Digest, who)
}

// Extent reads the headers of the app at the start of r and returns its
// size: segments, checksum block and appended hash (a signature sector
// after it is not counted). ok is false when the headers do not parse
// or run past size.
func Extent(r io.ReaderAt, size int64) (int64, bool) {
	var hb [HeaderSize]byte
	if image.ReadFull(r, hb[:], 0, size) != nil {
		return 0, false
	}
	h, err := ParseHeader(hb[:])
	if err != nil || h.SegmentCount > MaxSegments {
		return 0, false
	}
	off := int64(HeaderSize)
	for range int(h.SegmentCount) {
		var sh [SegmentHeadSize]byte
		if image.ReadFull(r, sh[:], off, size) != nil {
			return 0, false
		}
		off += SegmentHeadSize + int64(binary.LittleEndian.Uint32(sh[4:]))
		if off > size {
			return 0, false
		}
	}
	off = (off + 1 + 15) / 16 * 16
	if h.HashAppended {
		off += HashSize
	}
	return off, off <= size
}
