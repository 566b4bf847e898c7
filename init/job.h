/* job.h — the unattended job: `/bin/migrator MODE [--opt=value...] [ARGS...]`
 * in its own process (a crashing job never takes PID 1 along), its stdout
 * and stderr copied to the consoles and /run/migrator.log, and the last lines
 * kept for the failure summary. stdin is /dev/null: an unattended job asks
 * nothing.
 */
#ifndef MIGRATOR_INIT_JOB_H
#define MIGRATOR_INIT_JOB_H

#include <stdbool.h>

#include "config.h"

#define JOB_BINARY "/bin/migrator"
#define JOB_TAIL_BYTES 4096     /* output kept for the summary */
#define JOB_TAIL_LINES 15

/* Called once when the job has ended; rc is its exit status, 128+N for a
 * death by signal N. "MIGRATOR-DONE rc=N" has been printed already. */
typedef void (*job_done_fn)(int rc, void *data);

/* Starts the job cfg describes (mode must be set and not "shell"). Returns 0,
 * or -errno when it could not start (logged; no MIGRATOR-DONE then). */
int job_start(const struct init_config *cfg, job_done_fn done, void *data);

/* True while the job runs. */
bool job_running(void);

/* Prints the failure summary: command, rc, duration, the last lines of output
 * and where the whole log is. */
void job_report_failure(int rc);

#endif
