package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"brickyard/boards"
	"brickyard/boards/bench/emu"
	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/flash"
	"brickyard/scenarios/agents"
)

// boardEmuFlags are brickyard board-emu's flags.
type boardEmuFlags struct {
	board, boards, listen, control, version, payload, serial string
	baud, maxPayload                                         int
	seed                                                     uint64
	trust                                                    []string
	noRig, quiet, off                                        bool
	eraseTime, programTime                                   time.Duration
}

func newBoardEmuCmd(a *app) *cobra.Command {
	var f boardEmuFlags
	cmd := &cobra.Command{
		Use:   "board-emu --board NAME",
		Short: "Run the reference bench-board firmware over a simulated board, on a pseudo-terminal or a TCP port",
		Long: "board-emu is a bench board that brickyard drives over its serial link\n" +
			"(docs/bench-protocol.md): a simulated board of the profile NAME behind the\n" +
			"link protocol, printing its bootloader's boot log, pacing its UART at --baud\n" +
			"and obeying its power and reset lines. By default it opens a pseudo-terminal\n" +
			"and prints the serial device to give brickyard; --listen serves the UART on a\n" +
			"TCP port instead (as ser2net would). --control serves its power, reset and\n" +
			"boot-mode lines over HTTP in pdudaemon's URL form. Its factory image is\n" +
			"--version, signed with the key of --seed (brickyard fleet's and run's), which\n" +
			"it trusts, with any --trust keys. It runs until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBoardEmu(ctx, a.log, cmd.OutOrStdout(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.board, "board", "", "board profile `NAME` (see brickyard boards)")
	fs.StringVar(&f.boards, "boards", "", "also read board profiles from `FILE`")
	fs.StringVar(&f.listen, "listen", "", "serve the UART on this TCP `ADDR` instead of a pseudo-terminal (one client at a time)")
	fs.StringVar(&f.control, "control", "", "serve the power, reset and boot-mode lines over HTTP on `ADDR` (pdudaemon's URL form)")
	fs.IntVar(&f.baud, "baud", 115200, "the UART's `rate`, paced both ways as a real one (0: unpaced)")
	fs.StringVar(&f.version, "version", "1.0.0", "`VERSION` of the factory image")
	fs.StringVar(&f.payload, "payload-size", "16KiB", "payload `SIZE` of the factory image")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the signing key the board trusts (brickyard fleet's --seed)")
	fs.StringSliceVar(&f.trust, "trust", nil, "also trust the Ed25519 public key in PEM `FILE` (repeatable)")
	fs.StringVar(&f.serial, "serial", "EMU-0001", "the board's serial number in its Hello")
	fs.IntVar(&f.maxPayload, "max-payload", 4096, "largest frame payload the firmware takes (64…4096)")
	fs.BoolVar(&f.noRig, "no-rig", false, "no fault rig: brickyard cuts power by the line only")
	fs.BoolVar(&f.quiet, "quiet", false, "print no boot log")
	fs.BoolVar(&f.off, "off", false, "start with the power line off (with --control)")
	fs.DurationVar(&f.eraseTime, "erase-time", 0, "time of one sector erase")
	fs.DurationVar(&f.programTime, "program-time", 0, "time of one 256-byte page program")
	_ = cmd.MarkFlagRequired("board")
	return cmd
}

func runBoardEmu(ctx context.Context, log *zap.Logger, out io.Writer, f boardEmuFlags) error {
	set, err := loadProfiles(f.boards)
	if err != nil {
		return err
	}
	p, err := set.Get(f.board)
	if err != nil {
		return fmt.Errorf("--board: %w", err)
	}
	if f.off && f.control == "" {
		return errors.New("--off: a board without --control could never be powered on")
	}
	board, err := emuBoard(p, f)
	if err != nil {
		return err
	}
	e, err := emu.New(emu.Config{Board: board, Serial: f.serial, Baud: f.baud, MaxPayload: f.maxPayload, NoRigCut: f.noRig,
		Quiet: f.quiet, EraseTime: f.eraseTime, ProgramTime: f.programTime, Seed: f.seed, Powered: !f.off})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "board-emu %s (%s), serial %s\n", p.Name, p.Loader.Name(), f.serial)
	if f.control != "" {
		l, err := net.Listen("tcp", f.control)
		if err != nil {
			return fmt.Errorf("--control: %w", err)
		}
		srv := &http.Server{Handler: emu.ControlHandler(e), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.Serve(l)
		}()
		defer func() {
			_ = srv.Close()
			<-done
		}()
		fmt.Fprintf(out, "power: http://%s/power/control/on|off|reboot?hostname=emu&port=1, reset: http://%s/reset\n", l.Addr(), l.Addr())
	}
	if f.listen != "" {
		return serveEmuTCP(ctx, log, out, e, f)
	}
	pty, err := emu.OpenPTY()
	if err != nil {
		return err
	}
	defer pty.Close()
	fmt.Fprintf(out, "serial port: %s at %d baud\n", pty.SlavePath, f.baud)
	if err := e.Serve(ctx, pty.Master); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// serveEmuTCP serves the board's UART to one TCP client at a time, as a
// serial server does; the board runs on between clients.
func serveEmuTCP(ctx context.Context, log *zap.Logger, out io.Writer, e *emu.Emu, f boardEmuFlags) error {
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer l.Close()
	fmt.Fprintf(out, "serial port: tcp://%s at %d baud\n", l.Addr(), f.baud)
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		log.Info("board-emu: client", zap.String("from", conn.RemoteAddr().String()))
		if err := e.Serve(ctx, conn); err != nil && ctx.Err() == nil {
			log.Info("board-emu: client gone", zap.Error(err))
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// emuBoard provisions the emulated board: the factory image signed with
// the fleet's key of f.seed, which the board trusts with f.trust.
func emuBoard(p profile.Profile, f boardEmuFlags) (*boards.Board, error) {
	size, err := profile.ParseSize(f.payload)
	if err != nil {
		return nil, fmt.Errorf("--payload-size: %w", err)
	}
	v, err := image.ParseVersion(f.version)
	if err != nil {
		return nil, fmt.Errorf("--version: %w", err)
	}
	key := agents.SigningKey(f.seed)
	keys := image.NewKeyring(key.Public().(ed25519.PublicKey))
	for _, file := range f.trust {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		pub, err := image.ParsePublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("--trust %s: %w", file, err)
		}
		if err := keys.Add(pub); err != nil {
			return nil, fmt.Errorf("--trust %s: %w", file, err)
		}
	}
	body := make([]byte, size)
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
	return p.Provision(keys, flash.NewBlob(raw, p.Flash.Erased))
}
