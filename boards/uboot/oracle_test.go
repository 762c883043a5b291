package uboot_test

// The oracle: Debian's fw_printenv/fw_setenv (libubootenv-tool 0.3.2) read
// and write the environment the model keeps on its chip. `make test`
// installs the package; a missing binary is a failure, not a skip.
//
// What libubootenv 0.3.2 does with regular files (checked by these tests):
//
//   - fw_env.config lines are "path offset envsize" (optional sector size
//     and count are for MTD devices); two lines make the environment
//     redundant. The files must exist and hold envsize bytes at offset.
//   - Reading: the CRC decides which copies are good; of two good copies it
//     takes the one with larger flags, with 0 beating 255 (wrap) and copy 1
//     on equal flags — exactly U-Boot's env_check_redund. So a raw dump of
//     the two copies is read the way U-Boot reads them, and the SPI NOR
//     values ACTIVE 1 / OBSOLETE 0, and the both-ACTIVE hazard, mean the
//     same thing to both. With no good copy it uses the -f default file
//     and says "Cannot read environment, using default".
//   - Writing a file, it uses the serial-counter scheme, not
//     ACTIVE/OBSOLETE: the copy not in use gets flags = flags of the copy
//     in use + 1, and the copy in use is not touched. After a model save
//     (ACTIVE 1 / OBSOLETE 0) it writes flags 2, which the model's Select
//     (larger wins) takes, as U-Boot would.
//   - It writes entries sorted by name and a terminating empty entry: byte
//     for byte what Env.Encode writes for the same flags. The padding after
//     the list is not normalised: 0.3.2 does not clear its buffer, so it is
//     mostly 0xFF (bytes it read before) with some heap garbage. The CRC
//     covers it, and ParseEnv, like U-Boot, accepts any padding.

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

// oracle runs the libubootenv tools on two files holding the two copies.
type oracle struct {
	printenv, setenv string
	cfg, defenv      string
	paths            [2]string
}

func newOracle(t *testing.T, l *uboot.Loader) *oracle {
	t.Helper()
	o := &oracle{}
	for _, tool := range []struct {
		name string
		dst  *string
	}{{"fw_printenv", &o.printenv}, {"fw_setenv", &o.setenv}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			t.Fatalf("%s not found (%v): the oracle needs Debian's libubootenv-tool; run `make deps`", tool.name, err)
		}
		*tool.dst = p
	}
	dir := t.TempDir()
	o.paths = [2]string{filepath.Join(dir, "env1"), filepath.Join(dir, "env2")}
	o.cfg = filepath.Join(dir, "fw_env.config")
	cfg := fmt.Sprintf("# device offset envsize\n%s 0x0 0x%x\n%s 0x0 0x%x\n", o.paths[0], envSize, o.paths[1], envSize)
	writeFile(t, o.cfg, []byte(cfg))
	o.defenv = filepath.Join(dir, "u-boot-initial-env")
	writeFile(t, o.defenv, []byte(envText(l.DefaultEnv().Vars)))
	return o
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// envText is vars as "name=value" lines, sorted: fw_printenv's output.
func envText(vars map[string]string) string {
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&sb, "%s=%s\n", k, vars[k])
	}
	return sb.String()
}

// dump copies the two env copies from the board's chip into the files.
func (o *oracle) dump(t *testing.T, b *boards.Board) {
	t.Helper()
	for i, name := range []string{"env1", "env2"} {
		writeFile(t, o.paths[i], readPart(t, b, name, envSize))
	}
}

func (o *oracle) files(t *testing.T) (c1, c2 []byte) {
	t.Helper()
	var out [2][]byte
	for i, p := range o.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out[0], out[1]
}

// print runs fw_printenv and returns its variables and standard error.
func (o *oracle) print(t *testing.T) (map[string]string, string) {
	t.Helper()
	cmd := exec.Command(o.printenv, "-c", o.cfg, "-f", o.defenv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fw_printenv: %v\n%s", err, stderr.String())
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("fw_printenv printed %q", line)
		}
		vars[name] = value
	}
	return vars, stderr.String()
}

// set runs fw_setenv -s with "name=value" lines.
func (o *oracle) set(t *testing.T, script string) {
	t.Helper()
	path := filepath.Join(filepath.Dir(o.cfg), "script")
	writeFile(t, path, []byte(script))
	if out, err := exec.Command(o.setenv, "-c", o.cfg, "-f", o.defenv, "-s", path).CombinedOutput(); err != nil {
		t.Fatalf("fw_setenv: %v\n%s", err, out)
	}
}

// TestOracle_FwPrintenvReadsModelEnv dumps the env copies the model wrote
// at each step of an update's life, and of its hazards, and checks that
// fw_printenv reads every variable the model reads.
func TestOracle_FwPrintenvReadsModelEnv(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	o := newOracle(t, l)
	check := func(step string, wantCopy uboot.Copy) {
		t.Helper()
		sel := loadEnv(t, l, b)
		if sel.Copy != wantCopy {
			t.Fatalf("%s: model uses %v, want %v", step, sel.Copy, wantCopy)
		}
		o.dump(t, b)
		got, stderr := o.print(t)
		if !maps.Equal(got, sel.Env.Vars) {
			t.Fatalf("%s: fw_printenv reads\n%s\nthe model reads (%v)\n%s", step, envText(got), sel.Copy, envText(sel.Env.Vars))
		}
		if defaulted := strings.Contains(stderr, "using default"); defaulted != (wantCopy == uboot.CopyNone) {
			t.Fatalf("%s: fw_printenv stderr %q, model uses %v", step, stderr, wantCopy)
		}
		t.Logf("%s: %v, %d variables agree", step, sel.Copy, len(got))
	}

	check("provisioned and booted", uboot.Copy2)
	update(t, b, blob(spec("2.0.0")))
	check("activated B", uboot.Copy1)
	mustBoot(t, b)
	check("trial boot of B (bootcount 1)", uboot.Copy2)
	if err := l.Confirm(b); err != nil {
		t.Fatal(err)
	}
	check("confirmed B", uboot.Copy1)

	// An unconfirmed trial of A, rolled back by altbootcmd.
	update2 := b.Clone()
	if err := l.Write(update2, uboot.SlotA, blob(spec("3.0.0"))); err != nil {
		t.Fatal(err)
	}
	if err := l.Activate(update2, uboot.SlotA); err != nil {
		t.Fatal(err)
	}
	mustBoot(t, update2)
	if r := mustBoot(t, update2); !r.FellBack || r.Slot != uboot.SlotB {
		t.Fatalf("second unconfirmed boot: %+v", r)
	}
	b = update2
	check("rolled back to B by altbootcmd", uboot.Copy1)

	// The two-step hazard: copy 1 is in use, so Activate writes copy 2; a
	// cut before the OBSOLETE flag leaves both ACTIVE, and copy 1, the
	// older env, wins for both tools: the activation is lost.
	cut := b.Clone()
	activateCutBeforeFlag(t, cut, uboot.SlotA)
	b = cut
	check("Activate cut before OBSOLETE: both ACTIVE, older copy 1 wins", uboot.Copy1)
	c1, c2 := readPart(t, b, "env1", envSize), readPart(t, b, "env2", envSize)
	if c1[uboot.FlagsOffset] != uboot.FlagActive || c2[uboot.FlagsOffset] != uboot.FlagActive {
		t.Fatalf("flags %d, %d: want both ACTIVE", c1[uboot.FlagsOffset], c2[uboot.FlagsOffset])
	}
	newer, err := uboot.ParseEnv(c2)
	if err != nil || newer.Get(uboot.VarBootPart) != uboot.SlotA || loadEnv(t, l, b).Env.Get(uboot.VarBootPart) != uboot.SlotB {
		t.Fatalf("copy 2 (%v) should hold the lost activation of A, copy 1 the old boot_part=B", err)
	}

	corrupt(t, b, "env1", envSize-1)
	check("copy 1 corrupted", uboot.Copy2)
	corrupt(t, b, "env2", envSize-1)
	check("both copies corrupted: default environment", uboot.CopyNone)
}

// activateCutBeforeFlag runs Activate with a power cut at its last
// operation, the OBSOLETE flag, and powers the board on again.
func activateCutBeforeFlag(t *testing.T, b *boards.Board, slot string) {
	t.Helper()
	probe := b.Clone()
	start := probe.Chip.Ops()
	if err := probe.Loader.Activate(probe, slot); err != nil {
		t.Fatal(err)
	}
	last := probe.Chip.Ops() - 1
	if op := probe.Chip.LastOp(); op.Kind != flash.OpProgram || op.Len != 1 {
		t.Fatalf("Activate's last op is %+v, want the one-byte flag program", op)
	}
	if err := b.Chip.ArmCut(last, flash.CutBefore, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, slot); err == nil {
		t.Fatalf("Activate survived a cut at op %d (ops %d…%d)", last, start, last)
	}
	b.PowerCut()
	b.PowerOn()
}

// TestOracle_SelectAgreesWithFwPrintenv gives both tools the same pairs of
// copies and checks they choose the same one.
func TestOracle_SelectAgreesWithFwPrintenv(t *testing.T) {
	l := newLoader(t, uboot.Options{})
	o := newOracle(t, l)
	mk := func(flags byte, who string, bad bool) []byte {
		c := rawCopy(flags, "who="+who+"\x00\x00", envSize)
		if bad {
			c[envSize-1] = 0
		}
		return c
	}
	for _, tc := range []struct {
		f1, f2     byte
		bad1, bad2 bool
	}{
		{1, 1, false, false}, {1, 0, false, false}, {0, 1, false, false}, {0, 0, false, false},
		{255, 0, false, false}, {0, 255, false, false}, {255, 255, false, false},
		{5, 6, false, false}, {6, 5, false, false}, {254, 255, false, false},
		{1, 0, true, false}, {1, 0, false, true}, {1, 0, true, true},
	} {
		name := fmt.Sprintf("flags%d_%d_bad%v_%v", tc.f1, tc.f2, tc.bad1, tc.bad2)
		t.Run(name, func(t *testing.T) {
			c1, c2 := mk(tc.f1, "one", tc.bad1), mk(tc.f2, "two", tc.bad2)
			writeFile(t, o.paths[0], c1)
			writeFile(t, o.paths[1], c2)
			got, stderr := o.print(t)
			sel := uboot.Select(c1, c2)
			want := map[uboot.Copy]string{uboot.Copy1: "one", uboot.Copy2: "two"}[sel.Copy]
			if got["who"] != want {
				t.Fatalf("fw_printenv reads who=%q (stderr %q), Select chose %v", got["who"], stderr, sel.Copy)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestOracle_FwSetenvWritesModelReads lets fw_setenv do the updater's
// install write (Mender's) on a dump of the model's env, puts the files
// back on the chip, and boots the model from them.
func TestOracle_FwSetenvWritesModelReads(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	o := newOracle(t, l)
	if err := l.Write(b, uboot.SlotB, blob(spec("2.0.0"))); err != nil {
		t.Fatal(err)
	}
	before := loadEnv(t, l, b) // copy 2 in use, ACTIVE
	o.dump(t, b)
	o.set(t, "boot_part=B\nupgrade_available=1\nbootcount=0\nbootargs=console=ttyS0,115200 root=/dev/mtdblock3 rw\n")
	c1, c2 := o.files(t)

	// fw_setenv wrote copy 1 with the serial scheme: flags 1 + 1.
	if c1[uboot.FlagsOffset] != 2 || c2[uboot.FlagsOffset] != uboot.FlagActive {
		t.Fatalf("fw_setenv flags: copy 1 %d, copy 2 %d; want 2 and 1 (serial counter)", c1[4], c2[4])
	}
	sel := uboot.Select(c1, c2)
	printed, _ := o.print(t)
	if sel.Copy != uboot.Copy1 || !maps.Equal(sel.Env.Vars, printed) {
		t.Fatalf("model reads %v:\n%s\nfw_printenv:\n%s", sel.Copy, envText(sel.Env.Vars), envText(printed))
	}
	want := before.Env.Clone()
	for k, v := range map[string]string{"boot_part": "B", "upgrade_available": "1", "bootcount": "0", "bootargs": "console=ttyS0,115200 root=/dev/mtdblock3 rw"} {
		want.Vars[k] = v
	}
	if !maps.Equal(sel.Env.Vars, want.Vars) {
		t.Fatalf("env after fw_setenv:\n%s\nwant\n%s", envText(sel.Env.Vars), envText(want.Vars))
	}
	want.Flags = 2
	// Same flags byte and same list, byte for byte. The padding after the
	// list is not compared: libubootenv does not clear its buffer.
	enc, err := want.Encode(envSize)
	if err != nil {
		t.Fatal(err)
	}
	end := uboot.HeaderSize + bytes.Index(enc[uboot.HeaderSize:], []byte{0, 0}) + 2
	if !bytes.Equal(enc[uboot.FlagsOffset:end], c1[uboot.FlagsOffset:end]) {
		t.Fatalf("Encode of the same env differs from fw_setenv's list:\n%q\n%q", enc[:end], c1[:end])
	}
	if i := firstDiff(enc[end:], c1[end:]); i >= 0 {
		t.Logf("fw_setenv's padding differs from 0xFF at 0x%x (%x…): the CRC covers it, the model accepts it", end+i, c1[end+i:end+i+8])
	}

	// The model boots what fw_setenv wrote: B on trial, then confirms it.
	overwrite(t, b, "env1", c1)
	overwrite(t, b, "env2", c2)
	r := mustBoot(t, b)
	if r.Slot != uboot.SlotB || !r.Trial || r.Image.Version.String() != "2.0.0" {
		t.Fatalf("boot after fw_setenv: %+v", r)
	}
	if err := l.Confirm(b); err != nil {
		t.Fatal(err)
	}
	o.dump(t, b)
	printed, _ = o.print(t)
	if printed["upgrade_available"] != "0" || printed["boot_part"] != "B" || printed["bootargs"] != want.Vars["bootargs"] {
		t.Fatalf("fw_printenv after the model's confirm:\n%s", envText(printed))
	}
}
