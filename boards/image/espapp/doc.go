// Package espapp reads, verifies and writes ESP-IDF application images
// (espressif/esp-idf: esp_app_format.h, esp_app_desc.h,
// esp_image_format.c; docs app_image_format.rst and secure-boot-v2.rst;
// espressif/esptool: bin_image.py, espsecure), and verifies them as the
// second-stage bootloader's image load does.
//
// # Layout (little-endian)
//
//	0      24-byte header: magic 0xE9, segment count (≤ 16), SPI mode,
//	       speed/size, entry, wp pin, pin drive, chip id, chip revisions
//	       (legacy, min full, max full), reserved, hash_appended
//	24     segments: {load address u32, length u32} then the data
//	…      zero padding so that the checksum byte ends a 16-byte block;
//	       the checksum is 0xEF XOR every data byte of every segment
//	…      with hash_appended: SHA-256 of everything before it
//	…      secure boot v2: the image is padded to a 4 KiB boundary (with
//	       esptool --secure-pad-v2 it ends on a 64 KiB one already) and a
//	       4 KiB signature sector follows: up to 3 blocks of 1216 bytes
//	       (magic 0xE7, version 2 RSA-3072-PSS or 3 ECDSA-P256, the
//	       image's SHA-256, the public key, the signature, CRC32), 0xff to
//	       the sector's end
//
// The application description (esp_app_desc_t, 256 bytes, magic
// 0xABCD5432) starts the first segment's data, at file offset 32: the
// secure_version anti-rollback compares, the version string, project
// name, compile time and date, IDF version and the ELF's SHA-256.
//
// # Verification (Verify), in order
//
//  1. partition at most 16 MB, magic (ErrMagic), hash_appended 0 or 1;
//  2. chip id equal to the board's, its revision within the image's
//     range (ErrChip); at most 16 segments (ErrHeader);
//  3. each segment: length a multiple of 4 below 16 MB, a flash-mapped
//     segment (IROM or DROM range) at the same offset within a 64 KiB
//     page as its address (ErrHeader), inside the partition (ErrTruncated);
//  4. the checksum (ErrChecksum);
//  5. without secure boot, the appended SHA-256 when there is one
//     (ErrHash); with secure boot v2, the SHA-256 over the image and its
//     padding to 4 KiB, and a block in the signature sector (one on the
//     ESP32, three on later chips) with the board's scheme, a valid CRC,
//     a key whose eFuse digest is a trusted key's, the image's digest and
//     a signature that verifies (ErrNotSigned, ErrUnknownKey, ErrSignature);
//  6. with anti-rollback: the description present (ErrAppDesc) and its
//     secure_version at least the eFuse counter (ErrSecureVersion).
//
// Segments are streamed in 4 KiB reads; nothing is held whole.
//
// # Writing (Pack)
//
// Pack wraps a payload as the one data segment of an app (a real app's
// segments come from its ELF: esptool elf2image is the tool for those) and
// signs it as espsecure sign_data --version 2 does. Neither esptool nor
// espsecure is packaged in Debian; the tests keep golden vectors. While
// the package was written it was checked against esptool's own test
// images: an ESP-IDF app (checksum, hash, description), a bootloader
// signed with RSA-3072 and with ECDSA-P256, one signed with three keys,
// and espsecure's key digests; and an image re-signed by this package
// matched espsecure's block byte for byte but for the randomised PSS
// signature.
//
// The package is a pure core: no goroutines, no clock, no I/O.
package espapp
