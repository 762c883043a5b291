package formats

import (
	"io"
	"strings"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/mcuboot"
)

// Carried returns rules that check what the image at the start of r
// carries, for a look at an image without a board: every format
// accepted; an MCUboot image's signature type is that of the first
// signature TLV it holds (none: the hash alone); an ESP app is checked
// for its own chip, with secure boot v2 in the scheme of its first valid
// signature block when a signature sector follows it; a FIT's default
// configuration must be signed when it has a signature node.
func Carried(r io.ReaderAt, size int64) Rules {
	rules := Rules{Formats: image.Formats, FITSignature: Unsigned}
	var head [DetectSize]byte
	n := int(min(max(size, 0), DetectSize))
	if image.ReadFull(r, head[:n], 0, size) != nil {
		return rules
	}
	switch Detect(head[:n]) {
	case image.FormatMCUboot:
		rules.MCUboot.Signature = mcuboot.SigNone
		var hb [mcuboot.HeaderSize]byte
		if image.ReadFull(r, hb[:], 0, size) != nil {
			return rules
		}
		h, err := mcuboot.ParseHeader(hb[:])
		if err != nil {
			return rules
		}
		a, err := mcuboot.ReadArea(r, size, h)
		if err != nil {
			return rules
		}
		for _, t := range a.TLVs {
			if s := mcuboot.SignatureOf(t.Type); s != "" {
				rules.MCUboot.Signature = s
				break
			}
		}
	case image.FormatESPApp:
		var hb [espapp.HeaderSize]byte
		if image.ReadFull(r, hb[:], 0, size) != nil {
			return rules
		}
		h, err := espapp.ParseHeader(hb[:])
		if err != nil {
			return rules
		}
		if c, ok := espapp.ChipByID(h.ChipID); ok {
			rules.ESP.Chip = c.Name
		}
		if end, ok := espapp.Extent(r, size); ok {
			if s, ok := espapp.SignatureScheme(r, size, end); ok {
				rules.ESP.SecureBoot = s
			}
		}
	case image.FormatFIT:
		f, err := fit.Parse(r, size)
		if err != nil {
			return rules
		}
		if c, err := f.Config(""); err == nil {
			for _, s := range c.Children {
				if strings.HasPrefix(s.Name, "signature") {
					rules.FITSignature = Signed
				}
			}
		}
	}
	return rules
}
