/* Unit tests of the ext2/3/4 free-block parser (extfs.h) on hand-built
 * images: a 1 KiB-block filesystem of four groups, the last one short,
 * built in memory with or without checksums, 64-bit descriptors and a
 * BLOCK_UNINIT group. Real mke2fs images are tests/cli/usedmap.sh. */
#include "tap.h"
#include "extfs.h"
#include "usedmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define BS      1024u
#define BPG     256u
#define IPG     32u             /* 128-byte inodes: 4 inode-table blocks */
#define ITB     4u
#define GROUPS  4u
#define BLOCKS  (1u + 3 * BPG + 100)   /* the last group has 100 blocks */
#define RES_GDT 2u
#define IMG     (BLOCKS * BS)

enum csum { CSUM_NONE, CSUM_GDT, CSUM_META };

struct opts {
	enum csum csum;
	bool is64;              /* 64-byte descriptors */
	bool uninit2;           /* group 2 BLOCK_UNINIT (needs a checksum) */
};

static uint8_t img[IMG];
static uint32_t desc_size;

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint8_t *blk(uint32_t b) { return img + (size_t)b * BS; }
static uint8_t *sb(void) { return img + 1024; }
static uint8_t *desc(uint32_t g) { return blk(2) + g * desc_size; }
static uint32_t gstart(uint32_t g) { return 1 + g * BPG; }
static uint32_t gblocks(uint32_t g) { return g == GROUPS - 1 ? BLOCKS - gstart(g) : BPG; }
static bool has_super(uint32_t g) { return g == 0 || g == 1 || g == 3; }
static void setbit(uint8_t *bm, uint32_t i) { bm[i / 8] |= (uint8_t)(1u << (i % 8)); }

static uint16_t crc16(uint16_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (uint16_t)((crc >> 1) ^ (0xa001u & -(crc & 1u)));
	}
	return crc;
}

/* Blocks taken by data: some runs in groups 0, 1 and 3. */
static bool data_block(uint32_t b)
{
	return (b >= 100 && b < 150) || (b >= 300 && b < 311) || b == 800 || b == 868;
}

static uint32_t meta_end(uint32_t g)  /* first block after the group's metadata */
{
	return gstart(g) + (has_super(g) ? 2 + RES_GDT : 0) + 2 + ITB;
}

static void seal_desc(uint32_t g, const struct opts *o)
{
	uint8_t *d = desc(g), gle[4];

	put32(gle, g);
	put16(d + 0x1e, 0);
	if (o->csum == CSUM_META) {
		uint32_t seed = mig_crc32c(~0u, sb() + 0x68, 16);
		uint32_t c = mig_crc32c(mig_crc32c(seed, gle, 4), d, desc_size);

		put16(d + 0x1e, c & 0xffff);
	} else if (o->csum == CSUM_GDT) {
		uint16_t c = crc16(0xffff, sb() + 0x68, 16);

		c = crc16(c, gle, 4);
		c = crc16(c, d, 0x1e);
		if (desc_size > 0x20)
			c = crc16(c, d + 0x20, desc_size - 0x20);
		put16(d + 0x1e, c);
	}
}

static void seal_super(const struct opts *o)
{
	if (o->csum == CSUM_META)
		put32(sb() + 0x3fc, mig_crc32c(~0u, sb(), 0x3fc));
}

/* Re-seals after a test edited the image. */
static void reseal(const struct opts *o)
{
	for (uint32_t g = 0; g < GROUPS; g++)
		seal_desc(g, o);
	seal_super(o);
}

static void build(const struct opts *o)
{
	uint32_t total_free = 0;

	memset(img, 0, sizeof(img));
	desc_size = o->is64 ? 64 : 32;
	uint8_t *s = sb();
	put32(s + 0x00, IPG * GROUPS);
	put32(s + 0x04, BLOCKS);
	put32(s + 0x14, 1);             /* first data block */
	put32(s + 0x20, BPG);
	put32(s + 0x24, BPG);
	put32(s + 0x28, IPG);
	put16(s + 0x38, 0xef53);
	put16(s + 0x3a, 1);             /* clean */
	put32(s + 0x4c, 1);             /* dynamic revision */
	put16(s + 0x58, 128);
	put32(s + 0x60, 0x2 | (o->is64 ? 0x80 : 0));
	put32(s + 0x64, 0x1 | (o->csum == CSUM_GDT ? 0x10 : o->csum == CSUM_META ? 0x400 : 0));
	for (int i = 0; i < 16; i++)
		s[0x68 + i] = (uint8_t)(0x11 * i + 3);
	put16(s + 0xce, RES_GDT);
	put16(s + 0xfe, desc_size);
	if (o->csum == CSUM_META)
		s[0x175] = 1;

	for (uint32_t g = 0; g < GROUPS; g++) {
		uint32_t m = gstart(g) + (has_super(g) ? 2 + RES_GDT : 0);
		uint32_t bb = m, ib = m + 1, it = m + 2, n = gblocks(g), used = 0;
		uint8_t *d = desc(g), *bm = blk(bb);
		bool uninit = o->uninit2 && g == 2;

		if (has_super(g) && g)
			memcpy(blk(gstart(g)) + 0, sb(), 1024);   /* a backup: not read */
		put32(d + 0x00, bb);
		put32(d + 0x04, ib);
		put32(d + 0x08, it);
		for (uint32_t i = 0; i < BS * 8; i++) {
			uint32_t b = gstart(g) + i;

			if (i >= n || b < meta_end(g) || data_block(b)) {
				setbit(bm, i);
				if (i < n)
					used++;
			}
		}
		if (uninit) {
			put16(d + 0x12, 0x2);
			memset(bm, 0, BS);      /* never initialized: garbage */
		}
		put16(d + 0x0c, n - used);
		total_free += n - used;
	}
	put32(s + 0x0c, total_free);
	if (o->csum == CSUM_META) {
		uint32_t seed = mig_crc32c(~0u, s + 0x68, 16);

		for (uint32_t g = 0; g < GROUPS; g++) {
			if (o->uninit2 && g == 2)
				continue;
			uint8_t *d = desc(g);
			uint32_t c = mig_crc32c(seed, blk(d[0] | d[1] << 8 | d[2] << 16), BPG / 8);

			put16(d + 0x18, c & 0xffff);
			if (desc_size >= 0x3a)
				put16(d + 0x38, c >> 16);
		}
	}
	reseal(o);
}

/* --- running the parser ------------------------------------------------- */

struct mem {
	const uint8_t *p;
	size_t len;
	int64_t fail_block;     /* a read touching this block fails; -1: none */
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (off > m->len || len > m->len - off)
		return -EIO;
	if (m->fail_block >= 0 && off <= (uint64_t)m->fail_block * BS &&
	    off + len > (uint64_t)m->fail_block * BS)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

static bool freemap[BLOCKS];
static int nruns, stop_after;
static uint64_t last_end;
static bool order_ok;

static int collect(void *ud, uint64_t off, uint64_t len)
{
	if (stop_after && nruns == stop_after)
		return -ECANCELED;
	if (len == 0 || off % BS || len % BS || off < last_end || (nruns && off == last_end))
		order_ok = false;   /* empty, unaligned, unordered or unmerged */
	last_end = off + len;
	for (uint64_t b = off / BS; b < (off + len) / BS && b < BLOCKS; b++)
		freemap[b] = true;
	if ((off + len) / BS > BLOCKS)
		order_ok = false;
	nruns++;
	return 0;
}

static int run(uint64_t dev_size, struct mig_extfs_info *info)
{
	struct mem m = { img, sizeof(img), -1 };

	memset(freemap, 0, sizeof(freemap));
	nruns = 0;
	last_end = 0;
	order_ok = true;
	return mig_extfs_free_ranges(mem_read, &m, dev_size, collect, NULL, info);
}

/* The free map must be exactly the blocks neither metadata nor data. */
static bool expected_free(uint32_t b)
{
	if (b == 0)
		return false;
	uint32_t g = (b - 1) / BPG;
	return b >= meta_end(g) && !data_block(b);
}

static int count_wrong(void)
{
	int wrong = 0;

	for (uint32_t b = 0; b < BLOCKS; b++)
		if (freemap[b] != expected_free(b))
			wrong++;
	return wrong;
}

static uint64_t count_expected(void)
{
	uint64_t n = 0;

	for (uint32_t b = 0; b < BLOCKS; b++)
		n += expected_free(b);
	return n;
}

/* --- tests ---------------------------------------------------------------- */

TEST(plain_ext2_exact_free_map)
{
	struct opts o = { CSUM_NONE, false, false };
	struct mig_extfs_info info;

	build(&o);
	CHECK_INT(run(IMG, &info), 0);
	CHECK_INT(count_wrong(), 0);
	CHECK(order_ok);
	CHECK_INT(info.block_size, 1024);
	CHECK_INT(info.blocks_count, BLOCKS);
	CHECK_INT(info.groups, GROUPS);
	CHECK_INT(info.free_blocks, count_expected());
	CHECK_INT(info.sb_free_blocks, count_expected());
	CHECK_STR(info.reason, "");
	/* a larger device (a partition bigger than the fs) changes nothing */
	CHECK_INT(run(IMG + 12345678, &info), 0);
	CHECK_INT(count_wrong(), 0);
	CHECK(!freemap[BLOCKS - 1]);
}

TEST(checksummed_variants)
{
	static const struct opts v[] = {
		{ CSUM_GDT, false, false }, { CSUM_GDT, true, false },
		{ CSUM_META, false, false }, { CSUM_META, true, false },
	};
	struct mig_extfs_info info;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		build(&v[i]);
		CHECK_INT(run(IMG, &info), 0);
		CHECK_INT(count_wrong(), 0);
		CHECK(order_ok);
		if (info.reason[0])
			printf("# variant %zu: %s\n", i, info.reason);
	}
}

/* A BLOCK_UNINIT group's bitmap block holds garbage (zeros: "all free");
 * the free map must come from the descriptor's layout instead. */
TEST(block_uninit_group_is_computed)
{
	static const struct opts v[] = { { CSUM_GDT, false, true }, { CSUM_META, true, true } };
	struct mig_extfs_info info;

	for (size_t i = 0; i < 2; i++) {
		build(&v[i]);
		CHECK_INT(run(IMG, &info), 0);
		CHECK_INT(info.groups_uninit, 1);
		CHECK_INT(info.groups_distrusted, 0);
		CHECK_INT(count_wrong(), 0);
		CHECK(!freemap[gstart(2)]);     /* its block bitmap */
		CHECK(!freemap[gstart(2) + 5]); /* the end of its inode table */
		CHECK(freemap[gstart(2) + 6]);
	}
	/* Without a checksum feature the flag means nothing: the zeroed bitmap
	 * is read, disagrees with the descriptor, and the group stays used. */
	struct opts o = { CSUM_NONE, false, true };
	build(&o);
	CHECK_INT(run(IMG, &info), 0);
	CHECK_INT(info.groups_distrusted, 1);
	for (uint32_t b = gstart(2); b < gstart(3); b++)
		CHECK(!freemap[b]);
}

TEST(refusals_with_reasons)
{
	struct opts o = { CSUM_GDT, false, true };
	struct mig_extfs_info info;

	build(&o);
	put16(sb() + 0x38, 0xef54);
	CHECK_INT(run(IMG, &info), -ENOENT);
	CHECK(info.reason[0]);

	build(&o);
	put32(sb() + 0x60, 0x2 | 0x4);          /* needs_recovery */
	CHECK_INT(run(IMG, &info), -EBADMSG);
	CHECK(strstr(info.reason, "recovery") != NULL);
	CHECK_INT(nruns, 0);

	build(&o);
	put16(sb() + 0x3a, 1 | 2);              /* errors */
	CHECK_INT(run(IMG, &info), -EBADMSG);
	build(&o);
	put16(sb() + 0x3a, 0);                  /* not clean */
	CHECK_INT(run(IMG, &info), -EBADMSG);

	build(&o);
	put32(sb() + 0x60, 0x2 | 0x40000);      /* unknown incompat */
	CHECK_INT(run(IMG, &info), -EOPNOTSUPP);
	build(&o);
	put32(sb() + 0x64, 0x1 | 0x10 | 0x200); /* bigalloc */
	CHECK_INT(run(IMG, &info), -EOPNOTSUPP);
	build(&o);
	put32(sb() + 0x60, 0x2 | 0x8);          /* external journal device */
	CHECK_INT(run(IMG, &info), -EOPNOTSUPP);

	/* the filesystem claims more blocks than the device has */
	build(&o);
	CHECK_INT(run(IMG - BS, &info), -EBADMSG);
	CHECK(strstr(info.reason, "do not fit") != NULL);

	/* a descriptor pointing outside the filesystem */
	build(&o);
	put32(desc(1) + 0x08, BLOCKS - 2);      /* inode table runs past the end */
	reseal(&o);
	CHECK_INT(run(IMG, &info), -EBADMSG);

	/* a descriptor checksum mismatch */
	build(&o);
	desc(3)[0x0c] ^= 1;
	CHECK_INT(run(IMG, &info), -EBADMSG);
	CHECK(strstr(info.reason, "checksum") != NULL);

	/* the superblock's free count far from the bitmaps' */
	build(&o);
	put32(sb() + 0x0c, 10);
	CHECK_INT(run(IMG, &info), -EBADMSG);
	CHECK_INT(info.free_blocks, 0);

	/* inodes_count disagrees with groups * inodes_per_group */
	build(&o);
	put32(sb() + 0x00, IPG * GROUPS + 1);
	CHECK_INT(run(IMG, &info), -EBADMSG);

	/* too small to hold a superblock */
	CHECK_INT(run(1500, &info), -ENOENT);
}

/* 2^32-1 blocks in groups of 8: half a billion groups on a device large
 * enough; refused before anything is allocated for them. */
TEST(huge_group_count)
{
	struct opts o = { CSUM_NONE, false, false };
	struct mig_extfs_info info;

	build(&o);
	put32(sb() + 0x04, 0xffffffffu);
	put32(sb() + 0x20, 8);
	put32(sb() + 0x24, 8);
	CHECK_INT(run(UINT64_MAX, &info), -E2BIG);
	CHECK(info.reason[0]);
	/* 64-bit block count: the byte size overflows */
	o.is64 = true;
	build(&o);
	put32(sb() + 0x150, 0xffffffffu);
	CHECK_INT(run(UINT64_MAX, &info), -EBADMSG);
}

TEST(metadata_csum_checks)
{
	struct opts o = { CSUM_META, true, false };
	struct mig_extfs_info info;

	build(&o);
	sb()[0x78] ^= 0x20;                     /* volume name: only the checksum notices */
	CHECK_INT(run(IMG, &info), -EBADMSG);
	CHECK(strstr(info.reason, "superblock checksum") != NULL);

	build(&o);
	blk(desc(1)[0] | desc(1)[1] << 8)[20] ^= 0x01;   /* a bit in group 1's bitmap */
	CHECK_INT(run(IMG, &info), -EBADMSG);
	CHECK(strstr(info.reason, "bitmap checksum") != NULL);
}

/* Without checksums a bitmap that disagrees with its descriptor's count
 * keeps the whole group used; the rest is still mapped. */
TEST(inconsistent_group_stays_used)
{
	struct opts o = { CSUM_NONE, false, false };
	struct mig_extfs_info info;

	build(&o);
	blk(desc(1)[0] | desc(1)[1] << 8)[0] = 0;       /* its metadata "freed" */
	CHECK_INT(run(IMG, &info), 0);
	CHECK_INT(info.groups_distrusted, 1);
	for (uint32_t b = gstart(1); b < gstart(2); b++)
		CHECK(!freemap[b]);
	CHECK(freemap[gstart(2) + 10]);
}

TEST(errors_of_the_callbacks_propagate)
{
	struct opts o = { CSUM_GDT, false, false };
	struct mig_extfs_info info;
	struct mem m = { img, sizeof(img), -1 };

	build(&o);
	m.fail_block = desc(3)[0] | desc(3)[1] << 8;    /* group 3's bitmap */
	CHECK_INT(mig_extfs_free_ranges(mem_read, &m, IMG, collect, NULL, &info), -EIO);
	CHECK_INT(info.free_blocks, 0);
	m.fail_block = 2;                                /* the descriptor table */
	CHECK_INT(mig_extfs_free_ranges(mem_read, &m, IMG, collect, NULL, &info), -EIO);

	stop_after = 2;
	CHECK_INT(run(IMG, &info), -ECANCELED);
	stop_after = 0;
	CHECK_INT(run(IMG, NULL), 0);                   /* info is optional */
}

/* Any single flipped byte in the metadata either makes the parser refuse,
 * or leaves every block it calls free really free. */
TEST(corruption_never_frees_a_used_block)
{
	static const struct opts v[] = {
		{ CSUM_NONE, false, false }, { CSUM_GDT, false, true }, { CSUM_META, true, true },
	};
	static uint8_t orig[IMG];
	struct mig_extfs_info info;
	int bad = 0, refused = 0, accepted = 0;

	for (size_t k = 0; k < 3; k++) {
		build(&v[k]);
		memcpy(orig, img, sizeof(img));
		/* the superblock, the descriptors, and the bitmaps of groups 0-3 */
		uint32_t areas[][2] = { { 1024, 1024 }, { 2 * BS, GROUPS * desc_size } };
		size_t nareas = 2;
		for (size_t a = 0; a < nareas; a++) {
			for (uint32_t i = areas[a][0]; i < areas[a][0] + areas[a][1]; i++) {
				for (int pat = 0; pat < 3; pat++) {
					static const uint8_t x[] = { 0x01, 0x80, 0xff };

					img[i] ^= x[pat];
					int r = run(IMG, &info);
					if (r < 0) {
						refused++;
					} else {
						accepted++;
						for (uint32_t b = 0; b < BLOCKS; b++)
							if (freemap[b] && !expected_free(b)) {
								bad++;
								printf("# variant %zu byte %u ^%02x: block %u called free\n",
								       k, i, x[pat], b);
								break;
							}
					}
					memcpy(img, orig, sizeof(img));
				}
			}
		}
		for (uint32_t g = 0; g < GROUPS; g++) {
			uint32_t bb = gstart(g) + (has_super(g) ? 2 + RES_GDT : 0);
			for (uint32_t i = 0; i < BPG / 8; i++) {
				img[bb * BS + i] ^= 0x10;
				if (run(IMG, &info) == 0)
					for (uint32_t b = 0; b < BLOCKS; b++)
						if (freemap[b] && !expected_free(b)) {
							bad++;
							break;
						}
				memcpy(img, orig, sizeof(img));
			}
		}
	}
	CHECK_INT(bad, 0);
	CHECK(refused > 0 && accepted > 0);
	printf("# %d refused, %d accepted\n", refused, accepted);
}

/* The disk-level map of the same image as a whole-disk filesystem (libblkid
 * finds it on a memfd): every query agrees with the expected block map. */
TEST(usedmap_queries)
{
	struct opts o = { CSUM_GDT, true, true };
	struct mig_usedmap *m = NULL;
	uint64_t off, len, seen = 0;
	size_t n;
	int fd = memfd_create("usedmap", MFD_CLOEXEC);

	build(&o);
	CHECK(fd >= 0 && write(fd, img, sizeof(img)) == (ssize_t)sizeof(img));
	CHECK(ftruncate(fd, IMG + 3 * BS) == 0);    /* a disk larger than its filesystem */
	CHECK_INT(mig_usedmap_build(fd, IMG + 3 * BS, &m), 0);
	close(fd);
	if (!m)
		return;
	const struct mig_usedmap_area *a = mig_usedmap_areas(m, &n);
	CHECK_INT(n, 1);
	CHECK_INT(a[0].partno, 0);
	CHECK_STR(a[0].fstype, "ext4");     /* 64bit: an ext4 feature */
	CHECK_INT(a[0].status, MIG_USEDMAP_MAPPED);
	CHECK_INT(a[0].ext.groups_uninit, 1);
	CHECK_INT(mig_usedmap_free_bytes(m), count_expected() * BS);
	CHECK_INT(a[0].free_bytes, count_expected() * BS);
	CHECK_INT(mig_usedmap_min_range(m), 0);

	int wrong = 0;
	for (uint32_t b = 0; b < BLOCKS + 3; b++)
		wrong += mig_usedmap_is_free(m, (uint64_t)b * BS, BS) != (b < BLOCKS && expected_free(b));
	CHECK_INT(wrong, 0);
	/* chunks of 4 blocks: the free parts found by next_free are exactly
	 * the expected free blocks, and is_free says 1 only for all-free chunks */
	for (uint64_t c = 0; c < IMG + 3 * BS; c += 4 * BS) {
		uint64_t end = c + 4 * BS, p = c, nfree = 0, want = 0;

		while (mig_usedmap_next_free(m, p, end, &off, &len) == 0) {
			CHECK(off >= p && len > 0 && off + len <= end);
			for (uint64_t b = off / BS; b < (off + len) / BS; b++)
				wrong += !(b < BLOCKS && expected_free((uint32_t)b));
			nfree += len;
			p = off + len;
		}
		for (uint64_t b = c / BS; b < end / BS; b++)
			want += b < BLOCKS && expected_free((uint32_t)b);
		CHECK_INT(nfree, want * BS);
		CHECK_INT(mig_usedmap_is_free(m, c, 4 * BS), want == 4);
		seen += nfree;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(seen, count_expected() * BS);
	CHECK_INT(mig_usedmap_is_free(m, 1000 * BS, 0), 0);
	CHECK_INT(mig_usedmap_is_free(m, UINT64_MAX - 10, 100), 0);
	CHECK_INT(mig_usedmap_next_free(m, 5, 5, &off, &len), 1);
	mig_usedmap_free(m);
	mig_usedmap_free(NULL);
}

/* needs_recovery: the area is reported refused and nothing is free. */
TEST(usedmap_refused_area)
{
	struct opts o = { CSUM_NONE, false, false };
	struct mig_usedmap *m = NULL;
	uint64_t off, len;
	size_t n;
	int fd = memfd_create("usedmap", MFD_CLOEXEC);

	build(&o);
	put32(sb() + 0x5c, 0x4);                /* has_journal: libblkid calls it ext3 */
	put32(sb() + 0x60, 0x2 | 0x4);
	CHECK(fd >= 0 && write(fd, img, sizeof(img)) == (ssize_t)sizeof(img));
	CHECK_INT(mig_usedmap_build(fd, IMG, &m), 0);
	close(fd);
	if (!m)
		return;
	const struct mig_usedmap_area *a = mig_usedmap_areas(m, &n);
	CHECK_INT(n, 1);
	CHECK_STR(a[0].fstype, "ext3");
	CHECK_INT(a[0].status, MIG_USEDMAP_REFUSED);
	CHECK_INT(a[0].error, -EBADMSG);
	CHECK(strstr(a[0].reason, "recovery") != NULL);
	CHECK_INT(mig_usedmap_free_bytes(m), 0);
	CHECK_INT(mig_usedmap_next_free(m, 0, IMG, &off, &len), 1);
	mig_usedmap_free(m);
}

TEST(crc32c_known_answer)
{
	/* RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa (with the usual
	 * inversions, which ext4's crc32c_le leaves to the caller) */
	uint8_t z[32] = { 0 };

	CHECK_INT(~mig_crc32c(~0u, z, sizeof(z)), 0x8a9136aau);
	CHECK_INT(~mig_crc32c(~0u, "123456789", 9), 0xe3069283u);
}

int main(void)
{
	RUN(plain_ext2_exact_free_map);
	RUN(checksummed_variants);
	RUN(block_uninit_group_is_computed);
	RUN(refusals_with_reasons);
	RUN(huge_group_count);
	RUN(metadata_csum_checks);
	RUN(inconsistent_group_stays_used);
	RUN(errors_of_the_callbacks_propagate);
	RUN(corruption_never_frees_a_used_block);
	RUN(usedmap_queries);
	RUN(usedmap_refused_area);
	RUN(crc32c_known_answer);
	return tap_done();
}
