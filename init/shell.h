/* shell.h — interactive shells (BusyBox sh, a login shell reading
 * /etc/profile) on every console, respawned when they exit, with a growing
 * pause when one keeps dying at once (no tty, broken /bin/sh).
 *
 * tty0 ("whatever VT is in front") gets its shell on tty1; the /dev/console
 * fallback gets one without job control.
 */
#ifndef MIGRATOR_INIT_SHELL_H
#define MIGRATOR_INIT_SHELL_H

#define SHELL_PATH "/bin/sh"
#define SHELL_RESPAWN_MAX_MS 30000

/* Starts a shell on every console (once; later calls do nothing). */
void shells_start(void);

/* Starts one extra shell on tty (e.g. "tty2" during a job). Returns 0 or
 * -errno. */
int shell_start_on(const char *tty);

/* Milliseconds until a respawn is due, -1 when none is pending. */
int shells_timeout(void);

/* Respawns the shells whose time has come. */
void shells_tick(void);

#endif
