/*
 * Tiny PID 1 for the rescue kernel's smoke test (kernel-config/smoke-test.sh).
 * Built with the host's `gcc -static`; it is not the product's init.
 *
 * Mounts proc, sysfs and devtmpfs, prints the marker line
 * "KERNEL-SMOKE-INIT uptime=<s>" on /dev/console, waits (bounded) for the
 * sysfs paths named by `smoke.expect=a,b,...` on the kernel command line
 * (relative to /sys, e.g. block/vda or class/net/eth0), then reports one line
 * per finding:
 *   SMOKE block <name> <sectors>     every /sys/block entry
 *   SMOKE net <name> <driver>        every /sys/class/net entry but lo
 *   SMOKE fb <name> <id>             every framebuffer
 *   SMOKE efi yes|no, SMOKE secureboot <0|1>   (EFI boot: efivarfs mounted)
 *   SMOKE expect <path> ok|missing
 *   SMOKE-RESULT ok|fail
 * and powers off with reboot(RB_POWER_OFF), or reboots with `smoke.action=reboot`
 * (RB_AUTOBOOT). If that returns, it says so and sleeps forever: PID 1 must
 * not exit (that would be a panic, not a result).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EFI_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c"

static FILE *con;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(con, fmt, ap);
	va_end(ap);
	fputc('\n', con);
	fflush(con);
}

static void mnt(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, MS_NOSUID | MS_NOEXEC, NULL) < 0 && errno != EBUSY)
		say("SMOKE warning: mount %s on %s: %s", type, dir, strerror(errno));
}

/* Reads the first line of a small file into buf; returns 0 or -errno. */
static int read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Calls fn for every entry of dir (not . or ..) in name order. */
static void each_entry(const char *dir, void (*fn)(const char *dir, const char *name))
{
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0]))
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (names[i])
			fn(dir, names[i]);
		free(names[i]);
	}
}

static void show_block(const char *dir, const char *name)
{
	char path[512], size[64];

	snprintf(path, sizeof(path), "%s/%s/size", dir, name);
	if (read_line(path, size, sizeof(size)) < 0)
		strcpy(size, "?");
	say("SMOKE block %s %s", name, size);
}

static void show_net(const char *dir, const char *name)
{
	char path[512], target[512];
	ssize_t n;
	const char *drv = "-";

	if (strcmp(name, "lo") == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s/device/driver", dir, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		drv = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	}
	say("SMOKE net %s %s", name, drv);
}

static void show_fb(const char *dir, const char *name)
{
	char path[512], id[128];

	if (strncmp(name, "fb", 2) != 0 || name[2] < '0' || name[2] > '9')
		return; /* fbcon */
	snprintf(path, sizeof(path), "%s/%s/name", dir, name);
	if (read_line(path, id, sizeof(id)) < 0)
		strcpy(id, "?");
	say("SMOKE fb %s %s", name, id);
}

static void show_efi(void)
{
	unsigned char var[8];
	ssize_t n = -1;
	int fd;

	if (access("/sys/firmware/efi", F_OK) < 0) {
		say("SMOKE efi no");
		return;
	}
	say("SMOKE efi yes");
	mnt("efivarfs", "/sys/firmware/efi/efivars", "efivarfs");
	/* 4 bytes of attributes, then the 1-byte value. */
	fd = open("/sys/firmware/efi/efivars/SecureBoot-" EFI_GLOBAL, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, var, sizeof(var));
		close(fd);
	}
	if (n == 5)
		say("SMOKE secureboot %d", var[4]);
	else
		say("SMOKE secureboot unknown (%s)", fd < 0 ? strerror(errno) : "short read");
}

/* Value of key=... in /proc/cmdline, copied into buf; NULL when absent. */
static char *cmdline_value(const char *key, char *buf, size_t size)
{
	static char cmdline[4096];
	size_t klen = strlen(key);
	char *p;

	if (!cmdline[0] && read_line("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		return NULL;
	for (p = cmdline; (p = strstr(p, key)); p += klen) {
		if ((p == cmdline || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " ");

			if (n >= size)
				n = size - 1;
			memcpy(buf, p + klen + 1, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

static double uptime(void)
{
	char buf[64];

	return read_line("/proc/uptime", buf, sizeof(buf)) < 0 ? -1 : atof(buf);
}

int main(void)
{
	char expect[1024], tmo[32], action[32], path[600];
	int ok = 1, timeout = 20;

	mnt("proc", "/proc", "proc");
	mnt("sysfs", "/sys", "sysfs");
	mnt("devtmpfs", "/dev", "devtmpfs");
	con = fopen("/dev/console", "we");
	if (!con)
		con = stdout;
	say("KERNEL-SMOKE-INIT uptime=%.2f", uptime());

	if (cmdline_value("smoke.timeout", tmo, sizeof(tmo)))
		timeout = atoi(tmo);
	if (cmdline_value("smoke.expect", expect, sizeof(expect))) {
		/* Drivers probe asynchronously (NVMe namespaces, USB storage): poll. */
		struct timespec tick = { 0, 100 * 1000 * 1000 };
		for (int i = 0; i < timeout * 10; i++) {
			int all = 1;
			char copy[sizeof(expect)], *save, *p;

			strcpy(copy, expect);
			for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
				snprintf(path, sizeof(path), "/sys/%s", p);
				all &= access(path, F_OK) == 0;
			}
			if (all)
				break;
			nanosleep(&tick, NULL);
		}
	}

	each_entry("/sys/block", show_block);
	each_entry("/sys/class/net", show_net);
	each_entry("/sys/class/graphics", show_fb);
	show_efi();
	if (cmdline_value("smoke.expect", expect, sizeof(expect))) {
		char *save, *p;

		for (p = strtok_r(expect, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			snprintf(path, sizeof(path), "/sys/%s", p);
			int there = access(path, F_OK) == 0;
			say("SMOKE expect %s %s", p, there ? "ok" : "missing");
			ok &= there;
		}
	}
	say("SMOKE-RESULT %s uptime=%.2f", ok ? "ok" : "fail", uptime());

	sync();
	if (cmdline_value("smoke.action", action, sizeof(action)) && strcmp(action, "reboot") == 0)
		reboot(RB_AUTOBOOT);
	else
		reboot(RB_POWER_OFF);
	say("SMOKE reboot/poweroff failed: %s", strerror(errno));
	for (;;)
		pause();
}
