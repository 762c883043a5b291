/*
 * bylink_test: drives the codec from the Go side's tests
 * (boards/bench/wire/ccodec_test.go). One command a line on stdin, one
 * answer (or several, for split) on stdout; bytes are hex.
 *
 *   crc HEX                      -> crc XXXXXXXX
 *   encode TYPE FLAGS SEQ HEX    -> frame HEX | err 0
 *   decode HEX                   -> ok TYPE FLAGS SEQ HEX | err N
 *   split HEX                    -> frame TYPE FLAGS SEQ HEX | text HEX | bad N ..., then end
 *
 * Run with no arguments; "selftest" as its argument checks the CRC
 * vector and an encode/decode round trip and exits 0 or 1.
 */
#define _POSIX_C_SOURCE 200809L
#include "bylink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t len = strlen(s);
	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static void puthex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void put_frame(const char *tag, const struct byl_frame *f)
{
	printf("%s %u %u %u ", tag, f->type, f->flags, f->seq);
	puthex(f->payload, f->len);
	printf("\n");
}

static int selftest(void)
{
	static uint8_t buf[BYL_MAX_FRAME], raw[BYL_MAX_RAW];
	const uint8_t v[] = "123456789";
	if (byl_crc32(0, v, 9) != 0xCBF43926u) {
		fprintf(stderr, "crc vector\n");
		return 1;
	}
	uint8_t payload[300];
	for (int i = 0; i < 300; i++)
		payload[i] = (uint8_t)(i % 3 ? i : 0);
	struct byl_frame f = {BYL_VERSION, 0x11, BYL_F_FIRST | BYL_F_LAST, 7, sizeof payload, payload}, g;
	size_t n = byl_encode(&f, buf, sizeof buf);
	if (n == 0 || buf[0] != 0 || buf[1] != BYL_MARK || buf[n - 1] != 0) {
		fprintf(stderr, "encode\n");
		return 1;
	}
	if (byl_decode(buf + 2, n - 3, raw, &g) != BYL_OK || g.len != f.len || memcmp(g.payload, payload, f.len) != 0) {
		fprintf(stderr, "decode\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t bytes[1 << 20], out[BYL_MAX_FRAME], raw[BYL_MAX_RAW];
	static struct byl_rx rx;
	char *line = NULL;
	size_t cap = 0;
	if (argc > 1 && strcmp(argv[1], "selftest") == 0)
		return selftest();
	while (getline(&line, &cap, stdin) > 0) {
		line[strcspn(line, "\r\n")] = 0;
		char cmd[16];
		unsigned type, flags, seq;
		size_t n = 0;
		char *arg = strchr(line, ' ');
		if (sscanf(line, "%15s", cmd) != 1)
			continue;
		arg = arg ? arg + 1 : line + strlen(line);
		if (strcmp(cmd, "crc") == 0) {
			if (unhex(arg, bytes, sizeof bytes, &n) != 0)
				return 2;
			printf("crc %08x\n", byl_crc32(0, bytes, n));
		} else if (strcmp(cmd, "encode") == 0) {
			int used = 0;
			if (sscanf(arg, "%u %u %u %n", &type, &flags, &seq, &used) != 3)
				return 2;
			if (unhex(arg + used, bytes, sizeof bytes, &n) != 0)
				return 2;
			struct byl_frame f = {BYL_VERSION, (uint8_t)type, (uint8_t)flags, (uint8_t)seq, (uint16_t)n, bytes};
			size_t m = n > 0xFFFF ? 0 : byl_encode(&f, out, sizeof out);
			if (m == 0) {
				printf("err 0\n");
			} else {
				printf("frame ");
				puthex(out, m);
				printf("\n");
			}
		} else if (strcmp(cmd, "decode") == 0) {
			if (unhex(arg, bytes, sizeof bytes, &n) != 0)
				return 2;
			struct byl_frame f;
			enum byl_err e = byl_decode(bytes, n, raw, &f);
			if (e != BYL_OK)
				printf("err %d\n", e);
			else
				put_frame("ok", &f);
		} else if (strcmp(cmd, "split") == 0) {
			if (unhex(arg, bytes, sizeof bytes, &n) != 0)
				return 2;
			byl_rx_init(&rx);
			int intext = 0;
			for (size_t i = 0; i < n; i++) {
				enum byl_rx_result r = byl_rx_byte(&rx, bytes[i]);
				if (r != BYL_RX_TEXT && intext) {
					printf("\n");
					intext = 0;
				}
				switch (r) {
				case BYL_RX_TEXT:
					if (!intext)
						printf("text ");
					intext = 1;
					printf("%02x", bytes[i]);
					break;
				case BYL_RX_FRAME:
					put_frame("frame", &rx.frame);
					break;
				case BYL_RX_BAD:
					printf("bad %d\n", rx.err);
					break;
				default:
					break;
				}
			}
			if (intext)
				printf("\n");
			printf("end\n");
		} else {
			fprintf(stderr, "unknown command %s\n", cmd);
			return 2;
		}
		fflush(stdout);
	}
	free(line);
	return 0;
}
