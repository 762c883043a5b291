package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"brickyard/boards/image"

	"github.com/spf13/cobra"
)

func newImagePackCmd(_ *app) *cobra.Command {
	var (
		keyFile, board, payloadFile, out string
		ver                              versionFlag
		counter                          uint32
		healthFail                       bool
		size                             sizeFlag
	)
	cmd := &cobra.Command{
		Use:   "pack --key KEY --board NAME --version V (--payload FILE | --size N) --out FILE",
		Short: "Sign a firmware image for a board profile",
		Long: "pack signs a BYFW image with the Ed25519 private key KEY for board profile NAME.\n" +
			"The payload is the content of --payload FILE, or with --size N, N filler bytes in\n" +
			"which byte i is i mod 251. Packing the same inputs gives the same bytes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fromFile := cmd.Flags().Changed("payload")
			if fromFile == cmd.Flags().Changed("size") {
				return errors.New("--payload, --size: give exactly one: the payload's FILE or its size N")
			}
			priv, err := readKeyFile("--key", keyFile, image.ParsePrivateKeyPEM)
			if err != nil {
				return err
			}
			h := image.Header{BoardID: board, Version: ver.v, SecurityCounter: counter}
			if healthFail {
				h.Flags = image.FlagHealthFail
			}
			// Check the header before reading a payload of up to 1 GiB; with
			// the key and version parsed, only the board name can be wrong.
			if _, err := image.Pack(priv, h, nil); err != nil {
				return fmt.Errorf("--board: %w", err)
			}
			var payload []byte
			if fromFile {
				if payload, err = readPayload(payloadFile); err != nil {
					return err
				}
			} else {
				payload = filler(int(size))
			}
			img, err := image.Pack(priv, h, payload)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, img, 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			h, err = image.ParseHeader(img)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\n", out, summary(h))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "sign with the Ed25519 private key in `FILE` (PEM, PKCS#8)")
	f.StringVar(&board, "board", "", "board profile `NAME` the image is for: 1-16 printable ASCII characters, no spaces")
	f.Var(&ver, "version", "image `VERSION`: MAJOR.MINOR.PATCH or MAJOR.MINOR.PATCH+BUILD")
	f.Uint32Var(&counter, "security-counter", 0, "security counter `N`, for the boards' downgrade protection")
	f.BoolVar(&healthFail, "health-fail", false, "set the health-fail flag: a board that trial-boots the image rolls back")
	f.StringVar(&payloadFile, "payload", "", "the payload is the content of `FILE` (at most 1GiB)")
	f.Var(&size, "size", "the payload is `N` filler bytes, byte i being i mod 251 (65536, 64KiB, 1MiB; at most 1GiB)")
	f.StringVar(&out, "out", "", "write the image to `FILE`, replacing it")
	for _, name := range []string{"key", "board", "version", "out"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
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
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--payload: %w", err)
	}
	defer f.Close()
	tooBig := fmt.Errorf("--payload %s: more than %d bytes (1GiB), the largest payload", path, image.MaxPayloadSize)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > image.MaxPayloadSize {
		return nil, tooBig
	}
	data, err := io.ReadAll(io.LimitReader(f, image.MaxPayloadSize+1))
	if err != nil {
		return nil, fmt.Errorf("--payload: %w", err)
	}
	if len(data) > image.MaxPayloadSize {
		return nil, tooBig
	}
	return data, nil
}

// summary describes an image's header on one line.
func summary(h image.Header) string {
	var b strings.Builder
	fmt.Fprintf(&b, "board %s, version %s, security counter %d", h.BoardID, h.Version, h.SecurityCounter)
	if h.HealthFail() {
		b.WriteString(", health-fail")
	}
	fmt.Fprintf(&b, ", payload %d bytes, %d bytes in all, key id %x", h.PayloadSize, h.TotalSize(), h.KeyID)
	return b.String()
}
