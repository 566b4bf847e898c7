/* console.h — where init's words go: every console the kernel was given
 * (console=tty0 console=ttyS0,115200 → both) and /run/migrator.log.
 *
 * Output never blocks PID 1 for long: consoles are written non-blocking with
 * a bounded wait, and a console that stays stuck loses that chunk instead of
 * hanging the system. Before any console is open, lines go to fd 2 (the
 * kernel's /dev/console) and are kept to be copied into the log file.
 */
#ifndef MIGRATOR_INIT_CONSOLE_H
#define MIGRATOR_INIT_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define CONSOLES_MAX 8
#define CONSOLE_NAME_MAX 32

/* Pure: the device name and speed of one console= value. "ttyS0,115200n8" →
 * "ttyS0", 115200; "tty0" → "tty0", 0. Returns 0, or -EINVAL for values that
 * name no device node we can open ("uart8250,io,0x3f8", "null", "lp0"). */
int console_parse(const char *param, char *ret_name, size_t n, unsigned *ret_baud);

/* Opens every console: those listed in /sys/class/tty/console/active and the
 * console= items of the command line; /dev/console when none opens. Sets the
 * speed given on the command line. Returns how many are open (>= 0). */
int console_open_all(const struct cmdline *c);

/* Number of open consoles and the tty name of the i-th ("ttyS0", "tty0",
 * or "console" for the /dev/console fallback). */
size_t console_count(void);
const char *console_name(size_t i);

/* Speed given on the command line for a console name, or 0. */
unsigned console_baud(const char *name);

/* Opens (appending) the log file; earlier lines are copied into it. */
int log_open_file(const char *path);

/* Enables log_debug lines. */
void log_set_debug(bool on);

/* "init: ..." lines on every console and in the log file. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One exact line with no prefix, for markers tests wait for
 * ("MIGRATOR-READY 1.0"). */
void log_marker(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Raw bytes from a child (job output, udhcpc): to every console and the log
 * file, where each line gets a timestamp. */
void log_raw(const void *buf, size_t n);

/* Waits (at most timeout_ms) until the consoles have sent what was written:
 * before reboot(2), or the last lines never leave the UART. */
void console_drain(unsigned timeout_ms);

/* Flushes the log file to disk (before poweroff it lives on tmpfs anyway). */
void log_close(void);

#endif
