package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"brickyard/boards/image"

	"github.com/spf13/cobra"
)

// The file names keygen writes in its --out directory.
const (
	privateKeyFile = "image.key.pem"
	publicKeyFile  = "image.pub.pem"
)

func newImageKeygenCmd(_ *app) *cobra.Command {
	var (
		dir, typ string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "keygen [--type TYPE] --out DIR",
		Short: "Make a signing key pair: DIR/image.key.pem and DIR/image.pub.pem",
		Long: "keygen makes a new key pair of --type (ed25519, the default, for BYFW and MCUboot;\n" +
			"ecdsa-p256 for MCUboot, ESP-IDF secure boot v2 and FIT; rsa-2048 and rsa-3072 for MCUboot\n" +
			"and FIT, rsa-3072 for secure boot v2; rsa-4096 for FIT) from the system's random source\n" +
			"and writes DIR/" + privateKeyFile + " (PKCS#8, mode 0600; keep it out of the repository) and\n" +
			"DIR/" + publicKeyFile + " (PKIX, for the boards' keyrings and image inspect --pubkey).\n" +
			"It creates DIR if needed, refuses to replace existing key files unless --force,\n" +
			"and prints the key id (Ed25519) or the key's name images and reports will show.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--out: expected a directory name; got an empty string")
			}
			priv, pub := filepath.Join(dir, privateKeyFile), filepath.Join(dir, publicKeyFile)
			if !force {
				for _, p := range []string{priv, pub} {
					if _, err := os.Lstat(p); err == nil {
						return fmt.Errorf("--out: %s already exists; use --force to replace it", p)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("--out: %w", err)
					}
				}
			}
			signer, err := image.GenerateSigner(typ, rand.Reader)
			if err != nil {
				return fmt.Errorf("--type: %w", err)
			}
			privPEM, err := image.MarshalSignerPEM(signer)
			if err != nil {
				return err
			}
			pubPEM, err := image.MarshalAnyPublicKeyPEM(signer.Public())
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := writeNewFile(priv, privPEM, 0o600, force); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := writeNewFile(pub, pubPEM, 0o644, force); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if ed, ok := signer.Public().(ed25519.PublicKey); ok {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "key id %x: wrote %s and %s\n", image.KeyID(ed), priv, pub)
				return err
			}
			name, _ := image.KeyName(signer.Public())
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "key %s: wrote %s and %s\n", name, priv, pub)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "out", "", "write the key files into `DIR` (created if missing)")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing key files")
	cmd.Flags().StringVar(&typ, "type", "ed25519", "key `TYPE`: "+strings.Join(image.KeyTypes, ", "))
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// writeNewFile writes data to a file created afresh with mode perm. With
// replace, an existing file is removed first, so that it cannot keep wider
// permissions (or be a symbolic link that redirects the write); without, an
// existing file is an error.
func writeNewFile(path string, data []byte, perm os.FileMode, replace bool) error {
	if replace {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
