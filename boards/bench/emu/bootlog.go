package emu

import (
	"fmt"
	"strings"

	"brickyard/boards"
)

// The boot logs board-emu prints, in the style of each bootloader kind,
// before and after the loader's decision. Lines end in CR LF, as on a
// UART console.

func preBoot(kind, board string, boots uint32) []string {
	switch kind {
	case "uboot-ab":
		return []string{
			"",
			"U-Boot SPL 2023.01 (Jan 01 2026 - 00:00:00 +0000)",
			"Trying to boot from SPI",
			"",
			"U-Boot 2023.01 (Jan 01 2026 - 00:00:00 +0000)",
			"",
			"Model: brickyard " + board,
			"DRAM:  256 MiB",
			"Core:  42 devices, 17 uclasses, devicetree: separate",
			"SF: Detected w25q64 with page size 256 Bytes, erase size 4 KiB, total 8 MiB",
			"Loading Environment from SPI Flash... OK",
			"In:    serial@10000000",
			"Out:   serial@10000000",
			"Err:   serial@10000000",
			"Net:   No ethernet found.",
		}
	case "mcuboot-swap":
		return []string{
			"*** Booting MCUboot v2.1.0 ***",
			"*** Using Zephyr OS build v3.7.0 ***",
			"I: Starting bootloader",
		}
	case "esp-ota":
		reset := "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"
		if boots > 1 {
			reset = "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"
		}
		return []string{
			"ets Jun  8 2016 00:22:57",
			"",
			reset,
			"configsip: 0, SPIWP:0xee",
			"clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
			"mode:DIO, clock div:2",
			"load:0x3fff0030,len:7104",
			"entry 0x400805f0",
			"I (29) boot: ESP-IDF v5.1.2 2nd stage bootloader",
			"I (29) boot: compile time Jan  1 2026 00:00:00",
			"I (31) boot: Multicore bootloader",
			"I (40) boot: SPI Speed      : 40MHz",
			"I (44) boot: SPI Mode       : DIO",
			"I (49) boot: SPI Flash Size : 4MB",
			"I (53) boot: Enabling RNG early entropy source...",
			"I (59) boot: Partition Table:",
			"I (62) boot: ## Label            Usage          Type ST Offset   Length",
			"I (70) boot:  0 otadata          OTA data         01 00 0000d000 00002000",
			"I (77) boot:  1 ota_0            OTA app          00 10 00010000 00180000",
			"I (85) boot:  2 ota_1            OTA app          00 11 00190000 00180000",
			"I (92) boot: End of partition table",
		}
	}
	return []string{"Boot ROM v1.0 (brickyard board-emu)", "Loading application from the app partition..."}
}

func postBoot(kind string, r boards.Boot, loader bool) []string {
	if loader {
		switch kind {
		case "uboot-ab":
			return []string{"Hit any key to stop autoboot:  0 ", "=> "}
		case "esp-ota":
			return []string{"waiting for download"}
		}
		return []string{"boot mode held: staying in the loader"}
	}
	reasons := splitReason(r.Reason)
	switch kind {
	case "uboot-ab":
		out := []string{"Hit any key to stop autoboot:  0 "}
		for _, why := range reasons {
			if strings.Contains(why, "altbootcmd") {
				out = append(out, "Warning: Bootlimit exceeded. Using altbootcmd.")
			}
			out = append(out, "## "+why)
		}
		if r.Bricked {
			return append(out, "## Error: no bootable image", "=> ")
		}
		return append(out,
			fmt.Sprintf("## Booting kernel from Legacy Image at 82000000 (boot_part=%s) ...", r.Slot),
			fmt.Sprintf("   Image Name:   brickyard %s", r.Image.Version),
			"   Verifying Checksum ... OK",
			"Starting kernel ...",
			"",
			"[    0.000000] Linux version 6.1.0 (brickyard board-emu)")
	case "mcuboot-swap":
		out := []string{"I: Primary image: magic=good, swap_type=0x1, copy_done=0x3, image_ok=0x3"}
		for _, why := range reasons {
			out = append(out, "I: "+why)
		}
		if r.Bricked {
			return append(out, "E: Unable to find bootable image")
		}
		out = append(out, "I: Bootloader chainload address offset: 0x10000")
		if r.Trial {
			out = append(out, "I: Image in the primary slot is on test")
		}
		return append(out, "I: Jumping to the first image slot", "*** Booting Zephyr OS build v3.7.0 ***")
	case "esp-ota":
		var out []string
		for _, why := range reasons {
			out = append(out, "W (120) boot: "+why)
		}
		if r.Bricked {
			return append(out, "E (130) boot: No bootable app partitions in the partition table", "user code done")
		}
		return append(out,
			fmt.Sprintf("I (130) esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=0c8a4h ( 51364) map (%s)", r.Slot),
			fmt.Sprintf("I (150) boot: Loaded app from partition %s", r.Slot),
			"I (160) cpu_start: Pro cpu up.",
			"I (170) app_init: Application information:",
			fmt.Sprintf("I (171) app_init: App version:      %s", r.Image.Version),
			"I (180) main_task: Started on CPU0")
	}
	if r.Bricked {
		return append(reasons, "no valid image: halted")
	}
	return []string{fmt.Sprintf("starting application %s", r.Image.Version)}
}

func splitReason(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "; ")
}

// appLine is what the test firmware prints once it runs.
func appLine(r boards.Boot) string {
	switch {
	case r.Bricked:
		return "board-emu: nothing booted; link resident in the boot stage"
	case r.Trial:
		return fmt.Sprintf("board-emu: running %s from %s, on trial", r.Image.Version, r.Slot)
	}
	return fmt.Sprintf("board-emu: running %s from %s", r.Image.Version, r.Slot)
}
