/* shell.c — respawned shells on the consoles. */
#include "shell.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "console.h"
#include "loop.h"
#include "util.h"

#define SHELLS_MAX (CONSOLES_MAX + 2)
#define QUICK_EXIT_MS 2000      /* a shell that lives less than this "failed" */

struct shell {
	char tty[40];           /* "/dev/ttyS0" */
	char term[48];          /* "TERM=vt220" */
	pid_t pid;
	uint64_t started_ms, due_ms;    /* due_ms: respawn time, 0 = none */
	unsigned delay_ms;
};

static struct shell shells[SHELLS_MAX];
static size_t n_shells;
static bool started;

static void spawn(struct shell *s);

static void exited(pid_t pid, int status, void *data)
{
	struct shell *s = data;
	uint64_t now = now_ms();

	s->pid = 0;
	if (now - s->started_ms < QUICK_EXIT_MS) {
		s->delay_ms = s->delay_ms ? s->delay_ms * 2 : 1000;
		if (s->delay_ms > SHELL_RESPAWN_MAX_MS)
			s->delay_ms = SHELL_RESPAWN_MAX_MS;
		log_warn("shell on %s exited at once (status %d); again in %u s", s->tty, status,
			 s->delay_ms / 1000);
	} else {
		s->delay_ms = 0;
	}
	s->due_ms = now + (s->delay_ms ? s->delay_ms : 200);
}

static void spawn(struct shell *s)
{
	/* A login shell ("-sh") reads /etc/profile. */
	char *argv[] = { "-sh", NULL };
	char *env[] = { s->term, NULL };
	struct spawn sp = { .path = SHELL_PATH, .argv = argv, .tty = s->tty, .extra_env = env };
	int r;

	s->due_ms = 0;
	s->started_ms = now_ms();
	r = loop_spawn(&sp, exited, s, &s->pid);
	if (r < 0) {
		log_warn("cannot start a shell on %s: %s", s->tty, strerror(-r));
		s->pid = 0;
		s->due_ms = now_ms() + SHELL_RESPAWN_MAX_MS;
	}
}

static struct shell *add(const char *name)
{
	struct shell *s;
	const char *term;

	for (size_t i = 0; i < n_shells; i++)
		if (strcmp(shells[i].tty + 5, name) == 0)
			return NULL;
	if (n_shells == SHELLS_MAX)
		return NULL;
	s = &shells[n_shells++];
	memset(s, 0, sizeof(*s));
	snprintf(s->tty, sizeof(s->tty), "/dev/%s", name);
	term = strncmp(name, "tty", 3) == 0 && name[3] >= '0' && name[3] <= '9' ? "linux" :
	       strcmp(name, "console") == 0 ? "linux" : "vt220";
	snprintf(s->term, sizeof(s->term), "TERM=%s", term);
	return s;
}

void shells_start(void)
{
	char names[256] = "";
	size_t w = 0;

	if (started)
		return;
	started = true;
	for (size_t i = 0; i < console_count(); i++) {
		const char *name = console_name(i);
		struct shell *s;

		if (strcmp(name, "tty0") == 0)
			name = "tty1";
		s = add(name);
		if (!s)
			continue;
		w += (size_t)snprintf(names + w, sizeof(names) - w, "%s%s", w ? " " : "", name);
		spawn(s);
	}
	if (w)
		log_info("shell on %s; type 'poweroff' or 'reboot' to leave", names);
	else
		log_warn("no console for a shell");
}

int shell_start_on(const char *tty)
{
	char path[64];
	struct shell *s;
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", tty);
	if (stat(path, &st) < 0)
		return -errno;
	s = add(tty);
	if (!s)
		return -EEXIST;
	spawn(s);
	return 0;
}

int shells_timeout(void)
{
	uint64_t now = now_ms(), next = 0;

	for (size_t i = 0; i < n_shells; i++)
		if (shells[i].due_ms && (!next || shells[i].due_ms < next))
			next = shells[i].due_ms;
	if (!next)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

void shells_tick(void)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < n_shells; i++)
		if (shells[i].due_ms && shells[i].due_ms <= now && !shells[i].pid)
			spawn(&shells[i]);
}
