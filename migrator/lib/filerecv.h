/* filerecv.h — the receiving side of a file-level copy (receiver.c hands
 * it a version-2 stream's layouts and data records).
 *
 * Order, as the stream format demands:
 *   1. mig_frecv_add_disk() per disk: parses the layout (with limits),
 *      measures the target, makes the plan (relayout.h) — writes nothing;
 *      a target that cannot hold the data is refused here with the numbers;
 *   2. mig_frecv_apply(), once every disk was added: each plan written
 *      (partition table, mkfs with the source's UUIDs and labels);
 *   3. mig_frecv_chunk()/mig_frecv_trailer() per record: a `files`
 *      partition's filesystem is mounted read-write on a private directory
 *      at its first chunk and unpacked (fsarchive.h, secure flags) by a
 *      thread as its chunks arrive, each checked (SHA-256) before use; its
 *      trailer checks bytes, chunks and digest, then waits for the unpack,
 *      unmounts and syncs. A `raw` partition's chunks are written at their
 *      offset inside the planned partition (same size as the source's).
 *   4. mig_frecv_finish(): every partition with data is complete; targets
 *      synced.
 * One partition at a time; chunks of a partition in order without gaps.
 * Resume: when a connection breaks, mig_frecv_abort() ends the partition in
 * flight (unpack stopped, unmounted, left incomplete); the sender then sends
 * it again from the beginning of its archive (extracted over what is there:
 * every entry is replaced), and every partition after it.
 */
#ifndef MIGRATOR_FILERECV_H
#define MIGRATOR_FILERECV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "stream.h"

struct mig_frecv;

struct mig_frecv_stats {
	uint64_t entries, files;        /* unpacked so far */
	uint64_t data_bytes;            /* file contents and raw bytes written */
	uint64_t archive_bytes;         /* chunk bytes received (uncompressed) */
	uint32_t disk, partno;          /* the partition being written */
};

struct mig_frecv_opts {
	uint32_t chunk_size;            /* the stream's (the largest chunk) */
	bool allow_overwrite;           /* targets may hold signatures */
	bool skip_unknown;              /* partitions of method none: keep, empty */
	const dev_t *forbidden;         /* never written (a local copy's sources) */
	size_t nforbidden;
	/* After each chunk; may be NULL. On the feeding thread. */
	void (*progress)(void *ud, const struct mig_frecv_stats *st);
	void *ud;
};

int mig_frecv_new(const struct mig_frecv_opts *o, struct mig_frecv **ret);
/* Stops an unpack in flight, unmounts, frees. NULL ok. */
void mig_frecv_free(struct mig_frecv *f);

/* Disk index (0, 1, ... in order) with its layout JSON (untrusted) onto
 * target (a block device or an image file; a missing file is planned at
 * the source disk's size and created by apply). Writes nothing. Returns 0,
 * or -errno with one line in why: -ENOSPC (the numbers), -EINVAL (a bad
 * layout), -EOPNOTSUPP, errors measuring the target. */
int mig_frecv_add_disk(struct mig_frecv *f, uint32_t index, const char *layout_json, size_t len,
		       const char *target, char *why, size_t whylen);

/* The plans, one object per disk in an array (for --dry-run and logs). */
int mig_frecv_plans_json(const struct mig_frecv *f, struct json_writer *w, const char *key);

/* Writes every plan onto its target. 0 or -errno with why. */
int mig_frecv_apply(struct mig_frecv *f, char *why, size_t whylen);

int mig_frecv_chunk(struct mig_frecv *f, const struct mig_fchunk *c, char *why, size_t whylen);
int mig_frecv_trailer(struct mig_frecv *f, const struct mig_ftrailer *t, char *why, size_t whylen);
/* The end record came: -EBADMSG if a partition with data is incomplete. */
int mig_frecv_finish(struct mig_frecv *f, char *why, size_t whylen);

/* A connection broke: stop the partition in flight (it stays incomplete). */
void mig_frecv_abort(struct mig_frecv *f);
/* How many of disk's data partitions (files, raw; in table order) are
 * complete from the first on; *ret_all: every one of them is. */
uint32_t mig_frecv_parts_done(const struct mig_frecv *f, uint32_t disk, bool *ret_all);

void mig_frecv_stats(const struct mig_frecv *f, struct mig_frecv_stats *ret);

#endif
