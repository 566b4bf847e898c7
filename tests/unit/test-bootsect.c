/* Unit tests of sector-0 parsing (bootsect) and the GPT header (gpt). */
#include "tap.h"
#include "bootsect.h"
#include "gpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

TEST(empty_sector)
{
	uint8_t s[512] = { 0 };
	struct mig_bootsect b;

	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK(!b.signature && !b.boot_code && !b.grub);
	CHECK_INT(mig_bootsect_parse(s, 511, &b), -EINVAL);
}

TEST(grub_boot_img)
{
	uint8_t s[512] = { 0 };
	struct mig_bootsect b;
	FILE *f = fopen("/usr/lib/grub/i386-pc/boot.img", "rb");

	/* GRUB's real boot.img when installed (grub-pc-bin), else its landmarks */
	if (f) {
		CHECK_INT(fread(s, 1, 512, f), 512);
		fclose(f);
	} else {
		s[0] = 0xeb;
		memcpy(s + 0x180, "GRUB ", 5);
	}
	put_le64(s + 0x5c, 0x123456789aULL);
	s[510] = 0x55;
	s[511] = 0xaa;
	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK(b.signature && b.boot_code && b.grub);
	CHECK_INT(b.grub_core_lba, 0x123456789aULL);

	memset(s + 0x180, 'x', 5);      /* some other boot loader */
	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK(b.boot_code && !b.grub);
}

TEST(mbr_entries_and_hybrid)
{
	uint8_t s[512] = { 0 };
	struct mig_bootsect b;

	s[510] = 0x55;
	s[511] = 0xaa;
	put_le32(s + 0x1b8, 0x1234abcd);
	uint8_t *e = s + 0x1be;
	e[4] = 0xee;
	put_le32(e + 8, 1);
	put_le32(e + 12, 0xffffffff);
	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK_INT(b.disk_signature, 0x1234abcd);
	CHECK_INT(b.part[0].type, 0xee);
	CHECK_INT(b.part[0].sectors, 0xffffffffu);
	CHECK(!mig_bootsect_is_hybrid(&b));

	e = s + 0x1be + 16;
	e[0] = 0x80;
	e[4] = 0x83;
	put_le32(e + 8, 2048);
	put_le32(e + 12, 4096);
	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK(mig_bootsect_is_hybrid(&b));
	CHECK_INT(b.part[1].status, 0x80);
	CHECK_INT(b.part[1].start_lba, 2048);

	s[511] = 0;                     /* no signature: no entries trusted */
	CHECK_INT(mig_bootsect_parse(s, sizeof(s), &b), 0);
	CHECK(!b.signature && b.part[1].type == 0);
}

TEST(crc32_known_vector)
{
	CHECK_INT(mig_crc32(0, "123456789", 9), 0xcbf43926u);
	CHECK_INT(mig_crc32(mig_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	CHECK_INT(mig_crc32(0, "", 0), 0);
}

static void make_header(uint8_t *h)
{
	memset(h, 0, 512);
	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, 92);
	put_le64(h + 24, 1);
	put_le64(h + 32, 65535);
	put_le64(h + 40, 34);
	put_le64(h + 48, 65502);
	put_le64(h + 72, 2);
	put_le32(h + 80, 128);
	put_le32(h + 84, 128);
	put_le32(h + 16, mig_crc32(0, h, 92));
}

TEST(gpt_header)
{
	uint8_t h[512];
	struct mig_gpt_header g;

	make_header(h);
	CHECK_INT(mig_gpt_header_parse(h, sizeof(h), &g), 0);
	CHECK_INT(g.alternate_lba, 65535);
	CHECK_INT(g.last_usable_lba, 65502);
	CHECK_INT(g.nentries, 128);

	h[40] ^= 1;                     /* any change breaks the CRC */
	CHECK_INT(mig_gpt_header_parse(h, sizeof(h), &g), -EBADMSG);
	make_header(h);
	put_le32(h + 12, 600);          /* header size beyond the sector */
	CHECK_INT(mig_gpt_header_parse(h, sizeof(h), &g), -EBADMSG);
	make_header(h);
	put_le64(h + 40, 70000);        /* first usable after last usable */
	put_le32(h + 16, 0);
	put_le32(h + 16, mig_crc32(0, h, 92));
	CHECK_INT(mig_gpt_header_parse(h, sizeof(h), &g), -EBADMSG);
	memset(h, 0, 8);
	CHECK_INT(mig_gpt_header_parse(h, sizeof(h), &g), -ENOENT);
	CHECK_INT(mig_gpt_header_parse(h, 10, &g), -ENOENT);
}

int main(void)
{
	RUN(empty_sector);
	RUN(grub_boot_img);
	RUN(mbr_entries_and_hybrid);
	RUN(crc32_known_vector);
	RUN(gpt_header);
	return tap_done();
}
