// Package espota models ESP-IDF app OTA with rollback enabled
// (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE), the bootloader model "esp-ota".
// It keeps ESP-IDF's otadata partition byte for byte and performs the flash
// operations of esp_ota_ops.c and bootloader_utility.c in their order.
// Images are brickyard's own signed format (package image), not ESP's app
// image.
//
// # Layout
//
// Partitions "otadata" (exactly two erase sectors, 4 KiB on ESP chips),
// "ota_0" and "ota_1"; optionally "factory". Slots are ota_0 and ota_1.
//
// # otadata
//
// One 32-byte entry at the start of each sector: ota_seq u32 LE,
// seq_label[20] (0xFF), ota_state u32 LE, crc u32 LE = SeqCRC(ota_seq).
// The state is not covered by the CRC. An entry is invalid when its seq is
// 0xFFFFFFFF or its state INVALID or ABORTED, valid when not invalid and
// its CRC matches. The active entry is the valid one with the larger seq
// (sector 0 on a tie); it boots ota_((seq−1) mod 2). Both entries invalid
// (all-erased otadata is ESP's "factory state") boots the factory
// partition if there is one, else ota_0.
//
// # Flash operations
//
//	Provision(img)  factory layout: img into factory, erase otadata.
//	                Otherwise: img into ota_0, erase otadata, program
//	                {seq 1, VALID} into sector 0 (Options.FactoryState
//	                skips this; the first boot then writes it).
//	Write(slot)     esp_ota_begin/esp_ota_write: refuse the running slot
//	                and a running app in PENDING_VERIFY; erase the whole
//	                slot (OTA_SIZE_UNKNOWN), then program the image.
//	Activate(slot)  esp_ota_set_boot_partition: verify the image; erase the
//	                non-active sector; program {NextSeq, NEW}. With no
//	                valid entry: sector 0, seq k+1. Commit point: that
//	                32-byte program.
//	Boot            1. each sector in PENDING_VERIFY: ABORTED, erase +
//	                   program in place; 2. select the active entry;
//	                3. selected NEW: PENDING_VERIFY, erase + program in
//	                place; 4. verify and boot it, or the next partition
//	                (down to factory, then up through the ota slots).
//	                The boot of a PENDING_VERIFY entry is the trial: the
//	                new app gets exactly this one boot.
//	Confirm         esp_ota_mark_app_valid_cancel_rollback: active entry
//	                not VALID ⇒ set VALID, erase + program the active sector
//	                in place (same seq); raise the security counter.
//
// # Hazards (none bricks in the power-cut sweep)
//
//   - Mark-valid rewrites the active sector in place. A cut after its erase
//     leaves the older sector active: the next boot runs the previous app
//     although the new one was healthy and confirming, and nothing on
//     flash says so (FellBack is false). The sweep counts these cuts as
//     rolled_back.
//   - The bootloader's NEW→PENDING_VERIFY rewrite erases the new entry
//     first: a cut there drops the update silently; the old app boots as
//     if no update had been activated.
//   - A cut during the trial boot, or any reset before Confirm, turns
//     PENDING_VERIFY into ABORTED: rollback.
//   - Torn state write: the CRC covers only the seq, so an entry whose state
//     bytes hold any value other than INVALID or ABORTED (a torn write)
//     with a good CRC is selectable, booted without a trial.
//   - SeqCRC(0) is 0xFFFFFFFF: a half-erased sector whose seq bytes read 0
//     and whose state and crc bytes read erased is a valid UNDEFINED entry
//     selecting ota_1. It loses to any valid entry with a larger seq; alone
//     it sends the bootloader to ota_1 and, if that does not verify, on
//     through the fallback order.
//
// # Modelling choices
//
//   - NextSeq follows the code, not its comment: re-activating the active
//     entry's own slot writes the same seq into the other sector, and the
//     tie goes to sector 0.
//   - Selection is the one without CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK; an
//     image below the board's security counter fails verification at load
//     time (image.Verify) and the bootloader falls back.
//
// A Loader holds configuration only. The package is pure: no goroutines,
// no clock, no I/O.
package espota
