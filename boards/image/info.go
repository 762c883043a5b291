package image

import "fmt"

// Format is a firmware image format brickyard's boards know.
type Format uint8

// The formats. FormatUnknown is bytes no format claims (erased flash, say).
const (
	FormatUnknown Format = iota
	FormatBYFW           // brickyard's own (this package)
	FormatMCUboot        // MCUboot's image, as imgtool writes it (package image/mcuboot)
	FormatESPApp         // an ESP-IDF application image (package image/espapp)
	FormatFIT            // a U-Boot Flattened Image Tree (package image/fit)
)

// Formats lists the known formats in the order reports and flags name them.
var Formats = []Format{FormatBYFW, FormatMCUboot, FormatESPApp, FormatFIT}

var formatNames = [...]string{"unknown", "byfw", "mcuboot", "esp-app", "fit"}

// String is the format's name in profiles, flags and reports: "byfw",
// "mcuboot", "esp-app", "fit" (or "unknown").
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat is the inverse of String for the known formats.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if f.String() == s {
			return f, nil
		}
	}
	return FormatUnknown, fmt.Errorf("image: format %q: want one of byfw, mcuboot, esp-app, fit", s)
}

// MarshalText and UnmarshalText make a Format a YAML and JSON string.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Info is what a board knows of an image that verified, whatever its
// format: the fields the bootloader models, the device and the sweep use.
// It is a small value with no pointers into the image.
type Info struct {
	Format Format
	// Version is the image's version as numbers: the header's (BYFW,
	// MCUboot) or VersionText parsed (ESP app description, FIT "version"
	// property); zero when the text is not MAJOR.MINOR.PATCH[+BUILD].
	Version Version
	// VersionText is the version as the image writes it, when it writes
	// it as text (ESP, FIT); "" when Version says it all.
	VersionText string
	// SecurityCounter is the counter the board's rules hold the image to:
	// verification checked it against the policy's minimum, and a confirm
	// raises the board's counter to it. 0 when the rules use none for this
	// image (MCUboot without hardware rollback protection, ESP without
	// anti-rollback, FIT).
	SecurityCounter uint32
	// BoardID is the board the image names: a BYFW board id, an ESP chip
	// ("esp32"); "" for formats that name none.
	BoardID string
	// Signer names the trusted key whose signature verified (KeyName), ""
	// when the image was not required to be signed.
	Signer string
	// Size is the image's extent from its first byte: everything the
	// bootloader reads, signatures included, padding to a slot excluded.
	Size  int
	flags uint8
}

const infoHealthFail = 1 << 0

// HealthFail reports whether the image is marked as one whose simulated
// application fails its health check (BYFW's FlagHealthFail, or the
// markers brickyard writes into the other formats).
func (i Info) HealthFail() bool { return i.flags&infoHealthFail != 0 }

// SetHealthFail sets or clears the health-fail mark.
func (i *Info) SetHealthFail(on bool) {
	if on {
		i.flags |= infoHealthFail
	} else {
		i.flags &^= infoHealthFail
	}
}

// VersionString is VersionText when the image writes its version as
// text, else Version.String(): what a device reports as its version.
func (i Info) VersionString() string {
	if i.VersionText != "" {
		return i.VersionText
	}
	return i.Version.String()
}

// Info describes a BYFW image with this header. Signer is left empty:
// Verify fills it.
func (h Header) Info() Info {
	i := Info{Format: FormatBYFW, Version: h.Version, SecurityCounter: h.SecurityCounter, BoardID: h.BoardID, Size: h.TotalSize()}
	i.SetHealthFail(h.HealthFail())
	return i
}
