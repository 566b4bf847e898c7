/* journal.h — the receiver's resume point for one target disk.
 *
 * A small file, replaced atomically (fileio.h) after the target itself was
 * fsynced: everything below next_offset is on stable storage and was checked
 * chunk by chunk. A resumed copy starts at next_offset with the saved digest
 * state. The file is private to this machine and this build of migrator (it
 * holds nettle's SHA-256 state as is); a file that does not match is ignored
 * as if absent, which only costs a full copy.
 */
#ifndef MIGRATOR_JOURNAL_H
#define MIGRATOR_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

#define MIG_SESSION_ID_SIZE 16

struct mig_journal {
	uint8_t session[MIG_SESSION_ID_SIZE];
	uint32_t disk;          /* index in the stream */
	uint32_t chunk_size;
	uint64_t disk_size;
	uint64_t next_offset;   /* committed: every chunk below is written and synced */
	bool done;              /* the trailer matched; the disk is complete */
	struct mig_digest digest;
};

/* 0 and *ret; -ENOENT when there is none; -EBADMSG for a file that is not a
 * journal of this build (size, magic or checksum wrong). */
int mig_journal_load(const char *path, struct mig_journal *ret);
/* Atomic replace. 0 or -errno. */
int mig_journal_save(const char *path, const struct mig_journal *j);

#endif
