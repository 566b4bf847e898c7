/* job.c — run the migrator job, collect its output, report its end. */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"
#include "loop.h"
#include "util.h"

static struct {
	bool running;
	pid_t pid;
	int out_fd;
	uint64_t started_ms, ended_ms;
	char cmd[512];
	char tail[JOB_TAIL_BYTES];
	size_t tail_len;
	job_done_fn done;
	void *data;
} job = { .out_fd = -1 };

bool job_running(void)
{
	return job.running;
}

static void tail_add(const char *p, size_t n)
{
	if (n >= JOB_TAIL_BYTES) {
		memcpy(job.tail, p + n - JOB_TAIL_BYTES, JOB_TAIL_BYTES);
		job.tail_len = JOB_TAIL_BYTES;
		return;
	}
	if (job.tail_len + n > JOB_TAIL_BYTES) {
		size_t drop = job.tail_len + n - JOB_TAIL_BYTES;
		memmove(job.tail, job.tail + drop, job.tail_len - drop);
		job.tail_len -= drop;
	}
	memcpy(job.tail + job.tail_len, p, n);
	job.tail_len += n;
}

/* Reads what is there; returns false at EOF or error. */
static bool drain(void)
{
	char buf[8192];

	for (int i = 0; i < 16; i++) {
		ssize_t k = read(job.out_fd, buf, sizeof(buf));
		if (k > 0) {
			log_raw(buf, (size_t)k);
			tail_add(buf, (size_t)k);
			continue;
		}
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		return false;
	}
	return true;
}

static void output_ready(int fd, short revents, void *data)
{
	if (!drain()) {
		loop_unwatch(job.out_fd);
		close(job.out_fd);
		job.out_fd = -1;
	}
}

static void exited(pid_t pid, int status, void *data)
{
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) :
		 WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;

	/* The last words; a grandchild may keep the pipe open, so no EOF wait. */
	if (job.out_fd >= 0) {
		drain();
		loop_unwatch(job.out_fd);
		close(job.out_fd);
		job.out_fd = -1;
	}
	if (job.tail_len && job.tail[job.tail_len - 1] != '\n')
		log_raw("\n", 1);
	job.running = false;
	job.ended_ms = now_ms();
	if (WIFSIGNALED(status))
		log_warn("job: killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	log_info("job: finished with exit status %d after %llu s", rc,
		 (unsigned long long)((job.ended_ms - job.started_ms) / 1000));
	log_marker("MIGRATOR-DONE rc=%d", rc);
	if (job.done)
		job.done(rc, job.data);
}

int job_start(const struct init_config *cfg, job_done_fn done, void *data)
{
	char **argv = NULL, dbg[CONF_VALUE_MAX + 32];
	char *extra[] = { NULL, NULL };
	struct spawn sp = { 0 };
	const char *why;
	int p[2], r;
	size_t w = 0;

	r = config_job_argv(cfg, JOB_BINARY, &argv, &why);
	if (r < 0) {
		log_warn("job: cannot build the command line: %s", why);
		return r;
	}
	/* Shell-quoted where needed, so the log line can be pasted into a shell. */
	for (char **a = argv; *a && w < sizeof(job.cmd) - 1; a++) {
		char redacted[CONF_KEY_MAX + 8];
		const char *eq = strchr(*a, '=');

		if (strncmp(*a, "--", 2) == 0 && eq && (size_t)(eq - *a) < CONF_KEY_MAX + 2) {
			memcpy(redacted, *a, (size_t)(eq - *a));
			redacted[eq - *a] = '\0';
			if (config_key_secret(redacted + 2)) {
				w += (size_t)snprintf(job.cmd + w, sizeof(job.cmd) - w, "%s%s=***",
						      w ? " " : "", redacted);
				continue;
			}
		}
		bool plain = **a && strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789-_=+.,:/@%") == strlen(*a);
		w += (size_t)snprintf(job.cmd + w, sizeof(job.cmd) - w, "%s%s%s%s", w ? " " : "",
				      plain ? "" : "'", *a, plain ? "" : "'");
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		config_argv_free(argv);
		return r;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	if (cfg->debug) {
		snprintf(dbg, sizeof(dbg), "MIGRATOR_DEBUG=%s", cfg->debug);
		extra[0] = dbg;
	}
	sp.argv = argv;
	sp.stdout_fd = p[1];
	sp.stderr_fd = p[1];
	sp.extra_env = extra;
	job.out_fd = p[0];
	job.tail_len = 0;
	job.done = done;
	job.data = data;
	job.started_ms = now_ms();
	log_info("job: %s", job.cmd);
	r = loop_spawn(&sp, exited, NULL, &job.pid);
	close(p[1]);
	config_argv_free(argv);
	if (r < 0) {
		close(p[0]);
		job.out_fd = -1;
		log_warn("job: cannot start %s: %s", JOB_BINARY, strerror(-r));
		return r;
	}
	job.running = true;
	r = loop_watch(job.out_fd, output_ready, NULL);
	if (r < 0)
		log_warn("job: cannot follow its output: %s", strerror(-r));
	return 0;
}

void job_report_failure(int rc)
{
	const char *lines[JOB_TAIL_LINES + 1];
	size_t n = 0, end = job.tail_len;
	char tail[JOB_TAIL_BYTES + 1];

	memcpy(tail, job.tail, job.tail_len);
	tail[job.tail_len] = '\0';
	/* The last JOB_TAIL_LINES lines, oldest first. */
	while (end > 0 && tail[end - 1] == '\n')
		tail[--end] = '\0';
	while (end > 0 && n < JOB_TAIL_LINES) {
		size_t s = end;
		while (s > 0 && tail[s - 1] != '\n')
			s--;
		lines[n++] = tail + s;
		if (s == 0)
			break;
		tail[s - 1] = '\0';
		end = s - 1;
	}
	log_marker("%s", "");
	log_marker("==================================================================");
	log_marker("migrator: the job FAILED (exit status %d after %llu s)", rc,
		   (unsigned long long)((job.ended_ms - job.started_ms) / 1000));
	log_marker("  command: %s", job.cmd);
	if (n) {
		log_marker("  its last %zu line%s of output:", n, n == 1 ? "" : "s");
		while (n-- > 0)
			log_marker("    %s", lines[n]);
	}
	log_marker("  full log: /run/migrator.log");
	log_marker("  This system will not reboot or power off by itself. A shell follows;");
	log_marker("  type 'poweroff' or 'reboot' when you are done.");
	log_marker("==================================================================");
}
