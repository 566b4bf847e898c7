/* relayout.h — where each partition of a source layout goes on a target
 * disk of another size, and writing that partition table and the empty
 * filesystems onto the target.
 *
 * mig_plan_make() is a pure function of the layout and the target's size
 * and sector size (rules in docs/file-copy.md):
 *   - same table type, PTUUID and PARTUUIDs, types, names, attributes;
 *     partitions keep their numbers and their order on the disk;
 *   - fixed-size partitions (raw: BIOS boot, ESP; recreate: swap; skipped
 *     unknown ones) keep their size;
 *   - every start and every new size is aligned to 1 MiB;
 *   - target at least as large as the source's layout: every partition
 *     keeps its size, the grow partition (opts->grow_partno, else a GPT
 *     "Linux root" partition, else the last `files` partition on the disk)
 *     grows to fill the disk;
 *   - smaller: every `files` partition shrinks to
 *     max(used * 1.15 + 64 MiB, used + 256 MiB) (never below a
 *     filesystem's minimum, never above its old size), the grow partition
 *     takes what remains; if even that does not fit: -ENOSPC with the
 *     numbers (needed, available) in why.
 * mig_plan_apply() writes the target: only after re-checking it (size,
 * sector size, not in use, not the rescue medium, not a source disk; see
 * target.h) and only what the plan says.
 *
 * Ownership: a plan holds its own copy of everything it needs (it does not
 * point into the layout); mig_plan_free() frees it.
 */
#ifndef MIGRATOR_RELAYOUT_H
#define MIGRATOR_RELAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "layout.h"

#define MIG_PLAN_ALIGN      (1024 * 1024)      /* bytes */
#define MIG_PLAN_MARGIN_MIN (256ull << 20)     /* used + this, at least */
#define MIG_PLAN_MARGIN_ADD (64ull << 20)      /* used * 1.15 + this, at least */

struct mig_plan_opts {
	uint32_t grow_partno;   /* 0: choose (see above) */
	bool skip_unknown;      /* partitions with method none: keep the entry
				   (same size), copy nothing; else refuse */
	bool new_uuids;         /* fresh filesystem UUIDs (patch rewrites references) */
};

struct mig_plan_part {
	uint32_t partno;
	uint64_t src_start, src_size;   /* bytes, on the source */
	uint64_t start, size;           /* bytes, on the target */
	enum mig_copy_method method;
	bool grown, shrunk;
	bool skipped;                   /* method none, skipped by request */
	/* What mig_plan_apply recreates (copied from the layout; uuid fresh
	 * with new_uuids). */
	struct mig_layout_part part;
	/* ext: inode count for the new size (-N); block size may be raised to
	 * the target's sector size. */
	uint64_t inode_count;
	uint32_t block_size;
};

struct mig_plan {
	uint64_t target_size;
	uint32_t target_sector;
	uint64_t src_size;
	uint32_t src_sector;
	char *pttype, *ptuuid;
	uint64_t used_bytes;        /* sum of used bytes of every partition carried */
	uint64_t needed_bytes;      /* the smallest target this plan's rules accept */
	struct mig_plan_part *parts;   /* in table order, as the layout */
	size_t nparts;
};

/* Plans src onto a target of target_bytes with logical sector size
 * target_sector (512 or 4096; 0 means 512). opts may be NULL (defaults).
 * Returns 0 and a new plan in *ret, or -errno with one line in why:
 * -ENOSPC too small ("needs N bytes (...), the target has M"), -EOPNOTSUPP
 * something this planner cannot place (a raw vfat partition across a
 * sector size change, a partition of method none without skip_unknown),
 * -EINVAL a bad layout or sector size, -ENOMEM. */
int mig_plan_make(const struct mig_layout *src, uint64_t target_bytes, uint32_t target_sector,
		  const struct mig_plan_opts *opts, struct mig_plan **ret, char *why, size_t whylen);

/* The plan as one JSON object onto w (value of key, NULL at top level).
 * Returns the writer's error state (0 when fine). */
int mig_plan_to_json(const struct mig_plan *p, struct json_writer *w, const char *key);

/* The partition table of the plan as an sfdisk script (libfdisk
 * fdisk_script format), in a new string (*ret, caller frees). 0 or -errno. */
int mig_plan_sfdisk_script(const struct mig_plan *p, char **ret);

struct mig_plan_apply_opts {
	bool allow_overwrite;   /* the target may hold a table or signatures */
	const dev_t *forbidden; /* source disks: never written */
	size_t nforbidden;
	/* When set and the target holds a partition table: its first and
	 * last MiB are saved there before anything is written, as files
	 * "migrator-NAME-0xOFFSET.bak" (raw bytes; restore with
	 * dd of=TARGET bs=1 seek=OFFSET conv=notrunc), like sfdisk --backup. */
	const char *backup_dir;
};

/* Writes the plan onto target_dev (a block device, e.g. a loop device, or
 * an image file of at least target_size bytes): first every check of
 * mig_target_open (in use, rescue medium, source disk, signatures unless
 * allow_overwrite) plus the plan's size and sector size against the device;
 * then the partition table through libfdisk (same type, PTUUID, PARTUUIDs,
 * types, names, attributes, bootable flags), then per partition mkfs
 * (mke2fs -t TYPE -O none,FEATURES -b -I -N -m -U -L; mkfs.xfs -m uuid=...
 * -b size= -i size= -L) or mkswap -U -L, by exec of the tools on PATH; a
 * raw partition is left as it is for the data. Nothing is written when a
 * check fails. Returns 0, or -errno with one line in why. */
int mig_plan_apply(const struct mig_plan *p, const char *target_dev,
		   const struct mig_plan_apply_opts *opts, char *why, size_t whylen);

/* Every check mig_plan_apply() makes before its first write, without
 * writing: the mkfs tools on PATH, the sfdisk script, and (when target_dev
 * exists) the target's checks, size and sector size. A caller with several
 * disks checks them all before applying the first. 0, or -errno with one
 * line in why (as mig_plan_apply). */
int mig_plan_check(const struct mig_plan *p, const char *target_dev,
		   const struct mig_plan_apply_opts *opts, char *why, size_t whylen);

/* The device path of partition partno on disk (for a block device:
 * /dev/sdb2, /dev/nvme0n1p2, /dev/loop0p2, after the kernel re-read the
 * table), into buf. For an image file there is no such device: -ENOTBLK
 * (the caller uses the plan's start and size on the file). 0 or -errno. */
int mig_plan_part_dev(const char *disk, uint32_t partno, char *buf, size_t buflen);

void mig_plan_free(struct mig_plan *p);

#endif
