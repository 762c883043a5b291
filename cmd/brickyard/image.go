package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"brickyard/boards/image"

	"github.com/spf13/cobra"
)

func newImageCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Make and check signed firmware images: BYFW, MCUboot, ESP-IDF apps, U-Boot FITs",
		Long: "The image commands make signing keys (Ed25519, ECDSA P-256, RSA), pack signed firmware\n" +
			"images in brickyard's BYFW format or in the formats firmware builds produce (MCUboot as\n" +
			"imgtool writes it, ESP-IDF app images, U-Boot FITs), and check images of any of these,\n" +
			"alone or against a board profile. The formats and the verification rules are in\n" +
			"docs/image-format.md.",
		Args: cobra.NoArgs, // "image bogus" is an unknown command, not help
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImageKeygenCmd(a), newImagePackCmd(a), newImageInspectCmd(a))
	return cmd
}

// maxKeyFileSize bounds what is read of a key file: a PEM key is at most
// a few KiB and a U-Boot control DTB with its keys tens of KiB, so
// anything bigger is the wrong file.
const maxKeyFileSize = 1 << 20

// readKeyFile reads the key file path given by flag (as "--key") and parses it.
func readKeyFile[K any](flag, path string, parse func([]byte) (K, error)) (K, error) {
	var zero K
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return zero, fmt.Errorf("%s: %w", flag, err)
	}
	if len(data) > maxKeyFileSize {
		return zero, fmt.Errorf("%s %s: larger than %d bytes; not a key file", flag, path, maxKeyFileSize)
	}
	k, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return k, nil
}

// sizeFlag is a byte count flag: a decimal number with an optional KiB, MiB
// or GiB suffix, at most image.MaxPayloadSize.
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *sizeFlag) Type() string   { return "size" }

func (s *sizeFlag) Set(v string) error {
	num, mult := v, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") {
		return fmt.Errorf("want a byte count such as 65536, 64KiB or 1MiB")
	}
	if n > image.MaxPayloadSize/mult {
		return fmt.Errorf("more than %d bytes (1GiB), the largest payload", image.MaxPayloadSize)
	}
	*s = sizeFlag(n * mult)
	return nil
}

// versionFlag is an image version flag, parsed by image.ParseVersion.
type versionFlag struct {
	v   image.Version
	set bool
}

func (f *versionFlag) String() string {
	if !f.set {
		return "" // no default shown in the help: the flag is required
	}
	return f.v.String()
}

func (f *versionFlag) Type() string { return "version" }

func (f *versionFlag) Set(s string) error {
	v, err := image.ParseVersion(s)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}
