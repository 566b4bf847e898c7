/* libFuzzer target: PE images and their Authenticode signatures (pe.h,
 * pkcs7.h). The input picks its own entry point, so that real files make
 * good seeds and the fuzzer need not rebuild a PE to reach the signature:
 *   "MZ..."       a whole image: mig_pe_inspect()
 *   0x30 ...      a DER blob: mig_pkcs7_authenticode()
 *   anything else a certificate table, appended to a small valid PE32+
 * Every buffer is allocated at its exact size, so ASan sees any over-read. */
#include "pe.h"
#include "pkcs7.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HDRS    0x200
#define TABLE   0x400           /* headers + one 0x200-byte section */
#define OPT_OFF 0x58

static uint8_t tmpl[TABLE];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

static void build_template(void)
{
	uint8_t *s = tmpl + OPT_OFF + 240;

	tmpl[0] = 'M'; tmpl[1] = 'Z';
	put32(tmpl + 0x3c, 0x40);
	memcpy(tmpl + 0x40, "PE\0\0", 4);
	put16(tmpl + 0x44, 0x8664);
	put16(tmpl + 0x46, 1);
	put16(tmpl + 0x54, 240);
	put16(tmpl + OPT_OFF, 0x20b);
	put32(tmpl + OPT_OFF + 60, HDRS);
	put16(tmpl + OPT_OFF + 68, 10);
	put32(tmpl + OPT_OFF + 108, 16);
	memcpy(s, ".text", 5);
	put32(s + 16, TABLE - HDRS);
	put32(s + 20, HDRS);
	for (size_t i = HDRS; i < TABLE; i++)
		tmpl[i] = (uint8_t)i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_pe_info pe;
	struct mig_authenticode a;
	uint8_t *buf;

	if (size >= 2 && data[0] == 'M' && data[1] == 'Z') {
		buf = malloc(size);
		memcpy(buf, data, size);
		(void)mig_pe_inspect(buf, size, &pe, NULL);
	} else if (size >= 1 && data[0] == 0x30) {
		buf = malloc(size);
		memcpy(buf, data, size);
		(void)mig_pkcs7_authenticode(buf, size, &a, NULL);
	} else {
		if (!tmpl[0])
			build_template();
		buf = malloc(TABLE + size);
		memcpy(buf, tmpl, TABLE);
		memcpy(buf + TABLE, data, size);
		put32(buf + OPT_OFF + 112 + 4 * 8, TABLE);
		put32(buf + OPT_OFF + 112 + 4 * 8 + 4, (uint32_t)size);
		(void)mig_pe_inspect(buf, TABLE + size, &pe, NULL);
	}
	free(buf);
	return 0;
}
