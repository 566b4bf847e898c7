/* target.h — a disk or image file that a copy writes, and the checks that
 * come before the first byte is written.
 *
 * mig_target_open() refuses, with a reason in why[], a target that is
 * smaller than the source disk, is the rescue medium this system runs from,
 * is in use (mounted, or held by LVM/MD: O_EXCL), is one of the source disks,
 * or holds a partition table or signatures unless allow_overwrite (or the
 * caller resumes its own earlier copy). A file that does not exist is
 * created with the source's size (sparse).
 *
 * Writes use O_DIRECT with aligned buffers where the device allows it and
 * fall back to buffered I/O where it does not. Zero ranges become
 * BLKZEROOUT on block devices and holes in files.
 */
#ifndef MIGRATOR_TARGET_H
#define MIGRATOR_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

struct mig_target {
	char *path;
	int fd;                 /* O_DIRECT when direct */
	int fd_buffered;
	bool is_blockdev, created, direct;
	uint64_t size;
	uint32_t sector;        /* logical sector size */
	dev_t rdev;             /* block devices */
	/* one write in flight on a writer thread (mig_target_write_async) */
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool writer_started, pending, quit;
	const void *pbuf;
	size_t plen;
	uint64_t poff, err_off;
	int err;
};

struct mig_target_opts {
	uint64_t need_size;     /* the source disk's size */
	bool allow_overwrite;   /* signatures may be overwritten */
	bool resuming;          /* the target holds our own partial copy: skip the signature check */
	const dev_t *forbidden; /* source disks (local clone): never open these */
	size_t nforbidden;
};

/* Opens and checks path. Returns 0 and *ret, or -errno with a one-line
 * reason in why: -ENOSPC too small, -EBUSY rescue medium or in use,
 * -EEXIST signatures present, -EINVAL a source disk or not a disk/file. */
int mig_target_open(const char *path, const struct mig_target_opts *o,
		    struct mig_target **ret, char *why, size_t whylen);

/* Writes len bytes at off. buf must be 4096-aligned for the direct path. */
int mig_target_write(struct mig_target *t, const void *buf, size_t len, uint64_t off);
/* Queues the write of len bytes at off on the target's writer thread and
 * returns at once, so the caller can prepare the next buffer while the
 * device works (O_DIRECT writes are synchronous). At most one write is in
 * flight: a second call waits for the first. buf must stay untouched until
 * the next call of any mig_target_* function on t. An error of the write
 * comes back from that next call (mig_target_flush() to wait for it). */
int mig_target_write_async(struct mig_target *t, const void *buf, size_t len, uint64_t off);
/* Waits for the write in flight. 0, or its error (*ret_off: where; may be NULL). */
int mig_target_flush(struct mig_target *t, uint64_t *ret_off);
/* Makes [off, off+len) read as zeros. */
int mig_target_zero(struct mig_target *t, uint64_t off, uint64_t len);
/* Unused (filesystem-free) range: a hole in a file; a block device keeps
 * whatever it holds there. */
int mig_target_discard(struct mig_target *t, uint64_t off, uint64_t len);
/* fdatasync: everything written so far is on stable storage. */
int mig_target_sync(struct mig_target *t);
/* Syncs, asks the kernel to re-read a block device's partition table, and
 * closes. Returns the first error; frees t either way (NULL is fine). */
int mig_target_close(struct mig_target *t);

#endif
