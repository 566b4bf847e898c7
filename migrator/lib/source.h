/* source.h — reads source disks and produces the migrator stream.
 *
 * Source disks are opened O_RDONLY, always: nothing here can write them.
 * The stream is pulled record by record (mig_source_next), so a network
 * sender, a file writer and a local receiver all drive it the same way and
 * memory stays at two chunk buffers whatever the disk size.
 *
 * A thread reads, hashes and compresses up to three chunks ahead of the
 * consumer, so the disk, the CPU and the network work at the same time.
 *
 * Chunks: data (zstd, with the SHA-256 of the raw bytes), zero (all zero
 * bytes, detected by reading or from a hole in a sparse image file), or
 * unused (free in the filesystem, with used_only; see usedmap.h).
 *
 * Resume: the receiver commits at boundaries of the disk's commit interval;
 * the source keeps the disk digest at every boundary (at most 8192 per disk)
 * so mig_source_seek() can continue from any of them.
 */
#ifndef MIGRATOR_SOURCE_H
#define MIGRATOR_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "journal.h"

#define MIG_DEFAULT_CHUNK (4u << 20)

struct mig_usedmap;

struct mig_source_opts {
	uint32_t chunk_size;    /* 0: MIG_DEFAULT_CHUNK */
	int level;              /* zstd level; 0: 1 */
	bool used_only;         /* skip blocks ext2/3/4 marks free */
	bool file_mode;         /* a file-level copy: layouts and archives
				   (filesend.h; version 2 records; resume per partition) */
	const char *tool_version;
};

struct mig_src_disk {
	char *path;
	int fd;
	int fd_direct;           /* O_DIRECT reads (no page-cache copy), or -1 */
	bool is_file;
	dev_t rdev;
	uint64_t size;
	uint32_t sector;
	char *sfdisk_script;    /* NULL without a partition table */
	uint64_t commit_interval;
	struct mig_usedmap *used;       /* with used_only */
	struct mig_layout *layout;      /* file mode */
	char *layout_json;
	/* counters of the current pass, as records are handed out */
	uint64_t pos, data_bytes, zero_bytes, unused_bytes, wire_bytes;
	uint64_t wpos;          /* where the read-ahead thread is */
	bool skip;              /* complete on the receiver */
	struct mig_digest digest;
	struct mig_digest *snaps;       /* digest at k * commit_interval */
	size_t nsnaps;
	uint64_t snaps_valid;   /* snaps[0 .. snaps_valid) are filled */
};

struct mig_prefetch;
struct mig_fsend;
struct mig_layout;

struct mig_source {
	struct mig_source_opts o;
	uint8_t session[MIG_SESSION_ID_SIZE];
	struct mig_src_disk *disks;
	size_t ndisks;
	/* the pull state */
	int phase;
	size_t cur;
	uint8_t *out;
	size_t outcap;
	struct mig_prefetch *pf;        /* chunks are read and encoded ahead on a thread */
	struct mig_fsend *fs;           /* file mode: the archives */
};

/* Opens every path read-only and reads its geometry and partition table.
 * On failure returns -errno with a one-line reason in why. */
int mig_source_open(char *const *paths, size_t n, const struct mig_source_opts *o,
		    struct mig_source **ret, char *why, size_t whylen);
void mig_source_free(struct mig_source *s);       /* NULL ok */

/* The headers alone (stream header, disk headers, end): a plan for the
 * receiver. *ret malloc'd. */
int mig_source_plan(struct mig_source *s, uint8_t **ret, size_t *ret_len);

/* Restarts the stream; disk i continues at next[i] (0, a commit boundary
 * this source has passed, or the disk size with done[i]); NULL: from the
 * start. -ERANGE when a resume point is not one this source can continue from.
 * File mode: next[i] is the number of disk i's data partitions complete on
 * the receiver; the next one is sent again from its archive's beginning. */
int mig_source_seek(struct mig_source *s, const uint64_t *next, const bool *done);

/* The next record: 0 and *ret_buf, *ret_len (valid until the next call), 1
 * after the end record, or -errno with the disk and offset in why. */
int mig_source_next(struct mig_source *s, const uint8_t **ret_buf, size_t *ret_len,
		    char *why, size_t whylen);

#endif
