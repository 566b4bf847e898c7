/* xfsfs.h — which blocks of an XFS filesystem are free.
 *
 * A pure parser like extfs.h: it reads through a caller's read callback and
 * delivers free runs, in ascending order, through another. It reads the
 * primary superblock, the whole internal log (to prove it clean), and per
 * allocation group (AG) the AGF and the leaves of the by-block free-space
 * btree (bnobt). Memory stays small: one log chunk, one block.
 *
 * The answer is used to *skip* blocks when copying a disk, so every doubt
 * resolves to "used". Refused as a whole: unknown incompatible or read-only
 * features, a filesystem flagged as being made or needing repair, a
 * realtime subvolume, an external log, geometry out of range, and above all
 * a log that is not clean — when the log still holds transactions the
 * free-space btrees on disk are stale. "Clean" is decided as the kernel's
 * xlog_find_head()/xlog_check_unmount_rec() do, but stricter: every 512-byte
 * log block's cycle number is read (not a binary search), the cycles must
 * form one current-cycle run followed by one previous-cycle (or zeroed)
 * run, and the last record before that head must be a single-op unmount
 * record ending exactly at the head, with its LSN at its place and its tail
 * not after it, and on v5 a good CRC unless it has none (mkfs and
 * xfs_repair -L write theirs without; the kernel checks none here).
 *
 * An AG whose AGF or bnobt is damaged or disagrees with itself (checksum,
 * magic, owner, order, overlap, a record over the AG headers or the log,
 * records not summing to agf_freeblks) is kept whole ("distrusted"); the
 * rest of the filesystem is still mapped. Blocks on the AG free list (AGFL)
 * are not in the bnobt and count as used: a few blocks per AG.
 * Layout knowledge follows the kernel's fs/xfs/libxfs/xfs_format.h,
 * xfs_log_format.h and fs/xfs/xfs_log_recover.c.
 */
#ifndef MIGRATOR_XFSFS_H
#define MIGRATOR_XFSFS_H

#include <stddef.h>
#include <stdint.h>

#include "extfs.h"      /* mig_read_fn, mig_crc32c, MIG_EXTFS_REASON_MAX */

#define MIG_XFS_MAGIC       0x58465342u     /* "XFSB" */
/* 1 Mi AGs (an AG is at most 1 TiB): more is refused rather than believed. */
#define MIG_XFS_MAX_AGS     (1u << 20)
/* The kernel's largest log (XFS_MAX_LOG_BYTES). */
#define MIG_XFS_MAX_LOG     (2ull << 30)

/* Same contract as mig_extfs_free_fn: byte offset and length relative to
 * the filesystem start, ascending, merged, never empty; a negative return
 * stops the walk and is returned by the parser. */
typedef int (*mig_xfs_free_fn)(void *ud, uint64_t off, uint64_t len);

struct mig_xfs_info {
	uint32_t version;               /* 4 or 5 */
	uint32_t block_size, sector_size;
	uint32_t agcount, agblocks;
	uint64_t dblocks;
	uint64_t sb_free_blocks;        /* sb_fdblocks: includes AGFL and btree blocks */
	uint64_t agf_free_blocks;       /* sum of agf_freeblks over the AGs read */
	uint64_t free_blocks;           /* blocks delivered as free */
	uint32_t ags_distrusted;        /* AGs kept whole because something disagreed */
	uint64_t log_blocks;            /* log size in 512-byte blocks */
	uint64_t log_head;              /* head block found (when the log was read) */
	/* Why the filesystem was refused (empty on success); for operators. */
	char reason[MIG_EXTFS_REASON_MAX];
	/* On success: why the first distrusted AG was kept whole, or empty. */
	char note[MIG_EXTFS_REASON_MAX];
};

/* Finds the free blocks of the XFS filesystem that rd reads, on a device
 * (partition) of dev_size bytes, and calls add_free(ud, ...) for each run.
 *
 * Returns 0 when every run was delivered. Otherwise no answer may be used:
 * runs already delivered must be discarded (nothing is free then):
 *   -ENOENT      no XFS superblock (magic XFSB at 0)
 *   -EOPNOTSUPP  a feature or layout this parser does not handle (unknown
 *                features, realtime subvolume, external log, version)
 *   -EBADMSG     the filesystem cannot be trusted as it is: the log needs
 *                recovery (or is odd), a checksum or a geometry field is
 *                wrong, it is flagged as needing repair or being made
 *   -E2BIG       more AGs than MIG_XFS_MAX_AGS
 *   -ENOMEM, or an error of rd or add_free.
 * info (may be NULL) is always written: what was parsed so far and, on
 * -ENOENT/-EOPNOTSUPP/-EBADMSG/-E2BIG, a one-line reason. */
int mig_xfs_free_ranges(mig_read_fn rd, void *ctx, uint64_t dev_size,
			mig_xfs_free_fn add_free, void *ud, struct mig_xfs_info *info);

#endif
