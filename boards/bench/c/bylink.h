/*
 * bylink: the frame codec of brickyard's bench link protocol, version 1
 * (docs/bench-protocol.md), for a board's test firmware.
 *
 * A frame on the UART is
 *
 *     0x00 0xA5 COBS(header | payload | CRC-32) 0x00
 *
 * header: version (1), type, flags, seq, payload length (u16 little
 * endian); CRC-32 (IEEE 802.3, as zlib's crc32) over header and payload,
 * little endian. Everything outside frames is console text.
 *
 * Plain C99, no allocation, no libc beyond <stddef.h>/<stdint.h>/<string.h>;
 * a receiver needs BYL_MAX_ENCODED + BYL_MAX_RAW bytes of RAM (or less with
 * a smaller BYL_MAX_PAYLOAD, which must then be the board's Hello
 * max_payload).
 */
#ifndef BYLINK_H
#define BYLINK_H

#include <stddef.h>
#include <stdint.h>

#define BYL_VERSION 1
#define BYL_DELIM 0x00
#define BYL_MARK 0xA5
#define BYL_HEADER_LEN 6
#define BYL_CRC_LEN 4
#ifndef BYL_MAX_PAYLOAD
#define BYL_MAX_PAYLOAD 4096
#endif
#define BYL_MAX_RAW (BYL_HEADER_LEN + BYL_MAX_PAYLOAD + BYL_CRC_LEN)
#define BYL_MAX_ENCODED (BYL_MAX_RAW + BYL_MAX_RAW / 254 + 1)
#define BYL_MAX_FRAME (2 + BYL_MAX_ENCODED + 1)

/* Flags. */
#define BYL_F_RESP 0x01
#define BYL_F_ERR 0x02
#define BYL_F_EVENT 0x04
#define BYL_F_FIRST 0x08
#define BYL_F_LAST 0x10
#define BYL_F_KNOWN 0x1F

/* Results of byl_decode (0 is success). */
enum byl_err {
	BYL_OK = 0,
	BYL_E_COBS = 1,      /* not a COBS encoding */
	BYL_E_SHORT = 2,     /* shorter than a header and a CRC */
	BYL_E_LENGTH = 3,    /* length field does not match the size */
	BYL_E_CRC = 4,       /* CRC mismatch */
	BYL_E_VERSION = 5,   /* good CRC, another protocol version */
	BYL_E_FLAGS = 6,     /* unknown flag bits */
	BYL_E_OVERSIZED = 7, /* longer than BYL_MAX_ENCODED */
	BYL_E_TOOLARGE = 8   /* payload longer than BYL_MAX_PAYLOAD */
};

struct byl_frame {
	uint8_t version; /* set by byl_decode (BYL_E_VERSION leaves the received one) */
	uint8_t type;
	uint8_t flags;
	uint8_t seq;
	uint16_t len;
	const uint8_t *payload; /* points into the caller's buffer */
};

/* byl_crc32 continues a CRC-32 (start with 0). */
uint32_t byl_crc32(uint32_t crc, const uint8_t *p, size_t n);

/*
 * byl_encode writes f's frame, delimiters included, to out (room for
 * cap bytes; BYL_MAX_FRAME always suffices). It returns the frame's length,
 * or 0 when the payload is too long or out too small.
 */
size_t byl_encode(const struct byl_frame *f, uint8_t *out, size_t cap);

/*
 * byl_decode decodes a frame's COBS body (the bytes between the marker and
 * the closing delimiter) into raw (room for BYL_MAX_RAW bytes). On success
 * f->payload points into raw.
 */
enum byl_err byl_decode(const uint8_t *body, size_t n, uint8_t *raw, struct byl_frame *f);

/*
 * The receiver: feed it the UART's bytes one at a time. byl_rx_byte
 * returns BYL_RX_FRAME when a frame is complete (in rx->frame, valid until
 * the next call), BYL_RX_BAD when a candidate frame did not decode
 * (rx->err says why), BYL_RX_TEXT when the byte is console text, and
 * BYL_RX_NONE otherwise.
 */
enum byl_rx_result { BYL_RX_NONE = 0, BYL_RX_TEXT, BYL_RX_FRAME, BYL_RX_BAD };

struct byl_rx {
	uint8_t state;
	size_t n;
	uint8_t body[BYL_MAX_ENCODED];
	uint8_t raw[BYL_MAX_RAW];
	struct byl_frame frame;
	enum byl_err err;
};

void byl_rx_init(struct byl_rx *rx);
enum byl_rx_result byl_rx_byte(struct byl_rx *rx, uint8_t c);

#endif
