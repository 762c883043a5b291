// Package mcuboot reads, verifies and writes MCUboot images as imgtool
// writes them (mcu-tools/mcuboot: boot/bootutil/include/bootutil/image.h,
// scripts/imgtool/image.py), and verifies them as MCUboot's bootutil does
// (image_validate.c, tlv.c, the header checks of loader.c).
//
// # Layout (little-endian)
//
//	0            32-byte header: magic 0x96f3b83d, load address,
//	             ih_hdr_size, ih_protect_tlv_size, ih_img_size, flags,
//	             version (major u8, minor u8, revision u16, build u32), pad
//	32           header padding up to ih_hdr_size (zeros, or 0xff with
//	             imgtool --pad-header)
//	hdr          the body, ih_img_size bytes
//	hdr+img      protected TLV area, when ih_protect_tlv_size ≠ 0: info
//	             {0x6908, total incl. the 4-byte info}, then TLVs
//	             (SEC_CNT, DEPENDENCY, custom ones)
//	…            unprotected TLV area: info {0x6907, total}, then TLVs:
//	             SHA256 of header, body and protected area; KEYHASH
//	             (SHA-256 of the signer's key as MCUboot embeds it: PKIX
//	             DER for Ed25519 and ECDSA, PKCS#1 DER for RSA); the
//	             signature of the 32-byte hash (ED25519, ECDSA_SIG DER,
//	             RSA2048_PSS or RSA3072_PSS with a 32-byte salt)
//	end          a padded image (--pad, --test, --confirm) continues with
//	             erased bytes to the slot's end, the trailer magic in its
//	             last 16 bytes and, with --confirm, image_ok = 1 24 bytes
//	             from the end
//
// # Verification (Verify), in order; the first failure is returned
//
//  1. magic (ErrMagic), header size ≥ 32 and sizes within 32 bits
//     (ErrHeader);
//  2. flags: NON_BOOTABLE refused (ErrNotBootable), encryption and
//     compression refused (ErrUnsupported); header + body + protected
//     TLVs short of the slot's end (ErrHeader);
//  3. the TLV areas: info magics, the protected total equal to
//     ih_protect_tlv_size, every entry inside its area (ErrTLV,
//     ErrTruncated), the end within Rules.MaxImageSize (ErrHeader);
//  4. the SHA-256 of header, body and protected area, streamed in 4 KiB
//     reads, against each SHA256 TLV (ErrHash); one must exist (ErrTLV);
//  5. with a signature type: each KEYHASH selects the first trusted key
//     of that type whose hash it prefixes; each signature TLV of the type
//     is checked with the key the KEYHASH before it selected (signatures
//     after an unknown KEYHASH are skipped); the last one checked decides
//     (ErrNotSigned, ErrUnknownKey, ErrSignature);
//  6. with hardware rollback protection: a 4-byte SEC_CNT of at least the
//     policy's minimum must be present (ErrSecurityCounter).
//
// A bootloader is built for one signature type (Rules.Signature): an
// image signed with another type has no signature it can check. Images
// with PUBKEY instead of KEYHASH (imgtool --public-key-format full) need
// MCUBOOT_HW_KEY, which the model does not have: their key is unknown.
//
// # Writing (Pack)
//
// Pack implements imgtool sign's options that do not encrypt or compress:
// -v, -H, --pad-header, -L, -s, -d, --non-bootable, --public-key-format,
// -S, --pad, --test, --confirm, --align, --max-align, -M,
// --overwrite-only, -R. For an Ed25519 key, and for an unsigned image, its
// output is imgtool's byte for byte (checked against imgtool 2.4.0 while
// the package was written; imgtool is not packaged in Debian, so the
// tests hold golden vectors instead). ECDSA signatures are deterministic
// (RFC 6979) where imgtool's are random, and RSA-PSS salts are derived
// from the key and hash unless a random source is given; either way
// imgtool verify accepts them, and this package accepts imgtool's.
//
// The package is a pure core: no goroutines, no clock, no I/O.
package mcuboot
