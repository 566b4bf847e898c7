/* shutdown.h — leaving the rescue system: every process stopped (SIGTERM,
 * then SIGKILL), swap off, filesystems unmounted or remounted read-only,
 * caches synced, then reboot(2). Never called on a job failure: that ends in
 * a shell (a half-written disk is not rebooted into by us).
 */
#ifndef MIGRATOR_INIT_SHUTDOWN_H
#define MIGRATOR_INIT_SHUTDOWN_H

#define SHUTDOWN_TERM_WAIT_MS 5000      /* from SIGTERM to SIGKILL */

/* how: RB_POWER_OFF, RB_AUTOBOOT or RB_HALT_SYSTEM. Does not return unless
 * reboot(2) fails; then returns -errno and init carries on with a shell. */
int shutdown_system(int how);

#endif
