/* usedmap.h — which byte ranges of a disk hold nothing worth copying.
 *
 * `migrator send --used-only` skips the blocks that an ext2/3/4 or XFS
 * filesystem marks free. This module finds them on a whole disk: the
 * partition table (libblkid), each partition's signature (libblkid), for
 * ext2/3/4 the block bitmaps (extfs.h), for XFS the free-space btrees
 * (xfsfs.h). Everything else is used: partition-table areas, gaps, BIOS
 * boot, swap, LVM, LUKS, other filesystems, and any ext or XFS filesystem
 * that is refused (each refusal is reported with its reason). A whole-disk
 * filesystem without a partition table is handled too.
 *
 * The map is a sorted array of disjoint, merged, disk-absolute free ranges;
 * queries are binary searches, cheap enough for every 4 MiB chunk. It is
 * read-only after build and may be shared between threads.
 */
#ifndef MIGRATOR_USEDMAP_H
#define MIGRATOR_USEDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "extfs.h"
#include "xfsfs.h"

/* At most this many free ranges are kept: past it, the shortest ranges are
 * dropped (they stay "used"), doubling the minimum length each time. */
#define MIG_USEDMAP_MAX_RANGES  (1u << 20)
#define MIG_USEDMAP_MAX_AREAS   256         /* partitions looked at; any further stay used */

enum mig_usedmap_status {
	MIG_USEDMAP_MAPPED,     /* ext2/3/4 or xfs: its free blocks are in the map */
	MIG_USEDMAP_REFUSED,    /* ext2/3/4 or xfs, but refused: all used (see reason) */
	MIG_USEDMAP_OTHER,      /* anything else, or nothing found: all used */
};

/* One area looked at: a partition, or the whole disk without a table. */
struct mig_usedmap_area {
	size_t partno;          /* 1-based; 0 for a whole-disk filesystem */
	uint64_t offset, size;  /* bytes on the disk */
	char fstype[32];        /* libblkid's TYPE ("ext4", "swap", ...) or "" */
	enum mig_usedmap_status status;
	int error;              /* for REFUSED: the -errno of the parser */
	/* For REFUSED, or why an area was not probed; for a MAPPED xfs, why
	 * some allocation groups were kept used (empty when none were). */
	char reason[MIG_EXTFS_REASON_MAX];
	uint64_t free_bytes;    /* bytes of this area in the map */
	struct mig_extfs_info ext;          /* MAPPED or REFUSED ext2/3/4 only */
	struct mig_xfs_info xfs;            /* MAPPED or REFUSED xfs only */
};

struct mig_usedmap;

/* Builds the map of the disk (block device or image) open read-only on fd,
 * disk_size bytes long. Returns 0 and *ret (free with mig_usedmap_free());
 * -ENOMEM, or -EIO when the disk cannot be read or probed at all. A
 * filesystem that is refused or unreadable is not an error of build: it
 * stays used and is reported in the area list. Reads only; never writes. */
int mig_usedmap_build(int fd, uint64_t disk_size, struct mig_usedmap **ret);

void mig_usedmap_free(struct mig_usedmap *m);   /* NULL ok */

/* 1 if [off, off+len) is entirely free, 0 otherwise (also for len 0). */
int mig_usedmap_is_free(const struct mig_usedmap *m, uint64_t off, uint64_t len);

/* The first free range that overlaps [off, end), clipped to it: returns 0
 * and *ret_off, *ret_len; 1 when there is none. Iterate with
 * off = *ret_off + *ret_len to list the free parts of a chunk (e.g. to zero
 * them in a buffer), or of the whole disk. */
int mig_usedmap_next_free(const struct mig_usedmap *m, uint64_t off, uint64_t end,
			  uint64_t *ret_off, uint64_t *ret_len);

/* Total free bytes in the map. */
uint64_t mig_usedmap_free_bytes(const struct mig_usedmap *m);
/* Disk size given to build. */
uint64_t mig_usedmap_disk_size(const struct mig_usedmap *m);
/* Free ranges shorter than this were dropped to stay within
 * MIG_USEDMAP_MAX_RANGES (0 when none were). */
uint64_t mig_usedmap_min_range(const struct mig_usedmap *m);

/* The areas looked at, in disk order; *ret_n their count. Owned by m. */
const struct mig_usedmap_area *mig_usedmap_areas(const struct mig_usedmap *m, size_t *ret_n);

/* "mapped", "refused", "other". */
const char *mig_usedmap_status_name(enum mig_usedmap_status s);

#endif
