/* console.c — consoles and the log file. */
#include "console.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

#define WRITE_STALL_MS 2000     /* longest wait for one stuck console */
#define EARLY_MAX 16384         /* lines kept until the log file opens */
#define LINE_MAX_OUT 2048

struct console {
	int fd;
	char name[CONSOLE_NAME_MAX];
	unsigned drops;         /* chunks lost to a stuck console */
};

static struct console consoles[CONSOLES_MAX];
static size_t n_consoles;
static struct { char name[CONSOLE_NAME_MAX]; unsigned baud; } bauds[CONSOLES_MAX];
static size_t n_bauds;
static int log_fd = -1;
static bool log_at_bol = true;
static bool debug_on;
static char early[EARLY_MAX];
static size_t early_len;

int console_parse(const char *param, char *ret_name, size_t n, unsigned *ret_baud)
{
	size_t len = strcspn(param, ",");
	size_t alpha = 0;

	if (len == 0 || len >= n || len >= CONSOLE_NAME_MAX)
		return -EINVAL;
	while (alpha < len && isalpha((unsigned char)param[alpha]))
		alpha++;
	/* A device node is letters then a number: tty0, ttyS0, hvc0, ttyAMA0. */
	if (alpha == 0 || alpha == len)
		return -EINVAL;
	for (size_t i = alpha; i < len; i++)
		if (!isdigit((unsigned char)param[i]))
			return -EINVAL;
	if (alpha == 2 && strncmp(param, "lp", 2) == 0)
		return -EINVAL;          /* printers are not consoles we talk to */
	if (strncmp(param, "uart", 4) == 0)
		return -EINVAL;          /* "uart8250,io,0x3f8": an address, not a node */
	memcpy(ret_name, param, len);
	ret_name[len] = '\0';
	*ret_baud = 0;
	if (param[len] == ',') {
		char *end;
		unsigned long b = strtoul(param + len + 1, &end, 10);
		if (end != param + len + 1 && b <= 4000000)
			*ret_baud = (unsigned)b;
	}
	return 0;
}

size_t console_count(void)
{
	return n_consoles;
}

const char *console_name(size_t i)
{
	return i < n_consoles ? consoles[i].name : NULL;
}

unsigned console_baud(const char *name)
{
	for (size_t i = 0; i < n_bauds; i++)
		if (strcmp(bauds[i].name, name) == 0)
			return bauds[i].baud;
	return 0;
}

static speed_t speed_of(unsigned baud)
{
	static const struct { unsigned b; speed_t s; } t[] = {
		{ 9600, B9600 }, { 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 },
		{ 115200, B115200 }, { 230400, B230400 }, { 460800, B460800 },
		{ 921600, B921600 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].b == baud)
			return t[i].s;
	return 0;
}

static bool console_known(const char *name)
{
	for (size_t i = 0; i < n_consoles; i++)
		if (strcmp(consoles[i].name, name) == 0)
			return true;
	return false;
}

static void console_add(const char *name)
{
	char path[64];
	int fd;

	if (n_consoles == CONSOLES_MAX || console_known(name))
		return;
	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (isatty(fd)) {
		struct termios t;
		speed_t s = speed_of(console_baud(name));
		if (tcgetattr(fd, &t) == 0) {
			t.c_oflag |= OPOST | ONLCR;
			if (s) {
				cfsetispeed(&t, s);
				cfsetospeed(&t, s);
			}
			tcsetattr(fd, TCSANOW, &t);
		}
	}
	consoles[n_consoles].fd = fd;
	snprintf(consoles[n_consoles].name, CONSOLE_NAME_MAX, "%s", name);
	n_consoles++;
}

int console_open_all(const struct cmdline *c)
{
	char active[256], name[CONSOLE_NAME_MAX];
	unsigned baud;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].key, "console") || !c->v[i].value)
			continue;
		if (console_parse(c->v[i].value, name, sizeof(name), &baud) < 0 ||
		    n_bauds == CONSOLES_MAX)
			continue;
		snprintf(bauds[n_bauds].name, CONSOLE_NAME_MAX, "%s", name);
		bauds[n_bauds++].baud = baud;
	}
	/* What the kernel actually registered ("tty0 ttyS0"): covers console=
	 * spellings we do not parse and consoles chosen without console=. */
	if (read_line("/sys/class/tty/console/active", active, sizeof(active)) > 0) {
		char *save = NULL;
		for (char *tok = strtok_r(active, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			console_add(tok);
	}
	for (size_t i = 0; i < n_bauds; i++)
		console_add(bauds[i].name);
	if (n_consoles == 0) {
		int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			consoles[0].fd = fd;
			snprintf(consoles[0].name, CONSOLE_NAME_MAX, "console");
			n_consoles = 1;
		}
	}
	return (int)n_consoles;
}

static int console_reopen(struct console *co)
{
	char path[64];
	int fd;

	if (strcmp(co->name, "console") == 0)
		snprintf(path, sizeof(path), "/dev/console");
	else
		snprintf(path, sizeof(path), "/dev/%s", co->name);
	fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* dup3 keeps the fd number, so nothing else needs to know. */
	if (dup3(fd, co->fd, O_CLOEXEC) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* Writes to a non-blocking console, waiting at most WRITE_STALL_MS in all. */
static void console_write(struct console *co, const char *p, size_t n)
{
	int waited = 0;
	bool reopened = false;

	while (n > 0) {
		ssize_t k = write(co->fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		/* When the session leader of a shell on this tty exits, the kernel
		 * hangs the tty up for every open file, ours included: reopen. */
		if (k < 0 && errno == EIO && !reopened) {
			reopened = true;
			if (console_reopen(co) == 0)
				continue;
		}
		if (k < 0 && errno == EAGAIN && waited < WRITE_STALL_MS) {
			struct pollfd pfd = { .fd = co->fd, .events = POLLOUT };
			poll(&pfd, 1, 100);
			waited += 100;
			continue;
		}
		co->drops++;
		return;
	}
}

static void file_write(const char *p, size_t n)
{
	uint64_t t = now_ms();
	char stamp[32];

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) + 1 : n;

		if (log_at_bol) {
			int sl = snprintf(stamp, sizeof(stamp), "[%5llu.%03llu] ",
					  (unsigned long long)(t / 1000),
					  (unsigned long long)(t % 1000));
			if (log_fd >= 0)
				write_all(log_fd, stamp, (size_t)sl);
			else if (early_len + (size_t)sl <= EARLY_MAX) {
				memcpy(early + early_len, stamp, (size_t)sl);
				early_len += (size_t)sl;
			}
		}
		if (log_fd >= 0)
			write_all(log_fd, p, k);
		else if (early_len + k <= EARLY_MAX) {
			memcpy(early + early_len, p, k);
			early_len += k;
		}
		log_at_bol = nl != NULL;
		p += k;
		n -= k;
	}
}

void log_raw(const void *buf, size_t n)
{
	if (n_consoles == 0) {
		/* fd 2 is the kernel's /dev/console until ours are open. */
		if (fcntl(2, F_GETFD) >= 0)
			write_all(2, buf, n);
	}
	for (size_t i = 0; i < n_consoles; i++)
		console_write(&consoles[i], buf, n);
	file_write(buf, n);
}

static void log_v(const char *prefix, const char *fmt, va_list ap)
{
	char line[LINE_MAX_OUT];
	int n = snprintf(line, sizeof(line), "%s", prefix);

	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	log_raw(line, (size_t)n);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v("init: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v("init: warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug_on)
		return;
	va_start(ap, fmt);
	log_v("init: debug: ", fmt, ap);
	va_end(ap);
}

void log_marker(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v("", fmt, ap);
	va_end(ap);
}

void log_set_debug(bool on)
{
	debug_on = on;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	log_fd = fd;
	if (early_len)
		write_all(log_fd, early, early_len);
	early_len = 0;
	return 0;
}

void log_close(void)
{
	if (log_fd >= 0)
		fsync(log_fd);
}

void console_drain(unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		bool pending = false;
		for (size_t i = 0; i < n_consoles; i++) {
			int q = 0;
			if (ioctl(consoles[i].fd, TIOCOUTQ, &q) == 0 && q > 0)
				pending = true;
		}
		if (!pending || now_ms() >= deadline)
			break;
		sleep_ms(20);
	}
}
