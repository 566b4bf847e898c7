/* Unit tests of the XFS free-block parser (xfsfs.h) on hand-built images:
 * two AGs of 1 KiB blocks (64 and 56 blocks), an 8-block internal log in
 * AG 0, one bnobt per AG (AG 1's optionally two levels), v5 with every CRC
 * computed, or v4. Real mkfs.xfs images are tests/cli/usedmap-xfs.sh. */
#include "tap.h"
#include "xfsfs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define BS       1024u
#define AGB      64u
#define DBLOCKS  120u            /* AG 1 has 56 blocks */
#define LOGAGB   16u             /* log: AG 0 blocks 16..23 */
#define LOGBLKS  8u
#define LOGBB    (LOGBLKS * BS / 512)
#define ROOT     8u
#define IMG      (DBLOCKS * BS)

static uint8_t img[IMG];
static bool v4, twolevel;

static void be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void be32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i)); }
static void be64(uint8_t *p, uint64_t v) { be32(p, (uint32_t)(v >> 32)); be32(p + 4, (uint32_t)v); }
static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint8_t *fsb(uint32_t ag, uint32_t agbno) { return img + ((size_t)ag * AGB + agbno) * BS; }
static uint8_t *logbb(uint32_t bb) { return fsb(0, LOGAGB) + (size_t)(bb % LOGBB) * 512; }
static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void seal(uint8_t *buf, size_t len, size_t off)
{
	le32(buf + off, 0);
	le32(buf + off, ~mig_crc32c(~0u, buf, len));
}

/* The free extents per AG; a test may edit them before build_ags(). */
struct ext { uint32_t start, count; };
static struct ext ext0[4], ext1[4];
static int n0, n1;

static void bt_block(uint32_t ag, uint32_t agbno, uint32_t level, uint32_t left, uint32_t right,
		     const struct ext *e, int n)
{
	uint8_t *b = fsb(ag, agbno);
	uint32_t hdr = v4 ? 16 : 56;

	memset(b, 0, BS);
	be32(b, v4 ? 0x41425442 : 0x41423342);
	be16(b + 4, level);
	be16(b + 6, (uint32_t)n);
	be32(b + 8, left);
	be32(b + 12, right);
	for (int i = 0; i < n; i++) {
		be32(b + hdr + 8 * i, e[i].start);
		be32(b + hdr + 8 * i + 4, e[i].count);
	}
	if (!v4) {
		be64(b + 16, ((uint64_t)ag * AGB + agbno) * (BS / 512));
		memcpy(b + 32, uuid, 16);
		be32(b + 48, ag);
		seal(b, BS, 52);
	}
}

static void build_ag(uint32_t ag, const struct ext *e, int n, uint32_t freeblks)
{
	uint8_t *agf = fsb(ag, 0) + 512;
	uint32_t len = ag ? DBLOCKS - AGB : AGB;

	memset(agf, 0, 512);
	be32(agf, 0x58414746);
	be32(agf + 4, 1);
	be32(agf + 8, ag);
	be32(agf + 12, len);
	be32(agf + 16, ROOT);
	be32(agf + 28, ag == 1 && twolevel ? 2 : 1);
	be32(agf + 52, freeblks);
	if (ag == 1 && twolevel) {
		/* a node at ROOT over two leaves, 9 and 10, one extent each */
		uint32_t hdr = v4 ? 16 : 56, maxr = (BS - hdr) / 12;
		struct ext keys[2] = { e[0], e[1] };

		bt_block(ag, ROOT, 1, 0xffffffff, 0xffffffff, keys, 2);
		uint8_t *b = fsb(ag, ROOT);
		be32(b + hdr + maxr * 8, 9);
		be32(b + hdr + maxr * 8 + 4, 10);
		if (!v4)
			seal(b, BS, 52);
		bt_block(ag, 9, 0, 0xffffffff, 10, e, 1);
		bt_block(ag, 10, 0, 9, 0xffffffff, e + 1, n - 1);
	} else {
		bt_block(ag, ROOT, 0, 0xffffffff, 0xffffffff, e, n);
	}
	if (!v4) {
		memcpy(agf + 64, uuid, 16);
		seal(agf, 512, 216);
	}
}

static uint32_t sum(const struct ext *e, int n)
{
	uint32_t s = 0;

	for (int i = 0; i < n; i++)
		s += e[i].count;
	return s;
}

static void build_ags(void)
{
	build_ag(0, ext0, n0, sum(ext0, n0));
	build_ag(1, ext1, n1, sum(ext1, n1));
}

/* A log record at block bb: header of cycle c, then one data block whose
 * first word is stamped with dcycle (c, or c + 1 past the log's end). */
static void put_record(uint32_t bb, uint32_t c, uint32_t dcycle, uint32_t nops, uint8_t flags,
		       uint64_t tail, bool crc)
{
	uint8_t *h = logbb(bb), *d = logbb(bb + 1);

	memset(h, 0, 512);
	memset(d, 0, 512);
	be32(h, 0xfeedbabe);
	be32(h + 4, c);
	be32(h + 8, v4 ? 1 : 2);
	be32(h + 12, 512);
	be64(h + 16, (uint64_t)c << 32 | bb);
	be64(h + 24, tail);
	be32(h + 40, nops);
	be32(h + 300, 1);
	memcpy(h + 304, uuid, 16);
	be32(h + 320, 32768);
	be32(d, dcycle);
	be32(d + 4, 8);
	d[8] = 0xaa;
	d[9] = flags;
	d[12] = 0x6e;
	d[13] = 0x55;
	if (crc) {
		uint32_t k = mig_crc32c(~0u, h, 328);

		le32(h + 32, ~mig_crc32c(k, d, 512));
	}
}

static void stamp(uint32_t from, uint32_t to, uint32_t c)
{
	for (uint32_t bb = from; bb < to; bb++)
		be32(logbb(bb), c);
}

static void seal_sb(void)
{
	if (!v4)
		seal(img, 512, 224);
}

static void build(void)
{
	uint8_t *s = img;

	memset(img, 0, sizeof(img));
	be32(s, 0x58465342);
	be32(s + 4, BS);
	be64(s + 8, DBLOCKS);
	memcpy(s + 32, uuid, 16);
	be64(s + 48, LOGAGB);           /* AG 0, block 16 */
	be32(s + 84, AGB);
	be32(s + 88, 2);
	be32(s + 96, LOGBLKS);
	be16(s + 100, v4 ? 0xb4a4 : 0xb4a5);
	be16(s + 102, 512);
	s[120] = 10;
	s[121] = 9;
	s[124] = 6;
	be32(s + 200, v4 ? 0x8a : 0x18a);
	if (!v4)
		be32(s + 216, 1);       /* ftype */
	n0 = 2; ext0[0] = (struct ext){ 30, 10 }; ext0[1] = (struct ext){ 50, 14 };
	n1 = 2; ext1[0] = (struct ext){ 20, 5 }; ext1[1] = (struct ext){ 30, 26 };
	build_ags();
	/* a log that never wrapped: the unmount record at 0, cycle 1 */
	put_record(0, 1, 1, 1, 0x20, 1ull << 32, !v4);
	seal_sb();
}

struct runs { uint64_t off[16], len[16]; int n; int fail_at; };

static int collect(void *ud, uint64_t off, uint64_t len)
{
	struct runs *r = ud;

	if (r->n == r->fail_at)
		return -EINTR;
	if (r->n < 16) {
		r->off[r->n] = off;
		r->len[r->n] = len;
	}
	r->n++;
	return 0;
}

static int rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	(void)ctx;
	if (off > IMG || len > IMG - off)
		return -EIO;
	memcpy(buf, img + off, len);
	return 0;
}

static struct mig_xfs_info info;
static struct runs runs;

static int run(void)
{
	memset(&runs, 0, sizeof(runs));
	runs.fail_at = -1;
	return mig_xfs_free_ranges(rd, NULL, IMG, collect, &runs, &info);
}

#define K(b) ((uint64_t)(b) * BS)

static void check_all_free(void)
{
	CHECK_INT(runs.n, 4);
	CHECK_INT(runs.off[0], K(30)); CHECK_INT(runs.len[0], K(10));
	CHECK_INT(runs.off[1], K(50)); CHECK_INT(runs.len[1], K(14));
	CHECK_INT(runs.off[2], K(84)); CHECK_INT(runs.len[2], K(5));
	CHECK_INT(runs.off[3], K(94)); CHECK_INT(runs.len[3], K(26));
	CHECK_INT(info.free_blocks, 55);
	CHECK_INT(info.ags_distrusted, 0);
	CHECK_STR(info.note, "");
}

TEST(clean_v5)
{
	v4 = twolevel = false;
	build();
	CHECK_INT(run(), 0);
	check_all_free();
	CHECK_INT(info.version, 5);
	CHECK_INT(info.log_head, 2);
	CHECK_INT(info.agf_free_blocks, 55);
}

TEST(clean_v4)
{
	v4 = true;
	twolevel = false;
	build();
	CHECK_INT(run(), 0);
	check_all_free();
	CHECK_INT(info.version, 4);
	v4 = false;
}

TEST(two_level_bnobt)
{
	twolevel = true;
	build();
	CHECK_INT(run(), 0);
	check_all_free();
	/* leaf 10 names the wrong left sibling */
	uint8_t *b = fsb(1, 10);
	be32(b + 8, 8);
	seal(b, BS, 52);
	CHECK_INT(run(), 0);
	CHECK_INT(info.ags_distrusted, 1);
	CHECK_INT(runs.n, 2);
	CHECK(strstr(info.note, "AG 1: bnobt block 10: wrong left sibling") != NULL);
	/* a loop: leaf 10 points back to 9 */
	build();
	b = fsb(1, 10);
	be32(b + 12, 9);
	seal(b, BS, 52);
	CHECK_INT(run(), 0);
	CHECK_INT(info.ags_distrusted, 1);
	twolevel = false;
}

TEST(log_wrapped)
{
	build();
	/* The record began at the last block in cycle 1, its data wrapped to
	 * block 0 in cycle 2: head 1. */
	stamp(0, LOGBB, 1);
	put_record(LOGBB - 1, 1, 2, 1, 0x20, 1ull << 32 | 3, true);
	CHECK_INT(run(), 0);
	CHECK_INT(info.log_head, 1);
	CHECK_INT(runs.n, 4);
	/* The record ends exactly at the log's end: every block cycle 2, head 0. */
	stamp(0, LOGBB, 2);
	put_record(LOGBB - 2, 2, 2, 1, 0x20, 2ull << 32 | 5, true);
	CHECK_INT(run(), 0);
	CHECK_INT(info.log_head, 0);
}

TEST(log_dirty)
{
	build();
	put_record(0, 1, 1, 2, 0x20, 1ull << 32, true);        /* two ops */
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "log needs recovery") != NULL);
	CHECK_INT(runs.n, 0);
	CHECK_INT(info.free_blocks, 0);

	build();
	put_record(2, 1, 1, 1, 0x00, 1ull << 32, true);        /* a transaction after the unmount */
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "not an unmount record") != NULL);

	build();
	stamp(2, 3, 1);                                         /* one more block of cycle 1: head 3 */
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "does not end at the log head") != NULL);

	build();
	stamp(6, 7, 1);                                         /* cycle 1 again after the head */
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "after the head") != NULL);

	build();
	stamp(0, LOGBB, 3);
	put_record(0, 3, 3, 1, 0x20, 3ull << 32, true);
	stamp(2, 3, 1);                                         /* cycle 1 follows cycle 3 */
	CHECK_INT(run(), -EBADMSG);

	build();
	memset(logbb(0), 0, LOGBB * 512);                       /* zeroed */
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "zeroed") != NULL);
}

TEST(log_record_crc)
{
	build();
	logbb(1)[100] ^= 1;
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "checksum") != NULL);
	/* mkfs's record: no CRC and the tail at itself */
	build();
	put_record(0, 1, 1, 1, 0x20, 1ull << 32, false);
	CHECK_INT(run(), 0);
	/* xfs_repair -L's: no CRC, cycle 3 at 0, the tail at the old end, a
	 * zeroed window, then the old cycle's blocks */
	stamp(0, LOGBB, 2);
	put_record(0, 3, 3, 1, 0x20, 2ull << 32 | (LOGBB - 1), false);
	memset(logbb(2), 0, 6 * 512);
	CHECK_INT(run(), 0);
	CHECK_INT(info.log_head, 2);
	/* ... but old blocks, then zeros again: refused */
	memset(logbb(12), 0, 512);
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "after the head") != NULL);
	/* a tail after the record itself: refused */
	build();
	put_record(0, 1, 1, 1, 0x20, 1ull << 32 | 5, false);
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "past the last record") != NULL);
	/* the log of another filesystem */
	build();
	put_record(0, 1, 1, 1, 0x20, 1ull << 32, false);
	logbb(0)[304] ^= 1;
	CHECK_INT(run(), -EBADMSG);
	CHECK(strstr(info.reason, "another filesystem") != NULL);
}

TEST(agf_damaged)
{
	build();
	fsb(1, 0)[512 + 100] ^= 1;
	CHECK_INT(run(), 0);
	CHECK_INT(runs.n, 2);
	CHECK_INT(info.free_blocks, 24);
	CHECK_INT(info.ags_distrusted, 1);
	CHECK_STR(info.note, "AG 1: AGF checksum mismatch: AG kept used");
}

TEST(bnobt_inconsistent)
{
	static const struct { struct ext e[2]; uint32_t agf_add; const char *why; } c[] = {
		{ { { 30, 10 }, { 35, 10 } }, 0, "out of order" },       /* overlap */
		{ { { 50, 14 }, { 30, 10 } }, 0, "out of order" },       /* descending */
		{ { { 1, 5 }, { 30, 10 } }, 0, "out of order" },         /* over the AG headers */
		{ { { 20, 5 }, { 30, 10 } }, 0, "overlaps the log" },
		{ { { 30, 10 }, { 50, 15 } }, 0, "outside the AG" },
		{ { { 30, 10 }, { 50, 14 } }, 1, "the bnobt holds 24 free blocks, the AGF 25" },
		{ { { 30, 0 }, { 50, 14 } }, 0, "out of order" },        /* empty extent */
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		build();
		build_ag(0, c[i].e, 2, c[i].e[0].count + c[i].e[1].count + c[i].agf_add);
		CHECK_INT(run(), 0);
		CHECK_INT(info.ags_distrusted, 1);
		CHECK_INT(info.free_blocks, 31);
		CHECK_INT(runs.n, 2);
		CHECK(strstr(info.note, c[i].why) != NULL);
		if (!strstr(info.note, c[i].why))
			printf("# case %zu: %s\n", i, info.note);
	}
	/* a bnobt block of another AG */
	build();
	uint8_t *b = fsb(0, ROOT);
	be32(b + 48, 1);
	seal(b, BS, 52);
	CHECK_INT(run(), 0);
	CHECK(strstr(info.note, "AG 0: bnobt block 8 belongs elsewhere") != NULL);
}

TEST(superblock_refusals)
{
	build();
	img[300] ^= 1;
	CHECK_INT(run(), -EBADMSG);
	CHECK_STR(info.reason, "superblock checksum mismatch");

	static const struct { size_t off; int width; uint64_t val; int err; const char *why; } c[] = {
		{ 48, 8, 0, -EOPNOTSUPP, "an external log device" },
		{ 16, 8, 100, -EOPNOTSUPP, "a realtime subvolume" },
		{ 126, 1, 1, -EBADMSG, "mkfs did not finish" },
		{ 216, 4, 0x11, -EBADMSG, "needing repair" },
		{ 216, 4, 0x1001, -EOPNOTSUPP, "incompatible features 0x1000" },
		{ 212, 4, 0x10, -EOPNOTSUPP, "read-only features 0x10" },
		{ 220, 4, 1, -EBADMSG, "log needs recovery" },
		{ 8, 8, 200, -EBADMSG, "do not fit" },
		{ 88, 4, 1u << 21, -E2BIG, "allocation groups" },
		{ 4, 4, 3000, -EBADMSG, "block size" },
		{ 96, 4, 60, -EBADMSG, "does not fit its AG" },
		{ 100, 2, 0xb4a6, -EOPNOTSUPP, "XFS version 6" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		build();
		if (c[i].width == 8)
			be64(img + c[i].off, c[i].val);
		else if (c[i].width == 4)
			be32(img + c[i].off, (uint32_t)c[i].val);
		else if (c[i].width == 2)
			be16(img + c[i].off, (uint32_t)c[i].val);
		else
			img[c[i].off] = (uint8_t)c[i].val;
		seal_sb();
		CHECK_INT(run(), c[i].err);
		CHECK(strstr(info.reason, c[i].why) != NULL);
		if (!strstr(info.reason, c[i].why))
			printf("# case %zu: %s\n", i, info.reason);
		CHECK_INT(runs.n, 0);
	}
	build();
	img[0] = 0;
	CHECK_INT(run(), -ENOENT);
}

TEST(callback_error_stops)
{
	build();
	memset(&runs, 0, sizeof(runs));
	runs.fail_at = 1;
	CHECK_INT(mig_xfs_free_ranges(rd, NULL, IMG, collect, &runs, &info), -EINTR);
	CHECK_INT(info.free_blocks, 0);
	/* a device shorter than the filesystem */
	CHECK_INT(mig_xfs_free_ranges(rd, NULL, IMG - BS, collect, &runs, &info), -EBADMSG);
}

int main(void)
{
	RUN(clean_v5);
	RUN(clean_v4);
	RUN(two_level_bnobt);
	RUN(log_wrapped);
	RUN(log_dirty);
	RUN(log_record_crc);
	RUN(agf_damaged);
	RUN(bnobt_inconsistent);
	RUN(superblock_refusals);
	RUN(callback_error_stops);
	return tap_done();
}
