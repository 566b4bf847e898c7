/* extfs.h — which blocks of an ext2/ext3/ext4 filesystem are free.
 *
 * A pure parser: it reads the filesystem through a caller's read callback
 * (never a file descriptor, never a path), so the unit tests and the fuzz
 * target feed it bytes. It reads the superblock, every group descriptor and
 * one block bitmap at a time; memory stays small whatever the disk says
 * (one bit per group, bounded by MIG_EXTFS_MAX_GROUPS).
 *
 * The answer is used to *skip* blocks when copying a disk, so every doubt
 * resolves to "used": skipping a used block loses data, sending a free one
 * only costs time. A filesystem that may be inconsistent (journal needs
 * recovery, errors recorded, not cleanly unmounted, checksums wrong, unknown
 * incompatible features, counts that contradict each other) is refused as a
 * whole. Layout knowledge follows e2fsprogs' lib/ext2fs (alloc_sb.c,
 * closefs.c, rw_bitmaps.c, csum.c) and the kernel's fs/ext4/balloc.c.
 */
#ifndef MIGRATOR_EXTFS_H
#define MIGRATOR_EXTFS_H

#include <stddef.h>
#include <stdint.h>

#define MIG_EXTFS_SB_OFFSET   1024
#define MIG_EXTFS_SB_SIZE     1024
#define MIG_EXTFS_MAGIC       0xEF53
/* 4 Mi groups: 512 TiB with 4 KiB blocks and the default 32768 blocks per
 * group. A bigger claim is refused rather than believed. */
#define MIG_EXTFS_MAX_GROUPS  (1u << 22)
#define MIG_EXTFS_REASON_MAX  160

/* Reads len bytes at off (relative to the filesystem start) into buf.
 * Returns 0 or -errno; a short read is -EIO. */
typedef int (*mig_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* Receives one run of free blocks, as byte offset and length relative to
 * the filesystem start. Runs come in ascending order, merged, never empty.
 * A negative return stops the walk and is returned by the parser. */
typedef int (*mig_extfs_free_fn)(void *ud, uint64_t off, uint64_t len);

struct mig_extfs_info {
	uint32_t block_size;
	uint64_t blocks_count;
	uint64_t sb_free_blocks;      /* what the superblock claims */
	uint64_t free_blocks;         /* blocks delivered as free */
	uint32_t groups;
	uint32_t groups_uninit;       /* BLOCK_UNINIT groups, computed not read */
	uint32_t groups_distrusted;   /* groups kept whole because something disagreed */
	uint32_t feature_compat, feature_incompat, feature_ro_compat;
	/* Why the filesystem was refused (empty on success); for operators. */
	char reason[MIG_EXTFS_REASON_MAX];
};

/* Finds the free blocks of the ext2/3/4 filesystem that rd reads, on a
 * device (partition) of dev_size bytes, and calls add_free(ud, ...) for each
 * run. Blocks past the filesystem's end are not free.
 *
 * Returns 0 when every run was delivered. Otherwise no answer may be used:
 * runs already delivered must be discarded (nothing is free then):
 *   -ENOENT      no ext2/3/4 superblock (magic 0xEF53 at 1024)
 *   -EOPNOTSUPP  a feature this parser does not handle (bigalloc, an unknown
 *                incompatible feature, an external journal device, ...)
 *   -EBADMSG     the filesystem cannot be trusted as it is: needs journal
 *                recovery, has errors, was not cleanly unmounted, a checksum
 *                or a count is wrong, something points outside it
 *   -E2BIG       more groups than MIG_EXTFS_MAX_GROUPS
 *   -ENOMEM, or an error of rd or add_free.
 * info (may be NULL) is always written: what was parsed so far and, on
 * -ENOENT/-EOPNOTSUPP/-EBADMSG/-E2BIG, a one-line reason. */
int mig_extfs_free_ranges(mig_read_fn rd, void *ctx, uint64_t dev_size,
			  mig_extfs_free_fn add_free, void *ud, struct mig_extfs_info *info);

/* CRC-32C (Castagnoli) as ext4 and the kernel's crc32c_le use it: no
 * pre- or post-inversion; start with ~0 for a fresh checksum. */
uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
