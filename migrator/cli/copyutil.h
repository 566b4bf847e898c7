/* copyutil.h — what `migrator send` and `migrator receive` share: progress
 * on a terminal (a bar with rate and ETA) or as JSON lines, token files,
 * byte counts with suffixes, and the default choice of disks. */
#ifndef MIGRATOR_CLI_COPYUTIL_H
#define MIGRATOR_CLI_COPYUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/human.h"

struct progress {
	const char *side;       /* "send" or "receive" */
	bool tty, quiet, drawn;
	uint64_t start_ns, last_ns, base_bytes;
	int last_disk;
	bool file_mode;         /* a file-level copy: "files" in the JSON lines */
	uint64_t files;         /* regular files so far (file mode) */
};

void progress_init(struct progress *p, const char *side, bool quiet);
/* Disk index and name, bytes done of total (disk offsets), bytes moved
 * (data written or sent) since the start. final: draw now and end the line. */
void progress_update(struct progress *p, int disk, const char *name, uint64_t done, uint64_t total,
		     uint64_t moved, bool final);
/* A note for the operator: on its own line (TTY) or a JSON "log" event. */
void progress_log(struct progress *p, const char *msg);

uint64_t mono_ns(void);

/* Reads a token file: one line of 8 to 256 printable characters without
 * spaces. Prints its own error message; returns 0 or -errno. */
int read_token_file(const char *path, char *token, size_t cap);

/* "123", "4K", "10M", "1.5G" (powers of 1024) → bytes. 0 or -EINVAL. */
int parse_bytes(const char *s, uint64_t *ret);

/* Whole disks of this machine that are neither removable nor read-only nor
 * the rescue medium, as a NULL-terminated malloc'd list of /dev paths. */
int default_disks(char ***ret);

#endif
