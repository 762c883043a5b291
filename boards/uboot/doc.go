// Package uboot models "uboot-ab": U-Boot with a redundant environment on
// SPI NOR (env/sf.c), the BOOTCOUNT_ENV boot counter, and an A/B updater
// that uses bootcount, bootlimit, upgrade_available and altbootcmd as
// Mender does. Two image slots, partitions "A" and "B"; the environment's
// two copies live in partitions "env1" and "env2" (configurable), each
// holding CONFIG_ENV_SIZE (Options.EnvSize, default 0x2000) rounded up to
// whole erase sectors.
//
// # The environment
//
// Each copy is U-Boot's env_t with a redundant environment: CRC-32 (little-
// endian, crc32.ChecksumIEEE over the whole data area including padding),
// a flags byte, and the data area "name=value\0…\0" padded with 0xFF
// (ParseEnv, Env.Encode). Select applies U-Boot's choice between the copies:
// the one good copy; of two good copies the one with larger flags (255
// before 0 wraps), equal flags ⇒ copy 1; no good copy ⇒ the compiled-in
// default environment. On SPI NOR the flags are ACTIVE 1 and OBSOLETE 0.
//
// # Flash operations, in order
//
// saveenv (env/sf.c env_sf_save) is the only way the environment is
// written; U-Boot, the updater (fw_setenv) and Provision all use it:
//
//  1. erase each sector of the copy not in use (copy 1 when none is good),
//     one operation per sector;
//  2. program that whole copy, flags ACTIVE (1), in one operation;
//  3. only when a sector is larger than the env: program the rest of the
//     sector back as it was read before the erase, in one operation;
//  4. program the other copy's flags byte to OBSOLETE (0): a one-byte
//     program in place.
//
// With the default 8 KiB env on 4 KiB sectors a save is four operations:
// erase, erase, program 8192 bytes, program 1 byte.
//
// The methods:
//
//	Provision(img)  WriteImage(A, img); saveenv; saveenv (default env with
//	                saveenv_canary=1: copy 1, then copy 2; both good)
//	Write(slot)     boards.WriteImage: erase every sector of the slot, then
//	                program the image from the slot's start. Refuses the
//	                running slot.
//	Activate(slot)  one saveenv of {boot_part=slot, upgrade_available=1,
//	                bootcount=0}. Refuses the running slot.
//	Boot            per U-Boot run (reads only, unless):
//	                  upgrade_available≠0            saveenv (bootcount+1)
//	                  bootcount>bootlimit≠0          saveenv (altbootcmd: other
//	                                                 slot, upgrade_available=0)
//	                  saveenv_canary≠1 (default env) saveenv (canary)
//	                then verify boot_part's image (reads). A failure with
//	                upgrade_available=1 resets: another run, which counts
//	                again, until altbootcmd switches back; otherwise U-Boot
//	                stays at its prompt (Bricked). 1024 runs without a boot
//	                (bootlimit=0 set by hand) is reported as a boot loop.
//	Confirm         one saveenv of {upgrade_available=0, bootcount=0}, then
//	                the board's security counter is raised to the image's
//	                (OTP, not flash).
//
// A stable board (upgrade_available=0, canary set) boots with no operation.
// Boot.Trial is upgrade_available≠0 at boot; Boot.FellBack is set when the
// run that booted went through altbootcmd.
//
// # Hazards
//
//   - Two-step save on NOR: a cut after step 2 and before step 4 leaves two
//     good copies both ACTIVE, and U-Boot takes copy 1, even when it is the
//     older. If the interrupted save wrote copy 2, it is lost: an Activate
//     so cut does not happen (the board stays on the old slot), a Confirm
//     so cut is undone (the trial image is rolled back at the next boot).
//   - Default environment on double corruption: with neither copy good,
//     U-Boot uses the compiled-in environment: boot_part=A, bootlimit set,
//     upgrade_available=0. That is an uncontrolled switch to slot A,
//     whatever ran before, with no trial and no way back; ab_setup's
//     canary then saves it, making it permanent. A single power cut cannot
//     cause it (a save never touches the copy in use before step 4).
//   - A power cut during a trial boot after its bootcount save counts as
//     a consumed attempt.
//   - Outside a trial (upgrade_available=0) a slot that does not verify is
//     not replaced by the other: bootcmd fails, ab_try_to_recover does not
//     reset, U-Boot waits at its prompt (Bricked).
//
// # Differences from real boards, on purpose
//
// U-Boot's hexport_r pads the data area with 0x00, mkenvimage with 0xFF;
// the model uses 0xFF (the CRC covers either). spi_flash_write splits a
// copy into 256-byte page programs; the model programs it in one operation,
// whose torn forms (a prefix) cover every cut between pages. libubootenv on
// MTD NOR erases and writes sector by sector and, with no good copy, writes
// copy 2; the model's updater uses U-Boot's order, with the same outcome:
// one new good copy. The scripts in the environment are stored for fidelity
// (fw_printenv shows them); the model performs their meaning itself.
//
// The package is pure: no goroutines, no clock, no I/O.
package uboot
