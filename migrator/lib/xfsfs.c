/* xfsfs.c — see xfsfs.h.
 *
 * Three steps: the primary superblock; the internal log, read whole, to
 * prove that it ends in an unmount record; then per AG the AGF and the
 * bnobt leaves, walked twice — once to check (order, bounds, the sum
 * against agf_freeblks) and, only if that passed, once more to deliver —
 * so an AG is never half delivered and no record list is held in memory. */
#include "xfsfs.h"
#include "bootsect.h"   /* mig_le32 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BBSIZE 512u

/* superblock (struct xfs_dsb) offsets, big-endian */
#define SB_BLOCKSIZE    4
#define SB_DBLOCKS      8
#define SB_RBLOCKS      16
#define SB_REXTENTS     24
#define SB_UUID         32
#define SB_LOGSTART     48
#define SB_AGBLOCKS     84
#define SB_AGCOUNT      88
#define SB_LOGBLOCKS    96
#define SB_VERSIONNUM   100
#define SB_SECTSIZE     102
#define SB_BLOCKLOG     120
#define SB_SECTLOG      121
#define SB_AGBLKLOG     124
#define SB_INPROGRESS   126
#define SB_FDBLOCKS     144
#define SB_FEATURES2    200
#define SB_FEAT_RO      212
#define SB_FEAT_INCOMPAT 216
#define SB_FEAT_LOG_INCOMPAT 220
#define SB_CRC          224
#define SB_META_UUID    248
#define SB_END          264

#define VERSION_NUMBITS   0x000f
#define VERSION_LOGV2BIT  0x0400
#define VERSION_DIRV2BIT  0x2000
#define VERSION_MOREBITS  0x8000
#define VERSION2_CRCBIT   0x0100
/* v4 features2 bits that leave the free-space btrees as they are: lazy
 * sb counters, attr2, parent (old), 32-bit project ids, ftype, reserved 1. */
#define VERSION2_V4_KNOWN (0x0001 | 0x0002 | 0x0008 | 0x0010 | 0x0080 | 0x0200)

#define RO_KNOWN          0x000f    /* finobt, rmapbt, reflink, inobtcnt */
#define INCOMPAT_META_UUID   0x0004
#define INCOMPAT_NEEDSREPAIR 0x0010
/* ftype, sparse inodes, meta_uuid, bigtime, nrext64, exchrange, parent */
#define INCOMPAT_KNOWN    (0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0020 | 0x0040 | 0x0080)

/* AGF (struct xfs_agf) */
#define AGF_MAGIC       0x58414746u     /* "XAGF" */
#define AGF_VERSIONNUM  4
#define AGF_SEQNO       8
#define AGF_LENGTH      12
#define AGF_BNO_ROOT    16
#define AGF_BNO_LEVEL   28
#define AGF_FLCOUNT     48
#define AGF_FREEBLKS    52
#define AGF_UUID        64
#define AGF_CRC         216

/* short-form btree block header */
#define BT_MAGIC_V5     0x41423342u     /* "AB3B" */
#define BT_MAGIC_V4     0x41425442u     /* "ABTB" */
#define BT_LEVEL        4
#define BT_NUMRECS      6
#define BT_LEFTSIB      8
#define BT_RIGHTSIB     12
#define BT_BLKNO        16
#define BT_UUID         32
#define BT_OWNER        48
#define BT_CRC          52
#define BT_HDR_V4       16
#define BT_HDR_V5       56
#define NULLAGBLOCK     0xffffffffu
/* An alloc btree of a 1 TiB AG with 512-byte blocks has 7 levels. */
#define BT_MAX_LEVELS   9

/* log record header (struct xlog_rec_header) */
#define LOG_MAGIC       0xfeedbabeu
#define LH_CYCLE        4
#define LH_VERSION      8
#define LH_LEN          12
#define LH_LSN          16
#define LH_TAIL_LSN     24
#define LH_CRC          32
#define LH_NUM_LOGOPS   40
#define LH_FMT          300
#define LH_FS_UUID      304
#define LH_SIZE         320
/* The header's CRC covers sizeof(struct xlog_rec_header): 328 bytes where
 * u64 is 8-aligned (x86_64 and most), 324 where it is not (i386). */
#define LH_SIZEOF_PAD   328
#define LH_SIZEOF_PACK  324
#define LH_EXT_SIZEOF   260     /* struct xlog_rec_ext_header */
#define LOG_CYCLE_SIZE  32768   /* XLOG_HEADER_CYCLE_SIZE */
#define LOG_MAX_RECORD  262144  /* XLOG_MAX_RECORD_BSIZE */
#define LOG_MAX_LEN     (2 * LOG_MAX_RECORD)    /* record plus stripe padding */
#define OP_CLIENTID     8
#define OP_FLAGS        9
#define XFS_LOG_CLIENT  0xaa
#define UNMOUNT_TRANS   0x20

#define LOG_CHUNK       (1u << 20)

struct fs {
	mig_read_fn rd;
	void *ctx;
	mig_xfs_free_fn add_free;
	void *ud;
	struct mig_xfs_info *info;

	uint32_t bs, ss, agcount, agblocks, agblklog, version;
	uint64_t dblocks;
	bool crc, logv2;
	uint8_t uuid[16], meta_uuid[16];
	uint64_t log_fsb, log_len;       /* log start (linear block), length in blocks */
	uint32_t log_ag, log_agbno;

	uint8_t *blk;                    /* one block */
	uint64_t run_start, run_len;     /* pending free run, in blocks */
	char why[MIG_EXTFS_REASON_MAX];  /* why the current AG is distrusted */
};

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define csum_ok(x) ((void)(x), true)
#else
#define csum_ok(x) (x)
#endif

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static int refuse(struct fs *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct fs *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->info->reason, sizeof(f->info->reason), fmt, ap);
	va_end(ap);
	return err;
}

/* Marks the current AG distrusted; returns 1. */
static int distrust(struct fs *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int distrust(struct fs *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	return 1;
}

/* XFS's CRC: crc32c seeded with ~0 over the buffer with its crc field
 * zeroed, stored inverted and little-endian (xfs_end_cksum). */
static bool xfs_csum_ok(const uint8_t *buf, size_t len, size_t off)
{
	static const uint8_t zero[4];
	uint32_t c = mig_crc32c(~0u, buf, off);

	c = mig_crc32c(c, zero, 4);
	c = mig_crc32c(c, buf + off + 4, len - off - 4);
	return ~c == mig_le32(buf + off);
}

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

static uint32_t log2u(uint32_t v)
{
	uint32_t l = 0;

	while (v >>= 1)
		l++;
	return l;
}

/* --- superblock ----------------------------------------------------------- */

static int parse_super(struct fs *f, const uint8_t *sb, uint64_t dev_size)
{
	struct mig_xfs_info *info = f->info;
	uint16_t vn = be16(sb + SB_VERSIONNUM);
	uint32_t ro = be32(sb + SB_FEAT_RO), incompat = be32(sb + SB_FEAT_INCOMPAT);

	f->version = info->version = vn & VERSION_NUMBITS;
	if (f->version == 5) {
		f->crc = true;
		f->logv2 = true;
		if (incompat & INCOMPAT_NEEDSREPAIR)
			return refuse(f, -EBADMSG, "flagged as needing repair: run xfs_repair first");
		if (incompat & ~(uint32_t)INCOMPAT_KNOWN)
			return refuse(f, -EOPNOTSUPP, "unsupported incompatible features 0x%x",
				      incompat & ~(uint32_t)INCOMPAT_KNOWN);
		if (ro & ~(uint32_t)RO_KNOWN)
			return refuse(f, -EOPNOTSUPP, "unsupported read-only features 0x%x",
				      ro & ~(uint32_t)RO_KNOWN);
		if (be32(sb + SB_FEAT_LOG_INCOMPAT))
			return refuse(f, -EBADMSG, "log-incompatible features 0x%x are set: the log needs recovery",
				      be32(sb + SB_FEAT_LOG_INCOMPAT));
	} else if (f->version == 4) {
		uint32_t f2 = vn & VERSION_MOREBITS ? be32(sb + SB_FEATURES2) : 0;

		if (!(vn & VERSION_DIRV2BIT))
			return refuse(f, -EOPNOTSUPP, "version 4 without v2 directories");
		if (f2 & VERSION2_CRCBIT)
			return refuse(f, -EBADMSG, "version 4 with the CRC feature bit");
		if (f2 & ~(uint32_t)VERSION2_V4_KNOWN)
			return refuse(f, -EOPNOTSUPP, "unsupported features2 0x%x", f2 & ~(uint32_t)VERSION2_V4_KNOWN);
		f->logv2 = vn & VERSION_LOGV2BIT;
	} else {
		return refuse(f, -EOPNOTSUPP, "XFS version %u", f->version);
	}
	if (sb[SB_INPROGRESS])
		return refuse(f, -EBADMSG, "mkfs did not finish (sb_inprogress)");

	f->bs = info->block_size = be32(sb + SB_BLOCKSIZE);
	f->ss = info->sector_size = be16(sb + SB_SECTSIZE);
	if (!pow2(f->bs) || f->bs < 512 || f->bs > 65536 || sb[SB_BLOCKLOG] != log2u(f->bs))
		return refuse(f, -EBADMSG, "block size %u", f->bs);
	if (!pow2(f->ss) || f->ss < 512 || f->ss > 32768 || f->ss > f->bs || sb[SB_SECTLOG] != log2u(f->ss))
		return refuse(f, -EBADMSG, "sector size %u", f->ss);
	f->agcount = info->agcount = be32(sb + SB_AGCOUNT);
	f->agblocks = info->agblocks = be32(sb + SB_AGBLOCKS);
	f->dblocks = info->dblocks = be64(sb + SB_DBLOCKS);
	info->sb_free_blocks = be64(sb + SB_FDBLOCKS);
	if (f->agcount > MIG_XFS_MAX_AGS)
		return refuse(f, -E2BIG, "%u allocation groups, more than the %u this tool reads",
			      f->agcount, MIG_XFS_MAX_AGS);
	if (f->agcount == 0 || f->agblocks < 64 || f->agblocks > (1u << 31))
		return refuse(f, -EBADMSG, "%u allocation groups of %u blocks", f->agcount, f->agblocks);
	f->agblklog = sb[SB_AGBLKLOG];
	if (f->agblklog != log2u(f->agblocks - 1) + 1)
		return refuse(f, -EBADMSG, "AG block log %u for %u blocks", f->agblklog, f->agblocks);
	uint64_t full = (uint64_t)(f->agcount - 1) * f->agblocks, bytes;
	if (f->dblocks <= full || f->dblocks > full + f->agblocks)
		return refuse(f, -EBADMSG, "%llu blocks do not fit %u AGs of %u",
			      (unsigned long long)f->dblocks, f->agcount, f->agblocks);
	if (f->dblocks - full < 16)
		return refuse(f, -EBADMSG, "the last AG has %llu blocks", (unsigned long long)(f->dblocks - full));
	if (__builtin_mul_overflow(f->dblocks, (uint64_t)f->bs, &bytes) || bytes > dev_size)
		return refuse(f, -EBADMSG, "%llu blocks of %u bytes do not fit the %llu-byte device",
			      (unsigned long long)f->dblocks, f->bs, (unsigned long long)dev_size);
	if (be64(sb + SB_RBLOCKS) || be64(sb + SB_REXTENTS))
		return refuse(f, -EOPNOTSUPP, "a realtime subvolume");

	memcpy(f->uuid, sb + SB_UUID, 16);
	memcpy(f->meta_uuid, f->version == 5 && (incompat & INCOMPAT_META_UUID) ? sb + SB_META_UUID : sb + SB_UUID, 16);

	uint64_t logstart = be64(sb + SB_LOGSTART);
	uint32_t logblocks = be32(sb + SB_LOGBLOCKS);
	if (logstart == 0)
		return refuse(f, -EOPNOTSUPP, "an external log device");
	if (logstart >> f->agblklog >= f->agcount)
		return refuse(f, -EBADMSG, "log start %llu outside the filesystem", (unsigned long long)logstart);
	f->log_ag = (uint32_t)(logstart >> f->agblklog);
	f->log_agbno = (uint32_t)(logstart & ((1ull << f->agblklog) - 1));
	uint64_t aglen = f->log_ag == f->agcount - 1 ? f->dblocks - full : f->agblocks;
	if (logblocks < 2 || (uint64_t)logblocks * f->bs > MIG_XFS_MAX_LOG ||
	    f->log_agbno >= aglen || logblocks > aglen - f->log_agbno)
		return refuse(f, -EBADMSG, "a log of %u blocks at %llu does not fit its AG",
			      logblocks, (unsigned long long)logstart);
	f->log_fsb = (uint64_t)f->log_ag * f->agblocks + f->log_agbno;
	f->log_len = logblocks;
	info->log_blocks = (uint64_t)logblocks * (f->bs / BBSIZE);
	return 0;
}

/* --- the log -------------------------------------------------------------- */

/* A log block's cycle: the second word of a record header, else the first
 * (xlog_pack_data stamps it over every 512-byte block of a record). */
static uint32_t bb_cycle(const uint8_t *bb)
{
	return be32(bb) == LOG_MAGIC ? be32(bb + LH_CYCLE) : be32(bb);
}

static int read_log_bb(struct fs *f, uint64_t bb, uint8_t *buf)
{
	return f->rd(f->ctx, buf, BBSIZE, f->log_fsb * f->bs + (bb % f->info->log_blocks) * BBSIZE);
}

/* CRC of the record at rhead (header block already in hdr) over sizeof
 * header bytes hsz: header, extended headers, then h_len data bytes, which
 * may wrap around the log's end. */
static int record_crc_ok(struct fs *f, const uint8_t *hdr, uint64_t rblk, uint32_t hblks,
			 uint32_t len, size_t hsz, bool *ret_ok)
{
	uint8_t bb[BBSIZE];
	uint32_t c = mig_crc32c(~0u, hdr, LH_CRC);
	static const uint8_t zero[4];
	int r;

	c = mig_crc32c(c, zero, 4);
	c = mig_crc32c(c, hdr + LH_CRC + 4, hsz - LH_CRC - 4);
	for (uint32_t i = 1; i < hblks; i++) {
		if ((r = read_log_bb(f, rblk + i, bb)) < 0)
			return r;
		c = mig_crc32c(c, bb, LH_EXT_SIZEOF);
	}
	for (uint32_t done = 0, i = 0; done < len; i++) {
		uint32_t n = len - done < BBSIZE ? len - done : BBSIZE;

		if ((r = read_log_bb(f, rblk + hblks + i, bb)) < 0)
			return r;
		c = mig_crc32c(c, bb, n);
		done += n;
	}
	*ret_ok = ~c == mig_le32(hdr + LH_CRC);
	return 0;
}

/* Reads every log block's cycle: blocks [0, head) carry the current cycle,
 * [head, end) zeros then the previous cycle (either run may be empty). Zeros
 * are blocks nothing wrote since the log was cleared: mkfs zeroes the log
 * behind its cycle-1 unmount record, xfs_repair -L a window behind a record
 * of a higher cycle, leaving older blocks after it. Notes the last record
 * header before the head and the last one after it. */
static int scan_log(struct fs *f, uint64_t *ret_head, uint32_t *ret_cycle,
		    uint64_t *ret_hdr_cur, uint64_t *ret_hdr_prev)
{
	uint64_t nbb = f->info->log_blocks, base = f->log_fsb * f->bs;
	uint64_t head = UINT64_MAX, hdr_cur = UINT64_MAX, hdr_prev = UINT64_MAX;
	uint32_t cur = 0, prev = 0;
	uint8_t *buf = malloc(LOG_CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t at = 0; at < nbb;) {
		uint64_t n = nbb - at < LOG_CHUNK / BBSIZE ? nbb - at : LOG_CHUNK / BBSIZE;

		if ((r = f->rd(f->ctx, buf, (size_t)n * BBSIZE, base + at * BBSIZE)) < 0)
			goto out;
		for (uint64_t i = 0; i < n; i++, at++) {
			const uint8_t *bb = buf + i * BBSIZE;
			uint32_t c = bb_cycle(bb);
			bool is_hdr = be32(bb) == LOG_MAGIC;

			if (at == 0) {
				cur = c;
				if (cur == 0) {
					r = refuse(f, -EBADMSG, "the log is zeroed: no unmount record, log needs recovery");
					goto out;
				}
			}
			if (head == UINT64_MAX && c == cur) {
				if (is_hdr)
					hdr_cur = at;
				continue;
			}
			if (head == UINT64_MAX) {
				head = at;
				prev = c;
				if (c != cur - 1 && c != 0) {
					r = refuse(f, -EBADMSG, "log cycle %u follows cycle %u at block %llu: log needs recovery",
						   c, cur, (unsigned long long)at);
					goto out;
				}
			}
			if (c != prev && prev == 0 && c == cur - 1)
				prev = c;       /* the zeroed window ends, older blocks follow */
			if (c != prev) {
				r = refuse(f, -EBADMSG, "log cycle %u at block %llu after the head (cycle %u): log needs recovery",
					   c, (unsigned long long)at, prev);
				goto out;
			}
			if (is_hdr)
				hdr_prev = at;
		}
	}
	*ret_head = head == UINT64_MAX ? 0 : head;
	*ret_cycle = cur;
	*ret_hdr_cur = hdr_cur;
	*ret_hdr_prev = hdr_prev;
out:
	free(buf);
	return r;
}

/* The log must end in an unmount record: the kernel then replays nothing,
 * and everything the log ever held is in place on disk. */
static int check_log(struct fs *f)
{
	uint64_t nbb = f->info->log_blocks, head = 0, hdr_cur = UINT64_MAX, hdr_prev = UINT64_MAX, rblk;
	uint32_t cycle = 0, rcycle;
	uint8_t hdr[BBSIZE], op[BBSIZE];
	int r;

	if ((r = scan_log(f, &head, &cycle, &hdr_cur, &hdr_prev)) < 0)
		return r;
	f->info->log_head = head;
	/* The last record before the head: in [0, head) if one starts there,
	 * else one that started at the log's end in the previous cycle and
	 * wrapped (or, when the head is 0, the last one of this cycle). */
	if (head > 0 && hdr_cur != UINT64_MAX) {
		rblk = hdr_cur;
		rcycle = cycle;
	} else if (head > 0 && hdr_prev != UINT64_MAX) {
		rblk = hdr_prev;
		rcycle = cycle - 1;
	} else if (head == 0 && hdr_cur != UINT64_MAX) {
		rblk = hdr_cur;
		rcycle = cycle;
	} else {
		return refuse(f, -EBADMSG, "no log record before the log head: log needs recovery");
	}
	if ((r = read_log_bb(f, rblk, hdr)) < 0)
		return r;

	uint32_t version = be32(hdr + LH_VERSION), len = be32(hdr + LH_LEN), size = be32(hdr + LH_SIZE);
	uint64_t lsn = be64(hdr + LH_LSN), tail = be64(hdr + LH_TAIL_LSN);
	uint32_t hblks = 1;

	if (be32(hdr + LH_CYCLE) != rcycle || lsn != ((uint64_t)rcycle << 32 | rblk))
		return refuse(f, -EBADMSG, "log record at block %llu: its LSN does not match its place",
			      (unsigned long long)rblk);
	if (version != 1 && version != 2)
		return refuse(f, -EBADMSG, "log record version %u", version);
	if (f->logv2 && (version & 2) && size > LOG_CYCLE_SIZE) {
		if (size > LOG_MAX_RECORD)
			return refuse(f, -EBADMSG, "log record size %u", size);
		hblks = (size + LOG_CYCLE_SIZE - 1) / LOG_CYCLE_SIZE;
	}
	if (len == 0 || len > LOG_MAX_LEN)
		return refuse(f, -EBADMSG, "log record length %u", len);
	if (be32(hdr + LH_FMT) == 0 || memcmp(hdr + LH_FS_UUID, f->uuid, 16))
		return refuse(f, -EBADMSG, "the log belongs to another filesystem");
	if ((tail >> 32) > rcycle || tail > lsn || (uint32_t)tail >= nbb)
		return refuse(f, -EBADMSG, "log tail %u:%u past the last record", (uint32_t)(tail >> 32), (uint32_t)tail);
	if ((rblk + hblks + (len + BBSIZE - 1) / BBSIZE) % nbb != head)
		return refuse(f, -EBADMSG, "the last log record does not end at the log head: log needs recovery");
	if (be32(hdr + LH_NUM_LOGOPS) != 1)
		return refuse(f, -EBADMSG, "the last log record is not an unmount record: log needs recovery");
	if ((r = read_log_bb(f, rblk + hblks, op)) < 0)
		return r;
	if (op[OP_CLIENTID] != XFS_LOG_CLIENT || !(op[OP_FLAGS] & UNMOUNT_TRANS))
		return refuse(f, -EBADMSG, "the last log record is not an unmount record: log needs recovery");
	/* The kernel checks no CRC on this path (an i386 kernel and an x86_64
	 * one sum different header sizes); this parser checks one the record
	 * carries, for both sizes. mkfs and xfs_repair -L write theirs without
	 * (h_crc 0; mkfs with the tail at the record, repair at the old end):
	 * the kernel trusts those, and so does this. */
	if (f->crc && mig_le32(hdr + LH_CRC) != 0) {
		bool ok = false;

		if ((r = record_crc_ok(f, hdr, rblk, hblks, len, LH_SIZEOF_PAD, &ok)) < 0)
			return r;
		if (!ok && (r = record_crc_ok(f, hdr, rblk, hblks, len, LH_SIZEOF_PACK, &ok)) < 0)
			return r;
		if (!csum_ok(ok))
			return refuse(f, -EBADMSG, "the unmount record's checksum is wrong: log needs recovery");
	}
	return 0;
}

/* --- allocation groups ---------------------------------------------------- */

static uint64_t ag_len(const struct fs *f, uint32_t ag)
{
	return ag == f->agcount - 1 ? f->dblocks - (uint64_t)ag * f->agblocks : f->agblocks;
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

	f->info->free_blocks += n;
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

/* Reads bnobt block agbno of AG ag and checks its header: 0, 1 when the AG
 * is to be distrusted, or -errno. */
static int read_bt(struct fs *f, uint32_t ag, uint32_t agbno, uint32_t level, uint32_t left,
		   uint32_t max, uint32_t *ret_numrecs)
{
	uint64_t aglen = ag_len(f, ag), fsb = (uint64_t)ag * f->agblocks + agbno;
	uint8_t *b = f->blk;
	int r;

	if (agbno == 0 || agbno >= aglen)
		return distrust(f, "AG %u: bnobt block %u outside the AG", ag, agbno);
	if ((r = f->rd(f->ctx, b, f->bs, fsb * f->bs)) < 0)
		return r;
	if (be32(b) != (f->crc ? BT_MAGIC_V5 : BT_MAGIC_V4))
		return distrust(f, "AG %u: bnobt block %u: bad magic", ag, agbno);
	if (f->crc) {
		if (!csum_ok(xfs_csum_ok(b, f->bs, BT_CRC)))
			return distrust(f, "AG %u: bnobt block %u: checksum mismatch", ag, agbno);
		if (be64(b + BT_BLKNO) != fsb * (f->bs / BBSIZE) || be32(b + BT_OWNER) != ag ||
		    memcmp(b + BT_UUID, f->meta_uuid, 16))
			return distrust(f, "AG %u: bnobt block %u belongs elsewhere", ag, agbno);
	}
	if (be16(b + BT_LEVEL) != level)
		return distrust(f, "AG %u: bnobt block %u: level %u, expected %u", ag, agbno, be16(b + BT_LEVEL), level);
	if (be32(b + BT_LEFTSIB) != left)
		return distrust(f, "AG %u: bnobt block %u: wrong left sibling", ag, agbno);
	*ret_numrecs = be16(b + BT_NUMRECS);
	if (*ret_numrecs > max)
		return distrust(f, "AG %u: bnobt block %u: %u records", ag, agbno, *ret_numrecs);
	return 0;
}

/* Walks AG ag's bnobt from the root down the leftmost path and along the
 * leaves. Checks order and bounds; delivers the records when deliver is
 * set. *ret_sum: the free blocks the records add up to. Returns 0, 1 when
 * the AG is to be distrusted (f->why says why), or -errno. */
static int walk_bnobt(struct fs *f, uint32_t ag, const uint8_t *agf, bool deliver, uint64_t *ret_sum)
{
	uint64_t aglen = ag_len(f, ag), sum = 0, next = 0, leaves = 0;
	uint32_t hdr = f->crc ? BT_HDR_V5 : BT_HDR_V4;
	uint32_t leaf_max = (f->bs - hdr) / 8, node_max = (f->bs - hdr) / 12;
	uint32_t blk = be32(agf + AGF_BNO_ROOT), levels = be32(agf + AGF_BNO_LEVEL), n, prev = NULLAGBLOCK;
	/* the AG headers: superblock, AGF, AGI, AGFL sectors */
	uint64_t first = (4ull * f->ss + f->bs - 1) / f->bs;
	int r;

	if (levels < 1 || levels > BT_MAX_LEVELS)
		return distrust(f, "AG %u: bnobt of %u levels", ag, levels);
	for (uint32_t lv = levels - 1; lv > 0; lv--) {
		if ((r = read_bt(f, ag, blk, lv, NULLAGBLOCK, node_max, &n)) != 0)
			return r;
		if (n == 0)
			return distrust(f, "AG %u: empty bnobt node %u", ag, blk);
		blk = be32(f->blk + hdr + (size_t)node_max * 8);
	}
	next = first;
	while (blk != NULLAGBLOCK) {
		if (++leaves > aglen)
			return distrust(f, "AG %u: bnobt leaves loop", ag);
		if ((r = read_bt(f, ag, blk, 0, prev, leaf_max, &n)) != 0)
			return r;
		if (n == 0 && (levels > 1 || leaves > 1 || be32(f->blk + BT_RIGHTSIB) != NULLAGBLOCK))
			return distrust(f, "AG %u: empty bnobt leaf %u", ag, blk);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *rec = f->blk + hdr + (size_t)i * 8;
			uint64_t start = be32(rec), count = be32(rec + 4);

			if (count == 0 || start < next || start + count > aglen)
				return distrust(f, "AG %u: free extent %llu+%llu out of order or outside the AG", ag,
						(unsigned long long)start, (unsigned long long)count);
			if (ag == f->log_ag && start < f->log_agbno + f->log_len && f->log_agbno < start + count)
				return distrust(f, "AG %u: free extent %llu+%llu overlaps the log", ag,
						(unsigned long long)start, (unsigned long long)count);
			next = start + count;
			sum += count;
			if (deliver && (r = add_free_blocks(f, (uint64_t)ag * f->agblocks + start, count)) < 0)
				return r;
		}
		prev = blk;
		blk = be32(f->blk + BT_RIGHTSIB);
	}
	*ret_sum = sum;
	return 0;
}

/* Checks AG ag: the AGF, then a checking walk of its bnobt. Returns 0 with
 * the AGF in agf, 1 to distrust the AG, or -errno. */
static int check_ag(struct fs *f, uint32_t ag, uint8_t *agf)
{
	uint64_t aglen = ag_len(f, ag), sum = 0;
	int r;

	if ((r = f->rd(f->ctx, agf, f->ss, (uint64_t)ag * f->agblocks * f->bs + f->ss)) < 0)
		return r;
	if (be32(agf) != AGF_MAGIC || be32(agf + AGF_VERSIONNUM) != 1)
		return distrust(f, "AG %u: bad AGF magic", ag);
	if (f->crc) {
		if (!csum_ok(xfs_csum_ok(agf, f->ss, AGF_CRC)))
			return distrust(f, "AG %u: AGF checksum mismatch", ag);
		if (memcmp(agf + AGF_UUID, f->meta_uuid, 16))
			return distrust(f, "AG %u: AGF of another filesystem", ag);
	}
	if (be32(agf + AGF_SEQNO) != ag || be32(agf + AGF_LENGTH) != aglen)
		return distrust(f, "AG %u: AGF number or length wrong", ag);
	uint32_t freeblks = be32(agf + AGF_FREEBLKS);
	if (freeblks > aglen)
		return distrust(f, "AG %u: AGF counts %u free of %llu blocks", ag, freeblks, (unsigned long long)aglen);
	f->info->agf_free_blocks += freeblks;
	if ((r = walk_bnobt(f, ag, agf, false, &sum)) != 0)
		return r;
	if (sum != freeblks)
		return distrust(f, "AG %u: the bnobt holds %llu free blocks, the AGF %u", ag,
				(unsigned long long)sum, freeblks);
	return 0;
}

static int walk_ags(struct fs *f)
{
	uint8_t *agf = malloc(f->ss);
	uint64_t sum, again;
	int r = 0;

	if (!agf)
		return -ENOMEM;
	for (uint32_t ag = 0; ag < f->agcount; ag++) {
		if ((r = check_ag(f, ag, agf)) < 0)
			goto out;
		if (r == 1) {
			if (!f->info->ags_distrusted++)
				snprintf(f->info->note, sizeof(f->info->note), "%.140s: AG kept used", f->why);
			continue;
		}
		sum = be32(agf + AGF_FREEBLKS);
		/* The same walk again, delivering. Reads are repeatable on a
		 * source nobody writes; if they are not, nothing is trusted. */
		if ((r = walk_bnobt(f, ag, agf, true, &again)) < 0)
			goto out;       /* a read error, or add_free's */
		if (r == 1 || again != sum) {
			r = refuse(f, -EBADMSG, "AG %u changed while being read", ag);
			goto out;
		}
	}
	r = flush_run(f);
out:
	free(agf);
	return r;
}

int mig_xfs_free_ranges(mig_read_fn rd, void *ctx, uint64_t dev_size,
			mig_xfs_free_fn add_free, void *ud, struct mig_xfs_info *info)
{
	struct mig_xfs_info scratch;
	struct fs f = { .rd = rd, .ctx = ctx, .add_free = add_free, .ud = ud,
			.info = info ? info : &scratch };
	uint8_t first[BBSIZE], *sb = NULL;
	int r;

	memset(f.info, 0, sizeof(*f.info));
	if (dev_size < 4096)
		return refuse(&f, -ENOENT, "too small for an XFS filesystem");
	if ((r = rd(ctx, first, sizeof(first), 0)) < 0)
		return r;
	if (be32(first) != MIG_XFS_MAGIC)
		return refuse(&f, -ENOENT, "no XFS superblock");
	/* The CRC covers the whole first sector, whose size the sector says. */
	uint32_t ss = be16(first + SB_SECTSIZE);
	if (!pow2(ss) || ss < BBSIZE || ss > 32768 || ss > dev_size)
		return refuse(&f, -EBADMSG, "sector size %u", ss);
	if (!(sb = malloc(ss)))
		return -ENOMEM;
	if ((r = rd(ctx, sb, ss, 0)) < 0)
		goto out;
	if ((be16(sb + SB_VERSIONNUM) & VERSION_NUMBITS) == 5 && !csum_ok(xfs_csum_ok(sb, ss, SB_CRC))) {
		r = refuse(&f, -EBADMSG, "superblock checksum mismatch");
		goto out;
	}
	if ((r = parse_super(&f, sb, dev_size)) < 0)
		goto out;
	if ((r = check_log(&f)) < 0)
		goto out;
	if (!(f.blk = malloc(f.bs))) {
		r = -ENOMEM;
		goto out;
	}
	r = walk_ags(&f);
out:
	if (r < 0) {
		f.info->free_blocks = 0;
		f.info->note[0] = 0;
	}
	free(sb);
	free(f.blk);
	return r;
}
