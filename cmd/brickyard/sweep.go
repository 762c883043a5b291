package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/boards/bench"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/profile"
	"brickyard/boards/sweep"
	"brickyard/flash"
	"brickyard/scenarios/agents"
)

func newSweepCmd(a *app) *cobra.Command {
	var (
		board, file, format string
		benchName           string
		torn                bool
		seed                uint64
		payload             string
		factory, update     string
		trust               []string
	)
	cmd := &cobra.Command{
		Use:   "sweep --board NAME | --bench NAME",
		Short: "Cut power at every flash operation of an update and count updated, rolled back and bricked",
		Long: "sweep runs one complete update of a board (write the new image, activate it, trial\n" +
			"boot, confirm, boot) to count its flash operations, then for every operation k\n" +
			"starts again from the factory state, cuts power at k (before it, or torn part-way\n" +
			"with --torn), powers on, boots until the board is stable, and classifies the\n" +
			"result. The same --seed gives the same result, byte for byte. The images are\n" +
			"BYFW images brickyard signs, or your own: --factory and --update in any format\n" +
			"the board's bootloader takes, signed by a --trust key.\n\n" +
			"--bench NAME sweeps a real board of the configuration's bench.boards instead:\n" +
			"brickyard provisions it over its link, and before every cut writes back the\n" +
			"sectors that differ from its factory state; its fault rig cuts the power. Its\n" +
			"images are signed with the key of --seed (brickyard fleet's), which it must trust.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			size, err := profile.ParseSize(payload)
			if err != nil {
				return fmt.Errorf("--payload-size: %w", err)
			}
			set, err := loadProfiles(file)
			if err != nil {
				return err
			}
			var res sweep.Result
			if benchName != "" {
				if board != "" {
					return fmt.Errorf("--board and --bench: the bench board's profile is its own")
				}
				res, err = runBenchSweep(cmd.Context(), a.cfg.Bench, benchName, set, int(size), torn, seed)
			} else {
				if board == "" {
					return fmt.Errorf("--board NAME or --bench NAME is required")
				}
				var p profile.Profile
				if p, err = set.Get(board); err != nil {
					return fmt.Errorf("--board: %w", err)
				}
				if (factory == "") != (update == "") {
					return fmt.Errorf("--factory, --update: give both, or neither")
				}
				if factory != "" {
					res, err = runFileSweep(p, factory, update, trust, torn, seed)
				} else {
					res, err = runSweep(p, int(size), torn, seed)
				}
			}
			if err != nil {
				return err
			}
			a.log.Debug("sweep done", zap.String("board", board), zap.Int("ops", res.Ops), zap.Int("bricked", res.Bricked))
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return printSweep(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&board, "board", "", "board profile `NAME` (see brickyard boards)")
	f.StringVar(&file, "boards", "", "also read board profiles from `FILE`")
	f.BoolVar(&torn, "torn", false, "tear the cut operation part-way instead of cutting before it")
	f.Uint64Var(&seed, "seed", 1, "seed of the torn bits and of the signing key")
	f.StringVar(&format, "format", "table", "output `format`: table or json")
	f.StringVar(&payload, "payload-size", "64KiB", "payload `SIZE` of the two test images")
	f.StringVar(&benchName, "bench", "", "sweep the real bench board `NAME` of the configuration's bench.boards over its link (docs/bench.md)")
	f.StringVar(&factory, "factory", "", "the image the board runs before the update, from `FILE` (any format the board takes)")
	f.StringVar(&update, "update", "", "the update image, from `FILE`")
	f.StringArrayVar(&trust, "trust", nil, "trust the public key(s) in `PUB` (repeatable; PEM, or a U-Boot control DTB)")
	return cmd
}

// runSweep signs an old (1.0.0) and a new (2.0.0) image with a key derived
// from seed, provisions the board with the old one and sweeps the update.
func runSweep(p profile.Profile, payload int, torn bool, seed uint64) (sweep.Result, error) {
	keySeed := sha256.Sum256(fmt.Appendf(nil, "brickyard sweep key %d", seed))
	key := ed25519.NewKeyFromSeed(keySeed[:])
	keys := image.NewKeyring(key.Public().(ed25519.PublicKey))
	mk := func(version string) (*flash.Blob, error) {
		v, err := image.ParseVersion(version)
		if err != nil {
			return nil, err
		}
		body := make([]byte, payload)
		for i := range body {
			body[i] = byte(i*7) ^ v.Major
		}
		raw, err := image.Pack(key, image.Header{Version: v, BoardID: p.Name}, body)
		if err != nil {
			return nil, err
		}
		if len(raw) > p.SlotSize() {
			return nil, fmt.Errorf("--payload-size: a %d-byte image does not fit the %d-byte slots of %s", len(raw), p.SlotSize(), p.Name)
		}
		return flash.NewBlob(raw, p.Flash.Erased), nil
	}
	oldImg, err := mk("1.0.0")
	if err != nil {
		return sweep.Result{}, err
	}
	newImg, err := mk("2.0.0")
	if err != nil {
		return sweep.Result{}, err
	}
	b, err := p.Provision(keys, oldImg)
	if err != nil {
		return sweep.Result{}, err
	}
	return sweep.Run(sweep.Config{Factory: b, Update: newImg, Torn: torn, Seed: seed})
}

// runFileSweep provisions the board with the factory image file and
// sweeps the update file, trusting the keys of the trust files.
func runFileSweep(p profile.Profile, factory, update string, trust []string, torn bool, seed uint64) (sweep.Result, error) {
	keys := &image.Keyring{}
	for _, f := range trust {
		pubs, err := readKeyFile("--trust", f, formats.ParseTrustFile)
		if err != nil {
			return sweep.Result{}, err
		}
		for _, k := range pubs {
			if err := keys.AddKey(k); err != nil {
				return sweep.Result{}, fmt.Errorf("--trust %s: %w", f, err)
			}
		}
	}
	var blobs [2]*flash.Blob
	for i, file := range []string{factory, update} {
		flag := [2]string{"--factory", "--update"}[i]
		raw, err := readFlagFile(flag, file, int64(p.SlotSize()), "(a slot of "+p.Name+")")
		if err != nil {
			return sweep.Result{}, err
		}
		blobs[i] = flash.NewBlob(raw, p.Flash.Erased)
	}
	b, err := p.Provision(keys, blobs[0])
	if err != nil {
		return sweep.Result{}, fmt.Errorf("--factory %s: %w", factory, err)
	}
	return sweep.Run(sweep.Config{Factory: b, Update: blobs[1], Torn: torn, Seed: seed})
}

func printSweep(out io.Writer, r sweep.Result) error {
	cut := "before the operation"
	if r.Torn {
		cut = fmt.Sprintf("torn part-way (seed %d)", r.Seed)
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "board %s (%s), cut %s\n\n", r.Board, r.Bootloader, cut)
	fmt.Fprintln(w, "phase\tcuts\tupdated\trolled back\tbricked\t")
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t\n", ph.Name, ph.Ops, ph.Updated, ph.RolledBack, ph.Bricked)
	}
	fmt.Fprintf(w, "total\t%d\t%d\t%d\t%d\t\n", r.Cuts, r.Updated, r.RolledBack, r.Bricked)
	if err := w.Flush(); err != nil {
		return err
	}
	if len(r.BrickPoints) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nbrick points:")
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "OP\tPHASE\tOPERATION\tPARTITION\tREASON")
	for i, bp := range r.BrickPoints {
		if i == 20 {
			fmt.Fprintf(w, "…\t%d more (--format json lists all)\n", len(r.BrickPoints)-20)
			break
		}
		fmt.Fprintf(w, "%d\t%s\t%s 0x%x+%d\t%s\t%s\n", bp.Op, bp.Phase, bp.Kind, bp.Addr, bp.Len, bp.Partition, bp.Reason)
	}
	return w.Flush()
}

// runBenchSweep sweeps the bench board name over its link, with images
// signed with the fleet's key of seed.
func runBenchSweep(ctx context.Context, cfg BenchConfig, name string, set profile.Set, payload int, torn bool, seed uint64) (sweep.Result, error) {
	spec, err := cfg.board(name)
	if err != nil {
		return sweep.Result{}, fmt.Errorf("--bench: %w", err)
	}
	key := agents.SigningKey(seed)
	bc, err := spec.Config(set, image.NewKeyring(key.Public().(ed25519.PublicKey)))
	if err != nil {
		return sweep.Result{}, err
	}
	h, err := bench.Open(ctx, bc)
	if err != nil {
		return sweep.Result{}, err
	}
	defer h.Close()
	b := h.Board()
	mk := func(version string) (*flash.Blob, error) {
		v, err := image.ParseVersion(version)
		if err != nil {
			return nil, err
		}
		body := make([]byte, payload)
		for i := range body {
			body[i] = byte(i*7) ^ v.Major
		}
		raw, err := image.Pack(key, image.Header{Version: v, BoardID: b.ID}, body)
		if err != nil {
			return nil, err
		}
		return flash.NewBlob(raw, b.Chip.Geometry().Erased), nil
	}
	oldImg, err := mk("1.0.0")
	if err != nil {
		return sweep.Result{}, err
	}
	newImg, err := mk("2.0.0")
	if err != nil {
		return sweep.Result{}, err
	}
	return h.Sweep(oldImg, newImg, torn, seed)
}
