package uboot_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/image"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

func TestNew_Options(t *testing.T) {
	l := newLoader(t, uboot.Options{})
	if got, want := l.Options(), (uboot.Options{BootLimit: 1, EnvSize: 0x2000, Env1: "env1", Env2: "env2",
		Formats: []image.Format{image.FormatBYFW, image.FormatFIT}, FITSignature: "auto"}); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if l.Name() != "uboot-ab" || !slices.Equal(l.Slots(), []string{"A", "B"}) {
		t.Errorf("Name %q, Slots %v", l.Name(), l.Slots())
	}
	if env := l.DefaultEnv(); env.Get("boot_part") != "A" || env.Get("bootlimit") != "1" || env.Get("upgrade_available") != "0" {
		t.Errorf("default env %v", env.Vars)
	}
	for _, o := range []uboot.Options{
		{BootLimit: -1}, {BootLimit: 256}, {EnvSize: -1}, {EnvSize: 64}, {EnvSize: 2 << 20},
		{Env1: "env2"}, {Env1: "x", Env2: "x"}, {Env2: "A"}, {Env1: "B"},
		{FITSignature: "sometimes"}, {Formats: []image.Format{image.FormatMCUboot}},
	} {
		if _, err := uboot.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestMethods_Refusals(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	img := blob(spec("2.0.0"))
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"WriteRunningSlot_ErrSlotRunning", l.Write(b, "A", img), boards.ErrSlotRunning},
		{"WriteUnknownSlot_ErrNoSuchSlot", l.Write(b, "env1", img), boards.ErrNoSuchSlot},
		{"ActivateRunningSlot_ErrSlotRunning", l.Activate(b, "A"), boards.ErrSlotRunning},
		{"ActivateUnknownSlot_ErrNoSuchSlot", l.Activate(b, "C"), boards.ErrNoSuchSlot},
		{"ConfirmStable_ErrNotTrial", l.Confirm(b), boards.ErrNotTrial},
		{"WriteTooLarge_ErrTooLarge", l.Write(b, "B", flash.NewBlob(make([]byte, 0x10001), 0xFF)), boards.ErrTooLarge},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	b.PowerCut()
	if err := l.Confirm(b); !errors.Is(err, boards.ErrNotRunning) {
		t.Errorf("ConfirmOff_ErrNotRunning: err = %v", err)
	}
}

func TestProvision_ChipMustBeSPINOR(t *testing.T) {
	layout := norLayout()
	for name, g := range map[string]flash.Geometry{
		"WriteUnit4":      {Size: 512 << 10, SectorSize: 4 << 10, WriteUnit: 4, Erased: 0xFF},
		"ErasedZero":      {Size: 512 << 10, SectorSize: 4 << 10, WriteUnit: 1, Erased: 0x00},
		"RewriteForbid":   {Size: 512 << 10, SectorSize: 4 << 10, WriteUnit: 1, Erased: 0xFF, Rewrite: flash.RewriteForbid},
		"EnvPartTooSmall": {Size: 512 << 10, SectorSize: 16 << 10, WriteUnit: 1, Erased: 0xFF},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, uboot.Options{})
			lay := layout
			if name == "EnvPartTooSmall" {
				lay = boards.Layout{{Name: "env1", Offset: 0, Size: 0x4000}, {Name: "env2", Offset: 0x4000, Size: 0x4000},
					{Name: "A", Offset: 0x10000, Size: 0x10000}, {Name: "B", Offset: 0x20000, Size: 0x10000}}
				l = newLoader(t, uboot.Options{EnvSize: 0x8000})
			}
			_, err := boardtest.Board(boardID, g, lay, l, blob(spec("1.0.0")))
			if err == nil || !strings.Contains(err.Error(), "uboot-ab") {
				t.Fatalf("provision: err = %v, want the model's refusal", err)
			}
			t.Log(err)
		})
	}
}

func TestProvision_BothCopiesGood(t *testing.T) {
	b, l := newBoard(t, uboot.Options{BootLimit: 2})
	c1, c2 := readPart(t, b, "env1", envSize), readPart(t, b, "env2", envSize)
	e1, err1 := uboot.ParseEnv(c1)
	e2, err2 := uboot.ParseEnv(c2)
	if err1 != nil || err2 != nil {
		t.Fatalf("copies: %v, %v", err1, err2)
	}
	if e1.Flags != uboot.FlagObsolete || e2.Flags != uboot.FlagActive || !maps.Equal(e1.Vars, e2.Vars) {
		t.Fatalf("copy 1 flags %d, copy 2 flags %d, same vars %v", e1.Flags, e2.Flags, maps.Equal(e1.Vars, e2.Vars))
	}
	want := l.DefaultEnv().Clone()
	want.Vars["saveenv_canary"] = "1"
	if !maps.Equal(e2.Vars, want.Vars) || e2.Get("bootlimit") != "2" {
		t.Fatalf("factory env %v", e2.Vars)
	}
	if b.Running == nil || b.Running.Slot != "A" || b.Running.Trial {
		t.Fatalf("first boot %+v", b.Running)
	}
}

// opsOf lists the flash operations do performs on a clone of b, by cutting
// power before each one in turn and reading the chip's LastOp.
func opsOf(t *testing.T, b *boards.Board, do func(*boards.Board) error) []string {
	t.Helper()
	probe := b.Clone()
	base := probe.Chip.Ops()
	if err := do(probe); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := base; k < probe.Chip.Ops(); k++ {
		c := b.Clone()
		if err := c.Chip.ArmCut(k, flash.CutBefore, nil); err != nil {
			t.Fatal(err)
		}
		if err := do(c); !errors.Is(err, flash.ErrPowerLost) {
			t.Fatalf("cut at op %d: err %v", k, err)
		}
		op := c.Chip.LastOp()
		p, _ := c.Layout.At(op.Addr)
		out = append(out, fmt.Sprintf("%s %s+0x%x %d", op.Kind, p.Name, op.Addr-p.Offset, op.Len))
	}
	return out
}

// TestOps_PerMethod checks the operation sequences the package comment
// documents.
func TestOps_PerMethod(t *testing.T) {
	b, l := newBoard(t, uboot.Options{}) // env in copy 2
	saveTo := func(dst, old string) []string {
		return []string{"erase " + dst + "+0x0 4096", "erase " + dst + "+0x1000 4096", "program " + dst + "+0x0 8192", "program " + old + "+0x4 1"}
	}
	check := func(name string, do func(*boards.Board) error, want []string) {
		t.Helper()
		if got := opsOf(t, b, do); !slices.Equal(got, want) {
			t.Errorf("%s ops:\n  %s\nwant\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if err := do(b); err != nil {
			t.Fatal(err)
		}
	}
	boot := func(b *boards.Board) error { b.Running = nil; _, err := l.Boot(b); return err }

	check("Boot (stable)", boot, nil)
	var write []string
	for s := range 16 { // the whole slot erased first, then the image programmed
		write = append(write, fmt.Sprintf("erase B+0x%x 4096", s*4096))
	}
	for s := range 5 {
		write = append(write, fmt.Sprintf("program B+0x%x 4096", s*4096))
	}
	write = append(write, fmt.Sprintf("program B+0x%x %d", 5*4096, 64+payloadSize+96-5*4096))
	check("Write B", func(b *boards.Board) error { return l.Write(b, "B", blob(spec("2.0.0"))) }, write)
	check("Activate B", func(b *boards.Board) error { return l.Activate(b, "B") }, saveTo("env1", "env2"))
	check("Boot (trial: bootcount)", boot, saveTo("env2", "env1"))
	check("Confirm", l.Confirm, saveTo("env1", "env2"))
	check("Boot (stable B)", boot, nil)

	// An unconfirmed trial: the second boot saves the count, then altbootcmd.
	if err := l.Write(b, "A", blob(spec("3.0.0"))); err != nil {
		t.Fatal(err)
	}
	check("Activate A", func(b *boards.Board) error { return l.Activate(b, "A") }, saveTo("env2", "env1"))
	check("Boot (trial 1)", boot, saveTo("env1", "env2"))
	check("Boot (bootcount 2 > 1: altbootcmd)", boot, append(saveTo("env2", "env1"), saveTo("env1", "env2")...))

	t.Run("SectorLargerThanEnv_RestOfSectorProgrammedBack", func(t *testing.T) {
		l := newLoader(t, uboot.Options{})
		b, err := boardtest.Board(boardID, bigSectorGeometry, bigSectorLayout(), l, blob(spec("1.0.0")))
		if err != nil {
			t.Fatal(err)
		}
		// Something else lives in env1's sector past the env (e.g. a
		// board's MAC address); saveenv keeps it.
		marker := []byte("MAC=02:00:00:00:00:01")
		if err := b.Chip.Program(part(t, b, "env1").Offset+envSize+100, marker); err != nil {
			t.Fatal(err)
		}
		want := []string{"erase env1+0x0 65536", "program env1+0x0 8192", "program env1+0x2000 57344", "program env2+0x4 1"}
		if got := opsOf(t, b, func(b *boards.Board) error { return l.Activate(b, "B") }); !slices.Equal(got, want) {
			t.Fatalf("Activate ops %q, want %q", got, want)
		}
		if err := l.Activate(b, "B"); err != nil {
			t.Fatal(err)
		}
		got := readPart(t, b, "env1", envSize+100+len(marker))[envSize+100:]
		if string(got) != string(marker) {
			t.Fatalf("rest of the sector after saveenv: %q, want %q", got, marker)
		}
	})
}
