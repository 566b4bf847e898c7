/* confsrc.h — where migrator.conf comes from, chosen by migrator.config=:
 *
 *   (absent)    look once for a labelled filesystem (below); wait a little
 *               only while a USB mass-storage device has no disk yet
 *   drive       the same, but wait up to CONFSRC_DRIVE_WAIT_MS for one; no
 *               drive, or no migrator.conf on it, is a failure
 *   metadata    the cloud metadata service (metadata.h), after the network
 *   none        nothing: the kernel command line only
 *   /a/path     that file (e.g. one added to the initramfs)
 *
 * Filesystems searched, in this order of preference, by label (compared
 * without case): MIGRATOR (the rescue ISO / rescue disk), config-2
 * (OpenStack config drive), cidata (NoCloud). Each is mounted read-only
 * on CONFSRC_MOUNT to read migrator.conf from its root; the one whose
 * migrator.conf was read stays mounted there, so that the job can name files
 * on it (`token-file=/run/migrator/config/token`).
 */
#ifndef MIGRATOR_INIT_CONFSRC_H
#define MIGRATOR_INIT_CONFSRC_H

#include <stdbool.h>

#include "config.h"

#define CONF_FILE_NAME "migrator.conf"
#define CONFSRC_DRIVE_WAIT_MS 15000
#define CONFSRC_USB_WAIT_MS 5000
#define CONFSRC_MOUNT "/run/migrator/config"

/* Reads the configuration source that `how` (the value of migrator.config,
 * may be NULL) names, except "metadata", into *ret (a fresh layer). Returns
 * 1 when a file was read, 0 when there was none, -errno for a source that
 * was asked for by name and could not be read. Problems are logged. */
int confsrc_local(const char *how, struct init_config *ret);

/* migrator.config=metadata: user-data from the metadata service. Same
 * return values. */
int confsrc_metadata(struct init_config *ret);

/* Warn callback for config_* that logs through log_warn. */
void confsrc_warn(void *data, const char *msg);

#endif
