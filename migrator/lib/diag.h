/* diag.h — findings attached to a disk, a partition or a whole run.
 *
 * Library code reports what it found as data (never prints): a severity, a
 * stable machine code ("gpt-no-bios-boot") and a one-line human message.
 */
#ifndef MIGRATOR_DIAG_H
#define MIGRATOR_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#define MIG_DIAGS_MAX 1024      /* per list; further adds return -E2BIG */

enum mig_severity { MIG_SEV_INFO, MIG_SEV_WARNING, MIG_SEV_ERROR };

struct mig_diag {
	enum mig_severity severity;
	char *code;
	char *message;
};

struct mig_diags {
	struct mig_diag *v;
	size_t n;
};

/* Appends a finding; message is printf-formatted. Returns 0, -ENOMEM, or
 * -E2BIG once the list holds MIG_DIAGS_MAX entries. */
int mig_diags_add(struct mig_diags *d, enum mig_severity sev, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Frees the entries; d itself is the caller's. Accepts an empty list. */
void mig_diags_clear(struct mig_diags *d);

/* Highest severity in the list, or -1 when empty. */
int mig_diags_worst(const struct mig_diags *d);

/* "info", "warning", "error". */
const char *mig_severity_name(enum mig_severity sev);

#endif
