/* mounts.c — API filesystems up, every filesystem down. */
#include "mounts.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

#define MOUNTS_MAX 256

struct api_mount {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	mode_t mode;
	bool quiet;             /* expected to be missing on some kernels */
};

static const struct api_mount api_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555, false },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555, false },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755, false },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666",
	  0755, false },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777, false },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755, false },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777, false },
	{ "securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	  NULL, 0755, true },
};

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	char parent[256];

	if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int)sizeof(parent))
		return false;
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev;
}

static int mount_one(const struct api_mount *m)
{
	if (is_mountpoint(m->target))
		return 0;       /* the kernel did it (CONFIG_DEVTMPFS_MOUNT) */
	if (mkdir(m->target, m->mode) < 0 && errno != EEXIST) {
		log_warn("cannot create %s: %s", m->target, strerror(errno));
		return -errno;
	}
	if (mount(m->source, m->target, m->type, m->flags, m->data) < 0) {
		int r = -errno;
		if (!m->quiet)
			log_warn("cannot mount %s on %s: %s", m->type, m->target, strerror(-r));
		return r;
	}
	return 0;
}

int mounts_early(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" }, { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(api_mounts) / sizeof(api_mounts[0]); i++)
		if (mount_one(&api_mounts[i]) < 0 && !api_mounts[i].quiet)
			failed++;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			log_debug("cannot create %s: %s", links[i][1], strerror(errno));
	mounts_efivarfs();
	return failed;
}

int mounts_efivarfs(void)
{
	static const struct api_mount efi = {
		"efivarfs", "/sys/firmware/efi/efivars", "efivarfs",
		MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0755, true,
	};
	struct stat st;

	if (stat("/sys/firmware/efi", &st) < 0)
		return 0;
	return mount_one(&efi);
}

int mount_readonly(const char *dev, const char *dir, const char *fstype)
{
	const unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char *fs = NULL;
	int r = -ENODEV;

	if (fstype)
		return mount(dev, dir, fstype, flags, NULL) < 0 ? -errno : 0;
	/* Without a type: every block filesystem the kernel lists. */
	if (read_file("/proc/filesystems", 65536, &fs, NULL) < 0)
		return -ENODEV;
	for (char *save = NULL, *line = strtok_r(fs, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "nodev", 5) == 0)
			continue;
		while (*line == '\t' || *line == ' ')
			line++;
		if (mount(dev, dir, line, flags, NULL) == 0) {
			r = 0;
			break;
		}
		r = -errno;
	}
	free(fs);
	return r;
}

void mounts_unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static bool is_api_path(const char *t)
{
	static const char *const keep[] = { "/proc", "/sys", "/dev", "/run" };

	if (strcmp(t, "/") == 0)
		return true;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		size_t n = strlen(keep[i]);
		if (strncmp(t, keep[i], n) == 0 && (t[n] == '\0' || t[n] == '/'))
			return true;
	}
	return false;
}

static void swaps_off(void)
{
	char *text = NULL;

	if (read_file("/proc/swaps", 1 << 20, &text, NULL) < 0)
		return;
	/* First line is the header. */
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strpbrk(line, " \t");
		if (line[0] != '/' || !sp)
			continue;
		*sp = '\0';
		mounts_unescape(line);
		if (swapoff(line) < 0)
			log_warn("swapoff %s: %s", line, strerror(errno));
	}
	free(text);
}

int mounts_teardown(void)
{
	char *text = NULL, *targets[MOUNTS_MAX];
	size_t n = 0;
	int failed = 0;

	swaps_off();
	if (read_file("/proc/self/mounts", 1 << 20, &text, NULL) < 0) {
		log_warn("cannot read /proc/self/mounts; filesystems stay mounted");
		return 1;
	}
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < MOUNTS_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		char *t = strchr(line, ' ');
		char *e;
		if (!t)
			continue;
		t++;
		e = strchr(t, ' ');
		if (!e)
			continue;
		*e = '\0';
		mounts_unescape(t);
		if (!is_api_path(t))
			targets[n++] = t;
	}
	/* Reverse mount order: children before their parents. */
	while (n-- > 0) {
		const char *t = targets[n];
		int err;

		if (umount2(t, 0) == 0) {
			log_info("unmounted %s", t);
			continue;
		}
		err = errno;
		if (err == EINVAL || err == ENOENT)
			continue;       /* went away with its parent */
		if (err == EBUSY && mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
			log_warn("%s is busy; remounted read-only", t);
			continue;
		}
		log_warn("cannot unmount %s: %s", t, strerror(err));
		failed++;
	}
	free(text);
	return failed;
}
