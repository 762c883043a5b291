package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"brickyard/boards/image"

	"github.com/spf13/cobra"
)

// inspectReport is what `brickyard image inspect --json` prints. Every key
// is always present.
type inspectReport struct {
	File      string        `json:"file"`
	FileSize  int64         `json:"file_size"`
	Header    *headerReport `json:"header"`    // null when the header does not parse
	Digest    string        `json:"digest"`    // "ok", "mismatch" or "not checked"
	Signature string        `json:"signature"` // "ok", "bad", "unknown key" or "not checked"
	OK        bool          `json:"ok"`        // every check made passed; the exit status is 0
	Error     string        `json:"error"`     // the check failed: "bad magic", "truncated", "bad header", "digest mismatch", "unknown signing key", "bad signature", "read error"; "" when ok
	Message   string        `json:"message"`   // the whole error message; "" when ok
}

type headerReport struct {
	Magic           string `json:"magic"`
	FormatVersion   uint16 `json:"format_version"`
	HeaderSize      uint16 `json:"header_size"`
	Version         string `json:"version"`
	PayloadSize     uint32 `json:"payload_size"`
	Flags           uint32 `json:"flags"`
	HealthFail      bool   `json:"health_fail"`
	SecurityCounter uint32 `json:"security_counter"`
	Board           string `json:"board"`
	KeyID           string `json:"key_id"` // 16 hex digits
	TotalSize       int    `json:"total_size"`
}

func newImageInspectCmd(_ *app) *cobra.Command {
	var (
		pubFile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "inspect [--pubkey PUB] [--json] FILE",
		Short: "Print a firmware image's header and check its digest and signature",
		Long: "inspect prints the header of the image at the start of FILE and checks it: without\n" +
			"--pubkey up to the digest (the signature is not checked), with --pubkey the\n" +
			"signature too. No board or security-counter policy applies. The exit status is 1\n" +
			"when a check fails; the error names it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys := &image.Keyring{}
			var pub ed25519.PublicKey
			if cmd.Flags().Changed("pubkey") {
				var err error
				if pub, err = readKeyFile("--pubkey", pubFile, image.ParsePublicKeyPEM); err != nil {
					return err
				}
				if err := keys.Add(pub); err != nil {
					return fmt.Errorf("--pubkey %s: %w", pubFile, err)
				}
			}
			r, err := inspect(args[0], keys, pub != nil)
			if r == nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if werr := enc.Encode(r); werr != nil {
					return werr
				}
			} else if werr := printInspect(cmd.OutOrStdout(), r, pub != nil); werr != nil {
				return werr
			}
			if errors.Is(err, image.ErrUnknownKey) {
				return fmt.Errorf("%s: %w (--pubkey %s has key id %x)", args[0], err, pubFile, image.KeyID(pub))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pubFile, "pubkey", "", "check the signature with the Ed25519 public key in `PUB` (PEM, PKIX)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as a JSON object")
	return cmd
}

// inspect verifies the image at the start of file with keys. It returns no
// report when the file cannot be read at all, and the verification error
// with the report; without a key (checkSig false) an unknown key only means
// the signature was not checked.
func inspect(file string, keys *image.Keyring, checkSig bool) (*inspectReport, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", file)
	}
	h, err := image.Verify(f, fi.Size(), keys, image.Policy{})
	r := &inspectReport{File: file, FileSize: fi.Size(), Digest: "not checked", Signature: "not checked"}
	if h.FormatVersion != 0 { // the header parsed
		r.Header = &headerReport{Magic: image.Magic, FormatVersion: h.FormatVersion, HeaderSize: h.HeaderSize,
			Version: h.Version.String(), PayloadSize: h.PayloadSize, Flags: h.Flags, HealthFail: h.HealthFail(),
			SecurityCounter: h.SecurityCounter, Board: h.BoardID, KeyID: fmt.Sprintf("%x", h.KeyID), TotalSize: h.TotalSize()}
	}
	switch {
	case err == nil:
		r.Digest, r.Signature = "ok", "ok"
	case errors.Is(err, image.ErrUnknownKey) && !checkSig:
		r.Digest, err = "ok", nil
	case errors.Is(err, image.ErrUnknownKey):
		r.Digest, r.Signature = "ok", "unknown key"
	case errors.Is(err, image.ErrBadSignature):
		r.Digest, r.Signature = "ok", "bad"
	case errors.Is(err, image.ErrDigestMismatch):
		r.Digest = "mismatch"
	}
	r.OK = err == nil
	if err != nil {
		r.Error, r.Message = "read error", err.Error()
		for _, e := range []error{image.ErrBadMagic, image.ErrTruncated, image.ErrBadHeader,
			image.ErrDigestMismatch, image.ErrUnknownKey, image.ErrBadSignature} {
			if errors.Is(err, e) {
				r.Error = strings.TrimPrefix(e.Error(), "image: ")
				break
			}
		}
	}
	return r, err
}

func printInspect(w io.Writer, r *inspectReport, keyGiven bool) error {
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-18s%s\n", name, fmt.Sprintf(format, args...))
	}
	line("file", "%s, %d bytes", r.File, r.FileSize)
	if h := r.Header; h != nil {
		flags := fmt.Sprintf("%#x", h.Flags)
		if h.HealthFail {
			flags += " (health-fail)"
		}
		line("magic", "%s", h.Magic)
		line("format version", "%d", h.FormatVersion)
		line("header size", "%d bytes", h.HeaderSize)
		line("version", "%s", h.Version)
		line("board", "%s", h.Board)
		line("payload size", "%d bytes", h.PayloadSize)
		line("flags", "%s", flags)
		line("security counter", "%d", h.SecurityCounter)
		line("key id", "%s", h.KeyID)
		line("total size", "%d bytes", h.TotalSize)
	}
	sig := r.Signature
	if sig == "not checked" && !keyGiven && r.Digest == "ok" {
		sig += " (no --pubkey)"
	}
	line("digest", "%s", r.Digest)
	line("signature", "%s", sig)
	if r.OK {
		line("result", "ok")
	} else {
		line("result", "FAILED: %s", r.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
