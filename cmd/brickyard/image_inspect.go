package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/image/mcuboot"
	"brickyard/boards/profile"

	"github.com/spf13/cobra"
)

// inspectReport is what `brickyard image inspect --json` prints. Every key
// is always present.
type inspectReport struct {
	File      string        `json:"file"`
	FileSize  int64         `json:"file_size"`
	Format    string        `json:"format"` // byfw, mcuboot, esp-app, fit; "unknown" when no format matches
	Board     string        `json:"board"`  // --board; "" when the image was checked by what it carries
	Header    *headerReport `json:"header"` // a BYFW image's header; null otherwise, or when it does not parse
	Version   string        `json:"version"`
	Signer    string        `json:"signer"`    // the key whose signature verified; "" when none did
	Fields    []image.Field `json:"fields"`    // the format's fields, in order
	Checks    []image.Check `json:"checks"`    // every check made, in order
	Digest    string        `json:"digest"`    // "ok", "mismatch" or "not checked"
	Signature string        `json:"signature"` // "ok", "bad", "unknown key", "not signed", "not required" or "not checked"
	OK        bool          `json:"ok"`        // the image verified (would boot on --board); the exit status is 0
	Error     string        `json:"error"`     // why not: "bad magic", "truncated", "bad header", "digest mismatch", "unknown signing key", "bad signature", "not signed", "signature not checked", …; "" when ok
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

// errNotChecked: no key was given, so the signature an image carries (or a
// board requires) could not be checked; the image is not verified.
var errNotChecked = errors.New("signature not checked")

func newImageInspectCmd(_ *app) *cobra.Command {
	var (
		pubFiles   []string
		board      string
		boardsFile string
		noVerify   bool
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "inspect [--pubkey PUB]... [--board NAME] [--no-verify] [--json] FILE",
		Short: "Explain a firmware image of any format and check it, or check it against a board profile",
		Long: "inspect tells the format of the image at the start of FILE (BYFW, MCUboot, ESP-IDF app,\n" +
			"U-Boot FIT), prints its fields and checks it. Without --board it checks what the image\n" +
			"carries: its hashes and, with the keys of --pubkey, its signature. With --board it checks\n" +
			"the image as that profile's bootloader would, trusting the --pubkey keys, and says why it\n" +
			"would or would not boot. The exit status is 0 only when the image verified: a signature\n" +
			"that was not checked (no --pubkey) is a failure, unless --no-verify asks for a look without.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys := &image.Keyring{}
			for _, f := range pubFiles {
				pubs, err := readKeyFile("--pubkey", f, formats.ParseTrustFile)
				if err != nil {
					return err
				}
				for _, p := range pubs {
					if err := keys.AddKey(p); err != nil {
						return fmt.Errorf("--pubkey %s: %w", f, err)
					}
				}
			}
			var prof *profile.Profile
			if board != "" {
				set, err := loadProfiles(boardsFile)
				if err != nil {
					return err
				}
				p, err := set.Get(board)
				if err != nil {
					return fmt.Errorf("--board: %w", err)
				}
				prof = &p
			}
			r, err := inspect(args[0], keys, prof, noVerify)
			if r == nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if werr := enc.Encode(r); werr != nil {
					return werr
				}
			} else if werr := printInspect(cmd.OutOrStdout(), r, keys.Len() > 0, noVerify); werr != nil {
				return werr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&pubFiles, "pubkey", nil, "trust the public key(s) in `PUB` (repeatable): PEM (Ed25519, ECDSA P-256, RSA; a certificate), or a U-Boot control DTB with /signature keys")
	f.StringVar(&board, "board", "", "check the image as board profile `NAME`'s bootloader would (see 'brickyard boards')")
	f.StringVar(&boardsFile, "boards", "", "also read board profiles from `FILE`")
	f.BoolVar(&noVerify, "no-verify", false, "look without verifying the signature: the result is ok when everything but the signature checks out")
	f.BoolVar(&asJSON, "json", false, "print the report as a JSON object")
	return cmd
}

// inspect checks the image at the start of file, with keys, against prof
// when it is given (else by what the image carries). It returns no report
// when the file cannot be read at all, and the verification error with
// the report.
func inspect(file string, keys *image.Keyring, prof *profile.Profile, noVerify bool) (*inspectReport, error) {
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
	size := fi.Size()
	var head [formats.DetectSize]byte
	n, _ := f.ReadAt(head[:], 0)
	r := &inspectReport{File: file, FileSize: size, Format: formats.Detect(head[:n]).String(),
		Fields: []image.Field{}, Checks: []image.Check{}, Digest: "not checked", Signature: "not checked"}

	rules, policy := formats.Carried(f, size), image.Policy{}
	if prof != nil {
		r.Board = prof.Name
		rules, policy = prof.ImageRules(), image.Policy{Board: prof.Name}
	}
	info, rep, err := formats.Describe(f, size, keys, rules, policy)
	// Without a key (or with --no-verify) check what needs none too, by
	// the same rules with signatures off, so that a damaged image says so.
	var integrity error
	if keys.Len() == 0 || noVerify {
		iinfo, irep, ierr := formats.Describe(f, size, keys, unsigned(rules), policy)
		if isSignatureError(ierr) { // BYFW: its signature cannot be turned off
			ierr = nil
		}
		if ierr != nil || isSignatureError(err) {
			info, rep, integrity = iinfo, irep, ierr
		}
	}
	if rep != nil {
		r.Fields, r.Checks = rep.Fields, rep.Checks
	}
	r.Version, r.Signer = info.VersionString(), info.Signer
	if info.Format == image.FormatUnknown {
		r.Version = ""
	}
	if info.Format == image.FormatBYFW {
		if h, herr := byfwHeader(f, size); herr == nil {
			r.Header = h
		}
	}
	unchecked := false // the signature was there to check and was not
	switch {
	case integrity != nil:
		err = integrity // the image is damaged: that is the news
	case isSignatureError(err) && noVerify:
		err, unchecked = nil, true
	case isSignatureError(err) && keys.Len() == 0:
		unchecked = true
		err = fmt.Errorf("%w: no --pubkey given, so nothing vouches for the image (--no-verify looks without)", errNotChecked)
	}
	r.Digest = digestResult(r.Checks)
	if !unchecked {
		r.Signature = signatureResult(r.Checks, err)
	}
	if err == nil && prof == nil && !noVerify && r.Signature != "ok" {
		err = fmt.Errorf("%w: the image is not signed (--no-verify looks without)", image.ErrNotSigned)
		r.Signature = "not signed"
	}
	r.OK = err == nil
	if err != nil {
		r.Error, r.Message = errorName(err), err.Error()
	}
	return r, err
}

// unsigned is r with every signature check off: what inspect checks of an
// image it has no key for.
func unsigned(r formats.Rules) formats.Rules {
	r.MCUboot.Signature = mcuboot.SigNone
	r.ESP.SecureBoot = ""
	r.FITSignature = formats.Unsigned
	return r
}

// isSignatureError: err is about the signature (none, unknown key, bad).
func isSignatureError(err error) bool {
	return errors.Is(err, image.ErrUnknownKey) || errors.Is(err, image.ErrNotSigned) || errors.Is(err, image.ErrBadSignature)
}

// byfwHeader decodes a BYFW image's header for the report's "header".
func byfwHeader(f io.ReaderAt, size int64) (*headerReport, error) {
	b := make([]byte, min(size, 1<<16))
	if err := image.ReadFull(f, b, 0, size); err != nil {
		return nil, err
	}
	h, err := image.ParseHeader(b)
	if err != nil {
		return nil, err
	}
	return &headerReport{Magic: image.Magic, FormatVersion: h.FormatVersion, HeaderSize: h.HeaderSize,
		Version: h.Version.String(), PayloadSize: h.PayloadSize, Flags: h.Flags, HealthFail: h.HealthFail(),
		SecurityCounter: h.SecurityCounter, Board: h.BoardID, KeyID: fmt.Sprintf("%x", h.KeyID), TotalSize: h.TotalSize()}, nil
}

// digestResult sums up the integrity checks (hash, digest, checksum).
func digestResult(checks []image.Check) string {
	res := "not checked"
	for _, c := range checks {
		name := strings.Fields(c.Name)
		if len(name) == 0 || (name[0] != "hash" && name[0] != "digest" && name[0] != "checksum") {
			continue
		}
		switch c.Result {
		case image.CheckFailed:
			return "mismatch"
		case image.CheckOK:
			res = "ok"
		}
	}
	return res
}

// signatureResult sums up the signature check.
func signatureResult(checks []image.Check, err error) string {
	for _, c := range checks {
		if c.Name == "signature" && c.Result == image.CheckOK {
			return "ok"
		}
	}
	switch {
	case errors.Is(err, image.ErrUnknownKey):
		return "unknown key"
	case errors.Is(err, image.ErrBadSignature):
		return "bad"
	case errors.Is(err, image.ErrNotSigned):
		return "not signed"
	}
	for _, c := range checks {
		if c.Name == "signature" && c.Result == image.CheckSkipped && !strings.HasPrefix(c.Detail, "an earlier") {
			return "not required"
		}
	}
	return "not checked"
}

// errorName is the report's name of the check that failed.
func errorName(err error) string {
	for _, e := range []error{errNotChecked, image.ErrFormat, image.ErrBadMagic, image.ErrTruncated, image.ErrBadHeader,
		image.ErrDigestMismatch, image.ErrNotSigned, image.ErrUnknownKey, image.ErrBadSignature, image.ErrWrongBoard,
		image.ErrDowngrade, image.ErrUnsupported} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "image: ")
		}
	}
	return "read error"
}

func printInspect(w io.Writer, r *inspectReport, keyGiven, noVerify bool) error {
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-18s%s\n", name, fmt.Sprintf(format, args...))
	}
	line("file", "%s, %d bytes", r.File, r.FileSize)
	line("format", "%s", r.Format)
	for _, f := range r.Fields {
		line(f.Name, "%s", f.Value)
	}
	if len(r.Checks) > 0 {
		b.WriteString("checks:\n")
		for _, c := range r.Checks {
			res := c.Result
			if c.Detail != "" {
				res += ": " + c.Detail
			}
			fmt.Fprintf(&b, "  %-18s %s\n", c.Name, res)
		}
	}
	sig := r.Signature
	switch {
	case sig == "not checked" && noVerify:
		sig += " (--no-verify)"
	case sig == "not checked" && !keyGiven:
		sig += " (no --pubkey)"
	}
	line("digest", "%s", r.Digest)
	line("signature", "%s", sig)
	if r.Signer != "" {
		line("signer", "%s", r.Signer)
	}
	switch {
	case r.OK && r.Board != "":
		line("result", "ok: would boot on %s", r.Board)
	case r.OK && noVerify && r.Signature != "ok":
		line("result", "ok, but the signature was not verified (--no-verify)")
	case r.OK:
		line("result", "ok")
	case r.Board != "":
		line("result", "FAILED: %s: would not boot on %s", r.Error, r.Board)
	default:
		line("result", "FAILED: %s", r.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
