/* loop.h — init's event loop: signals (through a signalfd), children (every
 * one is reaped, orphans included), and readable fds (child output).
 *
 * Single-threaded; callbacks run from loop_iterate(). Every child's stdout and
 * stderr go, unless the caller gives other fds, to one shared pipe whose
 * contents the loop copies to the log (log_raw), so a helper's messages reach
 * the consoles and /run/migrator.log and a chatty helper can never fill a
 * pipe nobody reads.
 */
#ifndef MIGRATOR_INIT_LOOP_H
#define MIGRATOR_INIT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LOOP_CHILDREN_MAX 64
#define LOOP_WATCHES_MAX 8

/* How to start a child. Fields left 0/NULL take the defaults. */
struct spawn {
	const char *path;       /* program to execute; NULL: argv[0] */
	char *const *argv;
	const char *tty;        /* non-NULL: new session, this tty as stdin/out/err
				 * and controlling terminal ("/dev/ttyS0") */
	int stdin_fd;           /* -1 or 0 (default): /dev/null */
	int stdout_fd;          /* 0 (default): the shared log pipe */
	int stderr_fd;          /* 0 (default): same as stdout */
	char *const *extra_env; /* "KEY=VALUE" added to the default environment */
};

/* pid exited with wait status `status`. */
typedef void (*loop_child_fn)(pid_t pid, int status, void *data);
/* fd is readable or hung up (revents from poll). */
typedef void (*loop_fd_fn)(int fd, short revents, void *data);
/* A signal other than SIGCHLD arrived (SIGTERM, SIGINT, SIGUSR1, ...). */
typedef void (*loop_signal_fn)(int sig, void *data);

/* Blocks the signals init handles and routes them to a signalfd, turns
 * Ctrl-Alt-Del into SIGINT, creates the shared log pipe. Returns 0 or -errno. */
int loop_setup(loop_signal_fn on_signal, void *data);

/* Sets the environment every child starts from ("KEY=VALUE", NULL-ended;
 * copied). Returns 0 or -ENOMEM. */
int loop_set_env(char *const *env);

/* Starts a child (fork + execve). on_exit (may be NULL) runs once it has been
 * reaped. Returns 0 and *ret_pid (may be NULL), or -errno (-EMFILE when
 * LOOP_CHILDREN_MAX are running). A failed execve shows as exit status 127
 * with a message in the log. */
int loop_spawn(const struct spawn *sp, loop_child_fn on_exit, void *data, pid_t *ret_pid);

/* Runs argv to completion with output to the log. Kills it (SIGKILL) after
 * timeout_ms (0: no limit). Returns 0 and the wait status in *ret_status, or
 * -ETIMEDOUT, -EINTR (loop_stop() was called meanwhile; the child is left
 * running), or -errno from loop_spawn. */
int loop_run(char *const argv[], unsigned timeout_ms, int *ret_status);

/* Forgets the callback of a child that is still running. */
void loop_forget(pid_t pid);

/* Watches fd for input. Returns 0, -EEXIST, or -EMFILE. */
int loop_watch(int fd, loop_fd_fn fn, void *data);
void loop_unwatch(int fd);

/* Waits up to timeout_ms (-1: forever) for one batch of events and runs
 * their callbacks. Returns 0 or -errno from poll. */
int loop_iterate(int timeout_ms);

/* Asks long waits (loop_run, loop_wait_until) to return early; the main loop
 * then looks at what the signal callback recorded. loop_stopped() tells. */
void loop_stop(void);
bool loop_stopped(void);
void loop_resume(void);

/* Runs the loop until done(data) is true, the deadline (now_ms() clock)
 * passes, or loop_stop() is called. Returns 0, -ETIMEDOUT or -EINTR. */
int loop_wait_until(bool (*done)(void *data), void *data, uint64_t deadline_ms);

/* Number of children started through loop_spawn and not yet reaped. */
unsigned loop_children(void);

#endif
