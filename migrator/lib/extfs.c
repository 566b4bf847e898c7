/* extfs.c — see extfs.h.
 *
 * Two passes over the group descriptors. The first checks every descriptor
 * (checksum, bounds) and notes which groups hold another group's bitmaps or
 * inode table. The second reads each group's block bitmap — or, for a
 * BLOCK_UNINIT group, computes it the way the kernel's
 * ext4_init_block_bitmap() does — checks it against the descriptor's free
 * count and delivers the free runs. */
#include "extfs.h"
#include "bootsect.h"   /* mig_le32 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* superblock fields (offsets into the 1024-byte superblock) */
#define SB_INODES_COUNT     0x00
#define SB_BLOCKS_LO        0x04
#define SB_FREE_LO          0x0C
#define SB_FIRST_DATA_BLOCK 0x14
#define SB_LOG_BLOCK_SIZE   0x18
#define SB_LOG_CLUSTER_SIZE 0x1C
#define SB_BLOCKS_PER_GROUP 0x20
#define SB_CLUSTERS_PER_GROUP 0x24
#define SB_INODES_PER_GROUP 0x28
#define SB_MAGIC            0x38
#define SB_STATE            0x3A
#define SB_REV_LEVEL        0x4C
#define SB_INODE_SIZE       0x58
#define SB_FEATURE_COMPAT   0x5C
#define SB_FEATURE_INCOMPAT 0x60
#define SB_FEATURE_RO_COMPAT 0x64
#define SB_UUID             0x68
#define SB_RESERVED_GDT     0xCE
#define SB_DESC_SIZE        0xFE
#define SB_FIRST_META_BG    0x104
#define SB_BLOCKS_HI        0x150
#define SB_FREE_HI          0x158
#define SB_CHECKSUM_TYPE    0x175
#define SB_BACKUP_BGS       0x24C
#define SB_CHECKSUM_SEED    0x270
#define SB_CHECKSUM         0x3FC

#define STATE_VALID  0x1
#define STATE_ERROR  0x2
#define STATE_ORPHAN 0x4

#define COMPAT_SPARSE_SUPER2 0x0200

#define INCOMPAT_COMPRESSION 0x0001
#define INCOMPAT_FILETYPE    0x0002
#define INCOMPAT_RECOVER     0x0004
#define INCOMPAT_JOURNAL_DEV 0x0008
#define INCOMPAT_META_BG     0x0010
#define INCOMPAT_EXTENTS     0x0040
#define INCOMPAT_64BIT       0x0080
#define INCOMPAT_MMP         0x0100
#define INCOMPAT_FLEX_BG     0x0200
#define INCOMPAT_EA_INODE    0x0400
#define INCOMPAT_DIRDATA     0x1000
#define INCOMPAT_CSUM_SEED   0x2000
#define INCOMPAT_LARGEDIR    0x4000
#define INCOMPAT_INLINE_DATA 0x8000
#define INCOMPAT_ENCRYPT     0x10000
#define INCOMPAT_CASEFOLD    0x20000
/* Features whose on-disk allocation this parser understands. RECOVER,
 * JOURNAL_DEV, COMPRESSION and DIRDATA get their own refusal below. */
#define INCOMPAT_KNOWN (INCOMPAT_FILETYPE | INCOMPAT_META_BG | INCOMPAT_EXTENTS | \
	INCOMPAT_64BIT | INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE | \
	INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_INLINE_DATA | INCOMPAT_ENCRYPT | \
	INCOMPAT_CASEFOLD)

#define RO_COMPAT_SPARSE_SUPER  0x0001
#define RO_COMPAT_GDT_CSUM      0x0010
#define RO_COMPAT_HAS_SNAPSHOT  0x0080
#define RO_COMPAT_BIGALLOC      0x0200
#define RO_COMPAT_METADATA_CSUM 0x0400
/* RO_COMPAT features do not change what a block bitmap means except these
 * (bigalloc: a bit is a cluster; snapshots, replica: blocks outside the
 * bitmap), and any we do not know. */
#define RO_COMPAT_KNOWN (0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0020 | 0x0040 | \
	0x0100 | 0x0400 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000)

/* group descriptor fields */
#define GD_BLOCK_BITMAP   0x00
#define GD_INODE_BITMAP   0x04
#define GD_INODE_TABLE    0x08
#define GD_FREE_LO        0x0C
#define GD_FLAGS          0x12
#define GD_BB_CSUM_LO     0x18
#define GD_CHECKSUM       0x1E
#define GD_BLOCK_BITMAP_HI 0x20
#define GD_INODE_BITMAP_HI 0x24
#define GD_INODE_TABLE_HI 0x28
#define GD_FREE_HI        0x2C
#define GD_BB_CSUM_HI     0x38
#define GD_BB_CSUM_HI_END 0x3A
#define BG_BLOCK_UNINIT   0x0002

#define MIN_DESC_SIZE_64  64
#define MAX_DESC_SIZE     1024

struct fs {
	mig_read_fn rd;
	void *ctx;
	mig_extfs_free_fn add_free;
	void *ud;
	struct mig_extfs_info *info;

	uint32_t bs, bpg, desc_size, dpb, itb, reserved_gdt, first_meta_bg;
	uint32_t groups, backup_bgs[2];
	uint64_t blocks, first_data_block, desc_blocks;
	bool meta_bg, sparse_super, sparse_super2, is64, metadata_csum, gdt_csum;
	uint32_t csum_seed;
	uint8_t uuid[16];

	uint8_t *blk;           /* one block: a bitmap */
	uint8_t *gdblk;         /* the descriptor block last read */
	uint64_t gdblk_no;      /* its number; UINT64_MAX when none */
	uint8_t *foreign;       /* per group: holds another group's metadata */

	uint64_t run_start, run_len;    /* pending free run, in blocks */
};

/* Fuzz builds compute every checksum but ignore a mismatch, so the fuzzer
 * reaches what lies behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define csum_ok(x) ((void)(x), true)
#else
#define csum_ok(x) (x)
#endif

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	static bool ready;
	const uint8_t *p = buf;

	/* Idempotent: racing threads write the same values. */
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
			table[i] = c;
		}
		ready = true;
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* CRC-16 (ANSI, reflected 0xA001) as e2fsprogs' ext2fs_crc16: the
 * uninit_bg (gdt_csum) descriptor checksum. */
static uint16_t crc16(uint16_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (uint16_t)((crc >> 1) ^ (0xa001u & -(crc & 1u)));
	}
	return crc;
}

/* Sets the reason a filesystem is refused; returns err. */
static int refuse(struct fs *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct fs *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->info->reason, sizeof(f->info->reason), fmt, ap);
	va_end(ap);
	return err;
}

static int read_block(struct fs *f, uint64_t blk, uint8_t *buf)
{
	if (blk >= f->blocks)
		return refuse(f, -EBADMSG, "block %llu is outside the filesystem", (unsigned long long)blk);
	return f->rd(f->ctx, buf, f->bs, blk * f->bs);
}

static bool test_root(uint32_t a, uint32_t b)
{
	while (a > 1) {
		if (a % b)
			return false;
		a /= b;
	}
	return a == 1;
}

/* ext2fs_bg_has_super(): does group g hold a superblock (backup)? */
static bool has_super(const struct fs *f, uint32_t g)
{
	if (g == 0)
		return true;
	if (f->sparse_super2)
		return g == f->backup_bgs[0] || g == f->backup_bgs[1];
	if (g <= 1 || !f->sparse_super)
		return true;
	if (!(g & 1))
		return false;
	return test_root(g, 3) || test_root(g, 5) || test_root(g, 7);
}

static uint64_t group_first(const struct fs *f, uint32_t g)
{
	return f->first_data_block + (uint64_t)g * f->bpg;
}

static uint32_t group_nblocks(const struct fs *f, uint32_t g)
{
	uint64_t left = f->blocks - group_first(f, g);

	return left < f->bpg ? (uint32_t)left : f->bpg;
}

/* ext2fs_descriptor_block_loc2() for the primary copy. */
static uint64_t desc_block_loc(const struct fs *f, uint64_t i)
{
	if (!f->meta_bg || i < f->first_meta_bg)
		return f->first_data_block + 1 + i;
	uint32_t bg = (uint32_t)(i * f->dpb);
	return group_first(f, bg) + has_super(f, bg);
}

/* Blocks at the start of group g taken by the superblock and descriptor
 * copies (the kernel's ext4_num_base_meta_clusters()). Reserved GDT blocks
 * are counted with meta_bg too: a conservative superset. */
static uint64_t base_meta_blocks(const struct fs *f, uint32_t g)
{
	uint64_t n = has_super(f, g);

	if (!f->meta_bg || g / f->dpb < f->first_meta_bg) {
		if (n)
			n += (f->meta_bg ? f->first_meta_bg : f->desc_blocks) + f->reserved_gdt;
	} else {
		uint32_t k = g % f->dpb;

		if (k == 0 || k == 1 || k == f->dpb - 1)
			n += 1;
	}
	return n;
}

/* The descriptor of group g, read through a one-block cache. */
static int get_desc(struct fs *f, uint32_t g, const uint8_t **ret)
{
	uint64_t i = g / f->dpb, blk = desc_block_loc(f, i);
	int r;

	if (blk < f->first_data_block || blk >= f->blocks)
		return refuse(f, -EBADMSG, "descriptor block %llu of group %u is outside the filesystem",
			      (unsigned long long)blk, g);
	if (blk != f->gdblk_no) {
		f->gdblk_no = UINT64_MAX;
		if ((r = read_block(f, blk, f->gdblk)) < 0)
			return r;
		f->gdblk_no = blk;
	}
	*ret = f->gdblk + (size_t)(g % f->dpb) * f->desc_size;
	return 0;
}

static uint64_t desc_u64(const struct fs *f, const uint8_t *d, size_t lo, size_t hi)
{
	uint64_t v = mig_le32(d + lo);

	if (f->is64)
		v |= (uint64_t)mig_le32(d + hi) << 32;
	return v;
}

static uint32_t desc_free(const struct fs *f, const uint8_t *d)
{
	uint32_t v = le16(d + GD_FREE_LO);

	if (f->is64)
		v |= (uint32_t)le16(d + GD_FREE_HI) << 16;
	return v;
}

static bool desc_csum_ok(const struct fs *f, uint32_t g, const uint8_t *d)
{
	uint8_t gle[4] = { (uint8_t)g, (uint8_t)(g >> 8), (uint8_t)(g >> 16), (uint8_t)(g >> 24) };
	uint8_t zero[2] = { 0, 0 };
	uint16_t want = le16(d + GD_CHECKSUM), got;

	if (f->metadata_csum) {
		uint32_t c = mig_crc32c(f->csum_seed, gle, 4);

		c = mig_crc32c(c, d, GD_CHECKSUM);
		c = mig_crc32c(c, zero, 2);
		c = mig_crc32c(c, d + GD_CHECKSUM + 2, f->desc_size - GD_CHECKSUM - 2);
		got = (uint16_t)c;
	} else {
		got = crc16(0xffff, f->uuid, 16);
		got = crc16(got, gle, 4);
		got = crc16(got, d, GD_CHECKSUM);
		if (f->desc_size > GD_CHECKSUM + 2)
			got = crc16(got, d + GD_CHECKSUM + 2, f->desc_size - GD_CHECKSUM - 2);
	}
	return got == want;
}

static bool in_fs(const struct fs *f, uint64_t blk, uint64_t n)
{
	return blk >= f->first_data_block && blk < f->blocks && n <= f->blocks - blk;
}

/* Marks every group other than own that [blk, blk+n) touches. */
static void mark_foreign(struct fs *f, uint32_t own, uint64_t blk, uint64_t n)
{
	uint64_t a = (blk - f->first_data_block) / f->bpg;
	uint64_t b = (blk + n - 1 - f->first_data_block) / f->bpg;

	for (uint64_t t = a; t <= b && t < f->groups; t++)
		if (t != own)
			f->foreign[t / 8] |= (uint8_t)(1u << (t % 8));
}

static bool is_uninit(const struct fs *f, const uint8_t *d)
{
	return (f->gdt_csum || f->metadata_csum) && (le16(d + GD_FLAGS) & BG_BLOCK_UNINIT);
}

/* One group descriptor, checked. */
struct gd {
	uint64_t bb, ib, it;    /* block bitmap, inode bitmap, inode table */
	uint32_t free;
	bool uninit;
	const uint8_t *raw;     /* valid until the next load_desc() */
};

/* Reads and checks group g's descriptor: checksum, bounds, free count. Both
 * passes call it, so the second never trusts what the first saw. */
static int load_desc(struct fs *f, uint32_t g, struct gd *ret)
{
	const uint8_t *d = NULL;
	int r;

	if ((r = get_desc(f, g, &d)) < 0)
		return r;
	if ((f->gdt_csum || f->metadata_csum) && !csum_ok(desc_csum_ok(f, g, d)))
		return refuse(f, -EBADMSG, "group %u: descriptor checksum mismatch", g);
	struct gd gd = {
		.bb = desc_u64(f, d, GD_BLOCK_BITMAP, GD_BLOCK_BITMAP_HI),
		.ib = desc_u64(f, d, GD_INODE_BITMAP, GD_INODE_BITMAP_HI),
		.it = desc_u64(f, d, GD_INODE_TABLE, GD_INODE_TABLE_HI),
		.free = desc_free(f, d),
		.uninit = is_uninit(f, d),
		.raw = d,
	};
	if (!in_fs(f, gd.bb, 1) || !in_fs(f, gd.ib, 1) || !in_fs(f, gd.it, f->itb))
		return refuse(f, -EBADMSG, "group %u: bitmaps or inode table outside the filesystem", g);
	if (gd.free > group_nblocks(f, g))
		return refuse(f, -EBADMSG, "group %u: more free blocks than blocks", g);
	*ret = gd;
	return 0;
}

static int check_descriptors(struct fs *f)
{
	struct gd gd;
	int r;

	for (uint32_t g = 0; g < f->groups; g++) {
		if ((r = load_desc(f, g, &gd)) < 0)
			return r;
		if (gd.uninit)
			f->info->groups_uninit++;
		mark_foreign(f, g, gd.bb, 1);
		mark_foreign(f, g, gd.ib, 1);
		mark_foreign(f, g, gd.it, f->itb);
	}
	return 0;
}

static void set_bits(uint8_t *bm, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		bm[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* The block bitmap of a BLOCK_UNINIT group as ext4_init_block_bitmap()
 * builds it: the superblock and descriptor copies at the start, and the
 * group's own bitmaps and inode table where they lie inside it. */
static void uninit_bitmap(struct fs *f, uint32_t g, const struct gd *gd)
{
	uint64_t start = group_first(f, g), n = group_nblocks(f, g);
	uint64_t base = base_meta_blocks(f, g);
	uint64_t own[3][2] = { { gd->bb, 1 }, { gd->ib, 1 }, { gd->it, f->itb } };

	memset(f->blk, 0, f->bs);
	set_bits(f->blk, 0, base < n ? base : n);
	for (int k = 0; k < 3; k++) {
		uint64_t a = own[k][0], b = own[k][0] + own[k][1];   /* in_fs() checked: no overflow */

		if (a < start)
			a = start;
		if (b > start + n)
			b = start + n;
		if (a < b)
			set_bits(f->blk, a - start, b - start);
	}
}

static int flush_run(struct fs *f)
{
	int r = 0;

	if (f->run_len) {
		r = f->add_free(f->ud, f->run_start * f->bs, f->run_len * f->bs);
		f->run_len = 0;
	}
	return r;
}

static int add_free_blocks(struct fs *f, uint64_t blk, uint64_t n)
{
	int r;

	if (f->run_len && f->run_start + f->run_len == blk) {
		f->run_len += n;
		return 0;
	}
	if ((r = flush_run(f)) < 0)
		return r;
	f->run_start = blk;
	f->run_len = n;
	return 0;
}

static uint64_t count_free(const uint8_t *bm, uint32_t n)
{
	uint64_t used = 0;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8)
		used += (uint64_t)__builtin_popcount(bm[i / 8]);
	for (; i < n; i++)
		used += (bm[i / 8] >> (i % 8)) & 1;
	return n - used;
}

/* Delivers the zero bits [0, n) of bm as free runs starting at block start. */
static int deliver(struct fs *f, const uint8_t *bm, uint32_t n, uint64_t start)
{
	uint32_t i = 0;
	int r;

	while (i < n) {
		if (i % 8 == 0 && i + 8 <= n && bm[i / 8] == 0xff) {
			i += 8;
			continue;
		}
		if ((bm[i / 8] >> (i % 8)) & 1) {
			i++;
			continue;
		}
		uint32_t j = i + 1;
		while (j < n) {
			if (j % 8 == 0 && j + 8 <= n && bm[j / 8] == 0) {
				j += 8;
				continue;
			}
			if ((bm[j / 8] >> (j % 8)) & 1)
				break;
			j++;
		}
		if ((r = add_free_blocks(f, start + i, j - i)) < 0)
			return r;
		f->info->free_blocks += j - i;
		i = j;
	}
	return 0;
}

static int walk_bitmaps(struct fs *f, uint64_t *ret_bitmap_free)
{
	uint64_t bitmap_free = 0;
	struct gd gd;
	int r;

	for (uint32_t g = 0; g < f->groups; g++) {
		if ((r = load_desc(f, g, &gd)) < 0)
			return r;
		uint32_t n = group_nblocks(f, g), dfree = gd.free;
		const uint8_t *d = gd.raw;

		if (gd.uninit) {
			if (f->foreign[g / 8] & (1u << (g % 8))) {
				/* Another group's metadata lives here, yet the kernel would
				 * not mark it: a layout mke2fs never makes. Keep it all. */
				f->info->groups_distrusted++;
				bitmap_free += dfree;
				continue;
			}
			uninit_bitmap(f, g, &gd);
		} else {
			if ((r = read_block(f, gd.bb, f->blk)) < 0)
				return r;
			if (f->metadata_csum) {
				uint32_t c = mig_crc32c(f->csum_seed, f->blk, f->bpg / 8);
				uint32_t want = le16(d + GD_BB_CSUM_LO);

				if (f->desc_size >= GD_BB_CSUM_HI_END)
					want |= (uint32_t)le16(d + GD_BB_CSUM_HI) << 16;
				else
					c &= 0xffff;
				if (!csum_ok(c == want))
					return refuse(f, -EBADMSG, "group %u: block bitmap checksum mismatch", g);
			}
		}
		uint64_t nfree = count_free(f->blk, n);

		bitmap_free += nfree;
		if (nfree != dfree) {
			/* The bitmap and the descriptor disagree: trust neither. */
			f->info->groups_distrusted++;
			continue;
		}
		if ((r = deliver(f, f->blk, n, group_first(f, g))) < 0)
			return r;
	}
	if ((r = flush_run(f)) < 0)
		return r;
	*ret_bitmap_free = bitmap_free;
	return 0;
}

static int parse_super(struct fs *f, const uint8_t *sb, uint64_t dev_size)
{
	struct mig_extfs_info *info = f->info;
	uint32_t log_bs, log_cs, rev, ipg, isize, compat, incompat, ro;

	if (le16(sb + SB_MAGIC) != MIG_EXTFS_MAGIC)
		return refuse(f, -ENOENT, "no ext2/3/4 superblock");
	compat = info->feature_compat = mig_le32(sb + SB_FEATURE_COMPAT);
	incompat = info->feature_incompat = mig_le32(sb + SB_FEATURE_INCOMPAT);
	ro = info->feature_ro_compat = mig_le32(sb + SB_FEATURE_RO_COMPAT);
	log_bs = mig_le32(sb + SB_LOG_BLOCK_SIZE);
	log_cs = mig_le32(sb + SB_LOG_CLUSTER_SIZE);
	rev = mig_le32(sb + SB_REV_LEVEL);

	if (incompat & INCOMPAT_JOURNAL_DEV)
		return refuse(f, -EOPNOTSUPP, "an external journal device, not a filesystem");
	if (incompat & INCOMPAT_RECOVER)
		return refuse(f, -EBADMSG, "the journal needs recovery (mounted, or not cleanly unmounted): run e2fsck first");
	if (incompat & ~(uint32_t)INCOMPAT_KNOWN)
		return refuse(f, -EOPNOTSUPP, "unsupported incompatible features 0x%x",
			      incompat & ~(uint32_t)INCOMPAT_KNOWN);
	if (ro & RO_COMPAT_BIGALLOC)
		return refuse(f, -EOPNOTSUPP, "bigalloc is not supported");
	if (ro & ~(uint32_t)RO_COMPAT_KNOWN)
		return refuse(f, -EOPNOTSUPP, "unsupported read-only features 0x%x",
			      ro & ~(uint32_t)RO_COMPAT_KNOWN);
	if (rev > 1)
		return refuse(f, -EOPNOTSUPP, "revision %u", rev);

	uint16_t state = le16(sb + SB_STATE);
	if (state & STATE_ERROR)
		return refuse(f, -EBADMSG, "errors are recorded in the filesystem: run e2fsck first");
	if (!(state & STATE_VALID) || (state & STATE_ORPHAN))
		return refuse(f, -EBADMSG, "not cleanly unmounted: run e2fsck first");

	f->metadata_csum = ro & RO_COMPAT_METADATA_CSUM;
	f->gdt_csum = ro & RO_COMPAT_GDT_CSUM;
	memcpy(f->uuid, sb + SB_UUID, 16);
	if (f->metadata_csum) {
		if (sb[SB_CHECKSUM_TYPE] != 1)
			return refuse(f, -EOPNOTSUPP, "checksum type %u", sb[SB_CHECKSUM_TYPE]);
		if (!csum_ok(mig_crc32c(~0u, sb, SB_CHECKSUM) == mig_le32(sb + SB_CHECKSUM)))
			return refuse(f, -EBADMSG, "superblock checksum mismatch");
		f->csum_seed = incompat & INCOMPAT_CSUM_SEED ? mig_le32(sb + SB_CHECKSUM_SEED)
							     : mig_crc32c(~0u, f->uuid, 16);
	}

	if (log_bs > 6)
		return refuse(f, -EBADMSG, "block size 2^%u KiB", log_bs);
	if (log_cs != log_bs)
		return refuse(f, -EBADMSG, "cluster size differs from block size without bigalloc");
	f->bs = info->block_size = 1024u << log_bs;
	f->is64 = incompat & INCOMPAT_64BIT;
	f->blocks = mig_le32(sb + SB_BLOCKS_LO);
	if (f->is64)
		f->blocks |= (uint64_t)mig_le32(sb + SB_BLOCKS_HI) << 32;
	info->blocks_count = f->blocks;
	info->sb_free_blocks = mig_le32(sb + SB_FREE_LO);
	if (f->is64)
		info->sb_free_blocks |= (uint64_t)mig_le32(sb + SB_FREE_HI) << 32;

	uint64_t bytes;
	if (__builtin_mul_overflow(f->blocks, (uint64_t)f->bs, &bytes) || bytes > dev_size)
		return refuse(f, -EBADMSG, "%llu blocks of %u bytes do not fit the %llu-byte device",
			      (unsigned long long)f->blocks, f->bs, (unsigned long long)dev_size);

	f->first_data_block = mig_le32(sb + SB_FIRST_DATA_BLOCK);
	if (f->first_data_block != (f->bs == 1024 ? 1u : 0u))
		return refuse(f, -EBADMSG, "first data block %llu with %u-byte blocks",
			      (unsigned long long)f->first_data_block, f->bs);
	if (f->blocks <= f->first_data_block)
		return refuse(f, -EBADMSG, "no blocks");
	f->bpg = mig_le32(sb + SB_BLOCKS_PER_GROUP);
	if (f->bpg < 8 || f->bpg % 8 || f->bpg > 8 * f->bs ||
	    mig_le32(sb + SB_CLUSTERS_PER_GROUP) != f->bpg)
		return refuse(f, -EBADMSG, "%u blocks per group", f->bpg);

	uint64_t groups = (f->blocks - f->first_data_block + f->bpg - 1) / f->bpg;
	if (groups > MIG_EXTFS_MAX_GROUPS)
		return refuse(f, -E2BIG, "%llu groups, more than the %u this tool reads",
			      (unsigned long long)groups, MIG_EXTFS_MAX_GROUPS);
	f->groups = info->groups = (uint32_t)groups;

	ipg = mig_le32(sb + SB_INODES_PER_GROUP);
	isize = rev == 0 ? 128 : le16(sb + SB_INODE_SIZE);
	if (isize < 128 || isize > f->bs || (isize & (isize - 1)))
		return refuse(f, -EBADMSG, "inode size %u", isize);
	if (ipg == 0 || ipg > 8 * f->bs || (uint64_t)ipg * groups != mig_le32(sb + SB_INODES_COUNT))
		return refuse(f, -EBADMSG, "inode counts disagree");
	f->itb = (uint32_t)(((uint64_t)ipg * isize + f->bs - 1) / f->bs);
	if (f->itb >= f->bpg)
		return refuse(f, -EBADMSG, "inode table larger than a group");

	if (f->is64) {
		f->desc_size = le16(sb + SB_DESC_SIZE);
		if (f->desc_size < MIN_DESC_SIZE_64 || f->desc_size > MAX_DESC_SIZE ||
		    (f->desc_size & (f->desc_size - 1)) || f->desc_size > f->bs)
			return refuse(f, -EBADMSG, "group descriptor size %u", f->desc_size);
	} else {
		f->desc_size = 32;
	}
	f->dpb = f->bs / f->desc_size;
	f->desc_blocks = (groups + f->dpb - 1) / f->dpb;
	f->reserved_gdt = le16(sb + SB_RESERVED_GDT);
	f->meta_bg = incompat & INCOMPAT_META_BG;
	f->sparse_super = ro & RO_COMPAT_SPARSE_SUPER;
	f->sparse_super2 = compat & COMPAT_SPARSE_SUPER2;
	f->backup_bgs[0] = mig_le32(sb + SB_BACKUP_BGS);
	f->backup_bgs[1] = mig_le32(sb + SB_BACKUP_BGS + 4);
	if (f->meta_bg) {
		f->first_meta_bg = mig_le32(sb + SB_FIRST_META_BG);
		if (f->first_meta_bg > f->desc_blocks)
			return refuse(f, -EBADMSG, "first meta_bg %u past the %llu descriptor blocks",
				      f->first_meta_bg, (unsigned long long)f->desc_blocks);
	}
	/* The primary superblock and descriptor table must fit group 0. */
	if (base_meta_blocks(f, 0) + 2 + f->itb > f->bpg && !(incompat & INCOMPAT_FLEX_BG))
		return refuse(f, -EBADMSG, "group 0 cannot hold its own metadata");
	if (base_meta_blocks(f, 0) > group_nblocks(f, 0))
		return refuse(f, -EBADMSG, "the descriptor table does not fit group 0");
	return 0;
}

int mig_extfs_free_ranges(mig_read_fn rd, void *ctx, uint64_t dev_size,
			  mig_extfs_free_fn add_free, void *ud, struct mig_extfs_info *info)
{
	struct mig_extfs_info scratch;
	struct fs f = { .rd = rd, .ctx = ctx, .add_free = add_free, .ud = ud,
			.info = info ? info : &scratch, .gdblk_no = UINT64_MAX };
	uint8_t sb[MIG_EXTFS_SB_SIZE];
	uint64_t bitmap_free = 0;
	int r;

	memset(f.info, 0, sizeof(*f.info));
	if (dev_size < MIG_EXTFS_SB_OFFSET + MIG_EXTFS_SB_SIZE)
		return refuse(&f, -ENOENT, "too small for an ext2/3/4 filesystem");
	if ((r = rd(ctx, sb, sizeof(sb), MIG_EXTFS_SB_OFFSET)) < 0)
		return r;
	if ((r = parse_super(&f, sb, dev_size)) < 0)
		return r;

	f.blk = malloc(f.bs);
	f.gdblk = malloc(f.bs);
	f.foreign = calloc(f.groups / 8 + 1, 1);
	if (!f.blk || !f.gdblk || !f.foreign) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = check_descriptors(&f)) < 0)
		goto out;
	if ((r = walk_bitmaps(&f, &bitmap_free)) < 0)
		goto out;

	/* On a clean filesystem the two agree exactly; allow some slack for
	 * kernels that left the superblock's summary behind. */
	uint64_t diff = bitmap_free > f.info->sb_free_blocks ? bitmap_free - f.info->sb_free_blocks
							      : f.info->sb_free_blocks - bitmap_free;
	if (diff > f.blocks / 64) {
		r = refuse(&f, -EBADMSG, "the bitmaps count %llu free blocks, the superblock %llu",
			   (unsigned long long)bitmap_free, (unsigned long long)f.info->sb_free_blocks);
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		f.info->free_blocks = 0;
	free(f.blk);
	free(f.gdblk);
	free(f.foreign);
	return r;
}
