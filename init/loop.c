/* loop.c — signals, children and child output for PID 1. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

#define ENV_MAX 64

struct child {
	pid_t pid;
	loop_child_fn fn;
	void *data;
};

struct watch {
	int fd;
	loop_fd_fn fn;
	void *data;
};

static struct child children[LOOP_CHILDREN_MAX];
static struct watch watches[LOOP_WATCHES_MAX];
static int sig_fd = -1;
static int logpipe[2] = { -1, -1 };
static loop_signal_fn sig_fn;
static void *sig_data;
static bool stopped;
static char *env[ENV_MAX + 1];

static const int handled_signals[] = {
	SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGPWR, SIGHUP, SIGQUIT,
};

static void logpipe_read(int fd, short revents, void *data)
{
	char buf[4096];
	ssize_t k;

	/* Bounded: never starve the rest of the loop behind a chatty child. */
	for (int i = 0; i < 16; i++) {
		k = read(fd, buf, sizeof(buf));
		if (k <= 0)
			break;
		log_raw(buf, (size_t)k);
	}
}

int loop_setup(loop_signal_fn on_signal, void *data)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		sigaddset(&set, handled_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		return -errno;
	/* Ctrl-Alt-Del: a SIGINT to us instead of an immediate reboot. */
	reboot(RB_DISABLE_CAD);
	sig_fn = on_signal;
	sig_data = data;
	if (pipe2(logpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	return loop_watch(logpipe[0], logpipe_read, NULL);
}

int loop_set_env(char *const *e)
{
	size_t i;

	for (i = 0; env[i]; i++) {
		free(env[i]);
		env[i] = NULL;
	}
	for (i = 0; e[i] && i < ENV_MAX; i++) {
		env[i] = strdup(e[i]);
		if (!env[i])
			return -ENOMEM;
	}
	env[i] = NULL;
	return 0;
}

static struct child *child_slot(pid_t pid)
{
	for (size_t i = 0; i < LOOP_CHILDREN_MAX; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

unsigned loop_children(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < LOOP_CHILDREN_MAX; i++)
		n += children[i].pid != 0;
	return n;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) child_exec(const struct spawn *sp, char **envp)
{
	sigset_t none;
	int in = sp->stdin_fd > 0 ? sp->stdin_fd : -1;
	int out = sp->stdout_fd > 0 ? sp->stdout_fd : logpipe[1];
	int err = sp->stderr_fd > 0 ? sp->stderr_fd : out;
	const char *path = sp->path ? sp->path : sp->argv[0];

	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		signal(handled_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (sp->tty) {
		int fd;

		setsid();
		/* Session leader opening a tty without O_NOCTTY: it becomes ours. */
		fd = open(sp->tty, O_RDWR);
		if (fd < 0)
			_exit(126);
		ioctl(fd, TIOCSCTTY, 1);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	} else {
		setsid();       /* own process group: a Ctrl-C on a shell never hits it */
		if (in < 0)
			in = open("/dev/null", O_RDONLY);
		if (in >= 0 && in != 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		if (err >= 0)
			dup2(err, 2);
	}
	execve(path, sp->argv, envp);
	{
		/* Reaches the log through stderr. */
		const char *m1 = "init: cannot execute ";
		const char *m2 = path;
		const char *m3 = errno == ENOENT ? ": No such file or directory\n" : ": exec failed\n";
		write_all(2, m1, strlen(m1));
		write_all(2, m2, strlen(m2));
		write_all(2, m3, strlen(m3));
	}
	_exit(127);
}

int loop_spawn(const struct spawn *sp, loop_child_fn on_exit, void *data, pid_t *ret_pid)
{
	char *envp[ENV_MAX * 2 + 1];
	struct child *slot = child_slot(0);
	size_t ne = 0;
	pid_t pid;

	if (!slot)
		return -EMFILE;
	for (size_t i = 0; env[i]; i++)
		envp[ne++] = env[i];
	for (size_t i = 0; sp->extra_env && sp->extra_env[i] && i < ENV_MAX; i++)
		envp[ne++] = sp->extra_env[i];
	envp[ne] = NULL;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(sp, envp);
	slot->pid = pid;
	slot->fn = on_exit;
	slot->data = data;
	if (ret_pid)
		*ret_pid = pid;
	return 0;
}

void loop_forget(pid_t pid)
{
	struct child *c = child_slot(pid);

	if (c) {
		c->fn = NULL;
		c->data = NULL;
	}
}

static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		struct child *c;

		if (pid <= 0)
			break;
		c = child_slot(pid);
		if (!c)
			continue;       /* an orphan re-parented to us */
		{
			struct child done = *c;
			memset(c, 0, sizeof(*c));
			if (done.fn)
				done.fn(pid, status, done.data);
		}
	}
}

static void read_signals(void)
{
	struct signalfd_siginfo si;
	bool chld = false;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			chld = true;
		else if (sig_fn)
			sig_fn((int)si.ssi_signo, sig_data);
	}
	/* Always reap: a SIGCHLD may be merged with others or predate the fd. */
	(void)chld;
	reap();
}

int loop_watch(int fd, loop_fd_fn fn, void *data)
{
	struct watch *free_slot = NULL;

	for (size_t i = 0; i < LOOP_WATCHES_MAX; i++) {
		if (watches[i].fn && watches[i].fd == fd)
			return -EEXIST;
		if (!watches[i].fn && !free_slot)
			free_slot = &watches[i];
	}
	if (!free_slot)
		return -EMFILE;
	free_slot->fd = fd;
	free_slot->fn = fn;
	free_slot->data = data;
	return 0;
}

void loop_unwatch(int fd)
{
	for (size_t i = 0; i < LOOP_WATCHES_MAX; i++)
		if (watches[i].fn && watches[i].fd == fd)
			memset(&watches[i], 0, sizeof(watches[i]));
}

int loop_iterate(int timeout_ms)
{
	struct pollfd pfd[LOOP_WATCHES_MAX + 1];
	struct watch snap[LOOP_WATCHES_MAX];
	size_t n = 0;
	int r;

	if (sig_fd < 0 && (timeout_ms < 0 || timeout_ms > 1000))
		timeout_ms = 1000;
	pfd[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
	for (size_t i = 0; i < LOOP_WATCHES_MAX; i++) {
		if (!watches[i].fn)
			continue;
		snap[n - 1] = watches[i];
		pfd[n++] = (struct pollfd){ .fd = watches[i].fd, .events = POLLIN };
	}
	r = poll(pfd, n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	/* Output first, so a child's last words are logged before its exit. */
	for (size_t i = 1; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		/* The callback of an earlier fd may have unwatched this one. */
		for (size_t j = 0; j < LOOP_WATCHES_MAX; j++) {
			if (watches[j].fn == snap[i - 1].fn && watches[j].fd == snap[i - 1].fd &&
			    watches[j].data == snap[i - 1].data) {
				snap[i - 1].fn(pfd[i].fd, pfd[i].revents, snap[i - 1].data);
				break;
			}
		}
	}
	if (pfd[0].revents)
		read_signals();
	else if (sig_fd < 0)
		reap();         /* no signalfd: reap by polling, never leave zombies */
	return 0;
}

void loop_stop(void)
{
	stopped = true;
}

bool loop_stopped(void)
{
	return stopped;
}

void loop_resume(void)
{
	stopped = false;
}

int loop_wait_until(bool (*done)(void *data), void *data, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now;

		if (done && done(data))
			return 0;
		if (stopped)
			return -EINTR;
		now = now_ms();
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		if (loop_iterate((int)(deadline_ms - now > 1000 ? 1000 : deadline_ms - now)) < 0)
			sleep_ms(10);   /* poll itself failing: do not spin */
	}
}

struct run_state {
	bool done;
	int status;
};

static void run_exited(pid_t pid, int status, void *data)
{
	struct run_state *st = data;

	st->done = true;
	st->status = status;
}

static bool run_done(void *data)
{
	return ((struct run_state *)data)->done;
}

int loop_run(char *const argv[], unsigned timeout_ms, int *ret_status)
{
	struct spawn sp = { .argv = argv };
	struct run_state st = { 0 };
	uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : UINT64_MAX;
	pid_t pid;
	int r;

	r = loop_spawn(&sp, run_exited, &st, &pid);
	if (r < 0)
		return r;
	r = loop_wait_until(run_done, &st, deadline);
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		/* SIGKILL is reaped quickly unless the child is stuck in the kernel. */
		if (loop_wait_until(run_done, &st, now_ms() + 5000) < 0)
			loop_forget(pid);
		return -ETIMEDOUT;
	}
	if (r < 0) {
		loop_forget(pid);
		return r;
	}
	if (ret_status)
		*ret_status = st.status;
	return 0;
}
