/* bylink: the bench link protocol's frame codec; see bylink.h. */
#include "bylink.h"

#include <string.h>

uint32_t byl_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * COBS, as the Go side (boards/bench/wire) encodes it: a code byte before
 * each run of up to 254 non-zero bytes; a full run (code 0xFF) is followed
 * by a new code byte even at the end of the data.
 */
struct cobs_out {
	uint8_t *p;
	size_t n, cap, code;
	uint8_t run;
	int full;
};

static void cobs_byte(struct cobs_out *o, uint8_t b)
{
	if (o->full)
		return;
	if (b == 0) {
		o->p[o->code] = o->run;
		if (o->n >= o->cap) {
			o->full = 1;
			return;
		}
		o->code = o->n++;
		o->run = 1;
		return;
	}
	if (o->n >= o->cap) {
		o->full = 1;
		return;
	}
	o->p[o->n++] = b;
	if (++o->run == 0xFF) {
		o->p[o->code] = o->run;
		if (o->n >= o->cap) {
			o->full = 1;
			return;
		}
		o->code = o->n++;
		o->run = 1;
	}
}

size_t byl_encode(const struct byl_frame *f, uint8_t *out, size_t cap)
{
	uint8_t hdr[BYL_HEADER_LEN], crc[BYL_CRC_LEN];
	if (f->len > BYL_MAX_PAYLOAD || cap < 4 || (f->len > 0 && f->payload == NULL))
		return 0;
	hdr[0] = BYL_VERSION;
	hdr[1] = f->type;
	hdr[2] = f->flags;
	hdr[3] = f->seq;
	put_le16(hdr + 4, f->len);
	uint32_t sum = byl_crc32(0, hdr, sizeof hdr);
	sum = byl_crc32(sum, f->payload, f->len);
	put_le32(crc, sum);

	out[0] = BYL_DELIM;
	out[1] = BYL_MARK;
	struct cobs_out o = {out, 3, cap - 1, 2, 1, 0}; /* keep one byte for the end delimiter */
	for (size_t i = 0; i < sizeof hdr; i++)
		cobs_byte(&o, hdr[i]);
	for (size_t i = 0; i < f->len; i++)
		cobs_byte(&o, f->payload[i]);
	for (size_t i = 0; i < sizeof crc; i++)
		cobs_byte(&o, crc[i]);
	if (o.full)
		return 0;
	o.p[o.code] = o.run;
	out[o.n++] = BYL_DELIM;
	return o.n;
}

enum byl_err byl_decode(const uint8_t *body, size_t n, uint8_t *raw, struct byl_frame *f)
{
	size_t r = 0; /* decoded length; bytes past BYL_MAX_RAW are counted, not stored */
	if (n > BYL_MAX_ENCODED)
		return BYL_E_OVERSIZED;
	for (size_t i = 0; i < n;) {
		size_t code = body[i];
		if (code == 0 || i + code > n)
			return BYL_E_COBS;
		for (size_t k = 1; k < code; k++) {
			if (body[i + k] == 0)
				return BYL_E_COBS;
			if (r < BYL_MAX_RAW)
				raw[r] = body[i + k];
			r++;
		}
		i += code;
		if (code < 0xFF && i < n) {
			if (r < BYL_MAX_RAW)
				raw[r] = 0;
			r++;
		}
	}
	if (r > BYL_MAX_RAW)
		return BYL_E_TOOLARGE;
	if (r < BYL_HEADER_LEN + BYL_CRC_LEN)
		return BYL_E_SHORT;
	uint16_t len = (uint16_t)(raw[4] | raw[5] << 8);
	if (len > BYL_MAX_PAYLOAD)
		return BYL_E_TOOLARGE;
	if ((size_t)BYL_HEADER_LEN + len + BYL_CRC_LEN != r)
		return BYL_E_LENGTH;
	if (byl_crc32(0, raw, BYL_HEADER_LEN + (size_t)len) != get_le32(raw + BYL_HEADER_LEN + len))
		return BYL_E_CRC;
	f->version = raw[0];
	if (raw[0] != BYL_VERSION)
		return BYL_E_VERSION;
	f->type = raw[1];
	f->flags = raw[2];
	f->seq = raw[3];
	f->len = len;
	f->payload = raw + BYL_HEADER_LEN;
	if (f->flags & ~BYL_F_KNOWN)
		return BYL_E_FLAGS;
	return BYL_OK;
}

enum { RX_TEXT = 0, RX_SYNC, RX_FRAME, RX_SKIP };

void byl_rx_init(struct byl_rx *rx)
{
	memset(rx, 0, sizeof *rx);
	rx->state = RX_TEXT;
}

enum byl_rx_result byl_rx_byte(struct byl_rx *rx, uint8_t c)
{
	switch (rx->state) {
	case RX_TEXT:
		if (c == BYL_DELIM) {
			rx->state = RX_SYNC;
			return BYL_RX_NONE;
		}
		return BYL_RX_TEXT;
	case RX_SYNC:
		if (c == BYL_DELIM)
			return BYL_RX_NONE;
		if (c == BYL_MARK) {
			rx->state = RX_FRAME;
			rx->n = 0;
			return BYL_RX_NONE;
		}
		rx->state = RX_TEXT;
		return BYL_RX_TEXT;
	case RX_FRAME:
		if (c == BYL_DELIM) {
			rx->state = RX_SYNC;
			if (rx->n == 0)
				return BYL_RX_NONE;
			rx->err = byl_decode(rx->body, rx->n, rx->raw, &rx->frame);
			return rx->err == BYL_OK ? BYL_RX_FRAME : BYL_RX_BAD;
		}
		if (rx->n == BYL_MAX_ENCODED) {
			rx->state = RX_SKIP;
			rx->err = BYL_E_OVERSIZED;
			return BYL_RX_BAD;
		}
		rx->body[rx->n++] = c;
		return BYL_RX_NONE;
	default: /* RX_SKIP */
		if (c == BYL_DELIM)
			rx->state = RX_SYNC;
		return BYL_RX_NONE;
	}
}
