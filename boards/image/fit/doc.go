// Package fit reads, verifies and writes U-Boot Flattened Image Trees
// (FIT, .itb) as Debian's mkimage (u-boot-tools) makes them, and verifies
// them as U-Boot's bootm does (u-boot/u-boot: doc/usage/fit/*.rst,
// boot/image-fit.c, boot/image-fit-sig.c, boot/fdt_region.c, libfdt).
//
// # The device tree
//
// A FIT is a flattened device tree, version 17: a 40-byte big-endian
// header (magic 0xd00dfeed, total size, the offsets of the structure
// block, the strings block and the memory reservation map, versions,
// sizes), then the blocks. ReadTree checks every offset and length
// against its block before it uses it, reads the structure block token
// by token through a 4 KiB window, keeps values longer than 64 KiB (image
// data) on flash, and refuses nesting deeper than 32 and trees of more
// than 65536 tokens.
//
// # The FIT
//
// The root has a description (mandatory), a timestamp, /images and
// /configurations. Each image node has description, type, arch, os,
// compression, load and entry, its data (inline "data", or "data-size"
// bytes at "data-offset" past the tree or at "data-position"), and hash-*
// nodes (algo crc32, md5, sha1, sha256, sha384 or sha512; value). A
// configuration names its kernel or firmware, fdt, ramdisk and loadables,
// and may hold signature-* nodes (algo "sha256,rsa2048" … "sha256,ecdsa256",
// key-name-hint, optional padding "pss", value).
//
// brickyard reads two root properties U-Boot ignores: "version", the
// version devices report (FITs carry none of their own), and
// "brickyard,health-fail", the fault-study mark.
//
// # Verification (Verify), in order
//
//  1. the tree (ErrMagic, ErrTree, ErrTruncated), a root description and
//     /images (ErrFIT); with signatures required, no node name with '@';
//  2. the configuration Rules.Config names, or the default (ErrFIT);
//  3. with signatures required (the board's keys are U-Boot's required
//     "conf" keys, required-mode "any"): a signature node of the
//     configuration that a trusted key of its algorithm verifies over the
//     regions fdt_find_regions gives for the root, the configuration and
//     every image it names with their hash nodes (data excluded), then the
//     strings block up to "hashed-strings" (ErrNotSigned, ErrUnknownKey,
//     ErrSignature). The node list is rebuilt from the configuration, as
//     current U-Boot does; "hashed-nodes" is not trusted;
//  4. a kernel (or firmware) of the right type and architecture (ErrFIT);
//  5. every image the configuration names: its data within the bytes
//     available and each hash node matching (ErrHash).
//
// # Writing (Pack)
//
// Pack writes a FIT with inline data the way mkimage -f does from a
// source file, computes every hash node and signs configurations
// (PKCS#1 v1.5 or PSS for RSA, r‖s for ECDSA), writing hashed-nodes and
// hashed-strings as mkimage does so that older U-Boots verify it too.
// The tests hold Debian's tools to it: mkimage-made FITs (-f auto, -E,
// -p, RSA and ECDSA signatures with -k/-K/-r) verify; dumpimage -l lists
// brickyard's FITs field for field and dumpimage -p extracts their data;
// and mkimage -F, re-signing a brickyard FIT whose signature was blanked,
// writes brickyard's signature byte for byte.
//
// The package is a pure core: no goroutines, no clock, no I/O.
package fit
