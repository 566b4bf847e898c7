/* filesend.h — the data of a file-level copy on the sending side: per
 * partition of each source disk's layout (layout.h), in table order,
 *   files: the filesystem mounted read-only on a private directory
 *          (fsmount.h: its own read-only loop device, "noload" for ext*),
 *          packed as pax (fsarchive.h) and cut into file chunks;
 *   raw:   the partition's bytes, cut into file chunks (offsets from the
 *          partition's start);
 * each followed by its partition trailer (bytes, chunks, digest of the
 * chunk hashes, entries). recreate, none and container partitions carry no
 * data. Records are version 2 (docs/stream-format.md).
 *
 * A thread packs and compresses one partition at a time, at most two
 * records ahead of the consumer; memory stays at three chunk buffers.
 * Nothing here writes a source disk.
 */
#ifndef MIGRATOR_FILESEND_H
#define MIGRATOR_FILESEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct mig_fsend;

struct mig_fsend_stats {
	uint64_t entries, files;        /* archive entries, regular files */
	uint64_t data_bytes;            /* file contents and raw bytes read */
	uint64_t archive_bytes;         /* archive and raw bytes before compression */
	uint64_t sockets_skipped;
	uint32_t disk, partno;          /* what is being sent */
};

/* A producer for n disks at paths with their layouts (borrowed: they must
 * outlive f). chunk_size: raw bytes per chunk (a multiple of 64 KiB up to
 * 16 MiB); level: zstd level. 0 or -errno. */
int mig_fsend_new(char *const *paths, struct mig_layout *const *layouts, size_t n,
		  uint32_t chunk_size, int level, struct mig_fsend **ret);

/* The next record: 0 with *ret_buf and *ret_len (valid until the next call), 1
 * when every partition has been sent, or -errno with the disk, partition
 * and file at fault in why (the copy cannot go on). */
int mig_fsend_next(struct mig_fsend *f, const uint8_t **ret_buf, size_t *ret_len,
		   char *why, size_t whylen);

/* Starts over for a resumed copy: disk i's first parts_done[i] data
 * partitions (files and raw, in table order) are complete on the receiver,
 * or all of them with done[i]; the next record is the first chunk of the
 * first partition that is not (its archive from its beginning). Stops the
 * thread of the partition in flight. 0, or -ERANGE for a count past the
 * disk's data partitions. */
int mig_fsend_seek(struct mig_fsend *f, const uint64_t *parts_done, const bool *done);

/* Counts so far (consistent after each mig_fsend_next). */
void mig_fsend_stats(struct mig_fsend *f, struct mig_fsend_stats *ret);

/* Stops the thread, unmounts, frees. NULL ok. */
void mig_fsend_free(struct mig_fsend *f);

#endif
