/* receiver.h — turns a migrator stream back into disks.
 *
 * One receiver serves one copy (a session), which may arrive over several
 * connections: each connection is mig_receiver_begin(), any number of
 * mig_receiver_feed() calls with the bytes as they come, and
 * mig_receiver_end(). The receiver
 *   - opens and checks every target disk (target.h) once it has read every
 *     disk header and before it writes a byte;
 *   - checks every chunk (CRC of its metadata, SHA-256 of its bytes, its
 *     place in the sequence) before writing it;
 *   - commits: syncs the target and saves the journal (journal.h) at the
 *     stream's commit interval and when a connection ends early, so a new
 *     connection resumes from the last commit;
 *   - checks each disk's trailer (byte count, chunk count, disk digest).
 * Every error is fatal for the session and comes with a one-line reason
 * (mig_receiver_error()), naming the stream offset or disk offset at fault.
 *
 * Plan: before a stream, a sender may present just the headers
 * (mig_receiver_plan()); the receiver checks the targets and answers with
 * where each disk resumes.
 *
 * File mode: a stream of version-2 records (a stream header with mode 1)
 * is a file-level copy, handed to filerecv.h: the plan step plans each
 * target from the source's layout (refusing one that is too small, before
 * any write), the first data record writes the partition tables and
 * filesystems, archives are unpacked as they arrive. A connection cut
 * short stops the partition in flight; the plan answer's "next" then counts
 * the disk's complete data partitions, and the sender resends the next one
 * whole.
 */
#ifndef MIGRATOR_RECEIVER_H
#define MIGRATOR_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"

#define MIG_MAX_STREAM_DISKS 64

/* What the receiver knows about one disk of the stream. */
struct mig_rx_disk {
	uint32_t index;
	char *source_name;
	char *sfdisk_script;    /* may be NULL */
	uint64_t size;
	uint32_t sector;
	uint64_t commit_interval;
	char *target_path;
	uint64_t next_offset;   /* the next chunk expected */
	uint64_t written;       /* data bytes written in this session */
	bool done, resumed;
	uint64_t resumed_at;
	/* file mode (a version-2 stream): the source's layout, and counts of
	 * what was unpacked so far on this disk */
	char *layout_json;
	uint64_t entries, files;
};

enum mig_rx_event { MIG_RX_TARGETS_READY, MIG_RX_PROGRESS, MIG_RX_COMMIT, MIG_RX_DISK_DONE };

struct mig_receiver_opts {
	/* Chooses the target for a source disk: *ret_path malloc'd. -errno to
	 * refuse (why is then the reason). Required. */
	int (*resolve)(void *ud, const struct mig_rx_disk *d, char **ret_path, char *why, size_t whylen);
	void *ud;
	/* Where journals of block-device targets live (files keep theirs beside
	 * them as PATH.migrator-journal). NULL: /run/migrator. */
	const char *state_dir;
	bool allow_overwrite;
	const dev_t *forbidden; /* never write these (the source disks of a local clone) */
	size_t nforbidden;
	/* File mode: a partition of unknown content is kept (same size,
	 * empty) instead of refused. */
	bool skip_unknown;
	/* Called on events; may be NULL. Runs on the thread that feeds. */
	void (*event)(void *ud, enum mig_rx_event ev, const struct mig_rx_disk *d);
};

struct mig_receiver;

int mig_receiver_new(const struct mig_receiver_opts *o, struct mig_receiver **ret);
void mig_receiver_free(struct mig_receiver *r);   /* syncs and closes targets; NULL ok */

/* Headers only (a stream header, every disk header, an end record): checks
 * them and the targets, writes nothing, and returns in *ret_text (malloc'd)
 * one line per disk: "disk INDEX next OFFSET done 0|1 target PATH". */
int mig_receiver_plan(struct mig_receiver *r, const uint8_t *buf, size_t len, char **ret_text);

void mig_receiver_begin(struct mig_receiver *r);
int mig_receiver_feed(struct mig_receiver *r, const uint8_t *buf, size_t len);
/* The connection ended. complete: the sender says it sent everything.
 * Returns 0 when the stream is complete and verified, -EPIPE when it
 * stopped early (committed, resumable), or the session's error. */
int mig_receiver_end(struct mig_receiver *r, bool complete);

bool mig_receiver_finished(const struct mig_receiver *r);
/* The reason of the last error, or "". */
const char *mig_receiver_error(const struct mig_receiver *r);
/* File mode: the plans as a JSON array onto w (after the targets were
 * checked: mig_receiver_plan). -ENOENT in block mode. */
struct json_writer;
int mig_receiver_plans_json(const struct mig_receiver *r, struct json_writer *w, const char *key);

/* Ends the session's hold on its targets: the committer stops and every
 * target is closed, which gives up its exclusive open (O_EXCL on a block
 * device), so the next steps (patch, verify) can mount its partitions. The
 * disk list stays. Call it after mig_receiver_end() or a server's end. */
void mig_receiver_close_targets(struct mig_receiver *r);

/* The disks known so far. */
size_t mig_receiver_disks(const struct mig_receiver *r, const struct mig_rx_disk **ret);

#endif
