/* chroot.c — see chroot.h. */
#include "chroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mnt {
	const char *source, *fstype, *data;
	unsigned long flags;
	char target[PATH_MAX];
	int optional;     /* a missing mount point is no error */
};

static void child_fail(const char *what, const char *arg)
{
	int err = errno;
	dprintf(2, "migrator: chroot: %s %s: %s\n", what, arg ? arg : "", strerror(err));
	_exit(127);
}

/* mkdir -p of the directories of path (not its last component). */
static int mkparents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* Fills the private /dev (a fresh tmpfs at dev). */
static void populate_dev(const char *dev, const struct mig_chroot_dev *devs, size_t ndevs)
{
	static const struct { const char *name; unsigned major, minor; } chr[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
		{ "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	};
	char p[PATH_MAX + 1024], target[PATH_MAX];

	umask(0);
	for (size_t i = 0; i < sizeof(chr) / sizeof(chr[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dev, chr[i].name);
		if (mknod(p, S_IFCHR | 0666, makedev(chr[i].major, chr[i].minor)) < 0)
			child_fail("mknod", p);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			child_fail("symlink", p);
	}
	snprintf(p, sizeof(p), "%s/shm", dev);
	if (mkdir(p, 01777) < 0)
		child_fail("mkdir", p);
	snprintf(p, sizeof(p), "%s/pts", dev);
	if (mkdir(p, 0755) < 0)
		child_fail("mkdir", p);
	for (size_t i = 0; i < ndevs; i++) {
		snprintf(p, sizeof(p), "%s/%s", dev, devs[i].name);
		if (mknod(p, S_IFBLK | 0660, makedev(devs[i].major, devs[i].minor)) < 0 && errno != EEXIST)
			child_fail("mknod", p);
		for (size_t k = 0; k < MIG_CHROOT_DEV_LINKS && devs[i].links[k]; k++) {
			const char *l = devs[i].links[k];
			size_t depth = 0, n = 0;
			for (const char *c = l; *c; c++)
				depth += *c == '/';
			for (size_t d = 0; d < depth && n + 4 < sizeof(target); d++)
				n += (size_t)snprintf(target + n, sizeof(target) - n, "../");
			snprintf(target + n, sizeof(target) - n, "%s", devs[i].name);
			snprintf(p, sizeof(p), "%s/%s", dev, l);
			if (mkparents(p) < 0 || (symlink(target, p) < 0 && errno != EEXIST))
				child_fail("symlink", p);
		}
	}
	umask(022);
}

/* In the child: never returns. */
static void child(const char *root, struct mnt *m, size_t nm, const struct mig_chroot_dev *devs, size_t ndevs,
		  char *const argv[], int out)
{
	static char *const envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root",
		"TERM=dumb", NULL,
	};
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	if (unshare(CLONE_NEWNS) < 0)
		child_fail("unshare", "CLONE_NEWNS");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail("making mounts private", NULL);
	for (size_t i = 0; i < nm; i++)
		if (mount(m[i].source, m[i].target, m[i].fstype, m[i].flags, m[i].data) < 0 &&
		    !(m[i].optional && errno == ENOENT))
			child_fail("mount", m[i].target);
	populate_dev(m[0].target, devs, ndevs);
	if (chroot(root) < 0)
		child_fail("chroot", root);
	if (chdir("/") < 0)
		child_fail("chdir", "/");
	execve(argv[0], argv, envp);
	child_fail("exec", argv[0]);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Relative, no empty, "." or ".." component, not too long. */
static bool link_ok(const char *l)
{
	if (!*l || *l == '/' || strlen(l) > 512)
		return false;
	for (const char *c = l; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/')
			c++;
		if (!*c && c[-1] == '/')
			return false;
	}
	return true;
}

int mig_chroot_run(const char *root, const struct mig_chroot_bind *binds, size_t nbinds,
		   const struct mig_chroot_dev *devs, size_t ndevs, char *const argv[], unsigned timeout_s,
		   int *ret_status, char **ret_output, size_t *ret_len)
{
	struct mnt m[5 + MIG_CHROOT_MAX_BINDS] = {
		{ "tmpfs", "tmpfs", "mode=0755,size=4m", MS_NOSUID | MS_NOEXEC, "", 0 },
		{ "proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, "", 0 },
		{ "sysfs", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, "", 0 },
		{ "tmpfs", "tmpfs", "mode=0755,size=64m", MS_NOSUID | MS_NODEV, "", 1 },
		{ "tmpfs", "tmpfs", "mode=1777,size=512m", MS_NOSUID | MS_NODEV, "", 1 },
	};
	static const char *const dirs[] = { "/dev", "/proc", "/sys", "/run", "/tmp" };
	size_t nm = 5, len = 0;
	int pfd[2], r = 0, status = 0;
	char *buf;

	if (nbinds > MIG_CHROOT_MAX_BINDS || ndevs > MIG_CHROOT_MAX_DEVS)
		return -E2BIG;
	for (size_t i = 0; i < ndevs; i++) {
		if (!devs[i].name[0] || strchr(devs[i].name, '/') || !strcmp(devs[i].name, "..") ||
		    !strcmp(devs[i].name, "."))
			return -EINVAL;
		for (size_t k = 0; k < MIG_CHROOT_DEV_LINKS && devs[i].links[k]; k++)
			if (!link_ok(devs[i].links[k]))
				return -EINVAL;
	}
	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < 5; i++)
		if (snprintf(m[i].target, sizeof(m[i].target), "%s%s", root, dirs[i]) >= (int)sizeof(m[i].target))
			return -ENAMETOOLONG;
	for (size_t i = 0; i < nbinds; i++, nm++) {
		m[nm] = (struct mnt){ binds[i].source, NULL, NULL, MS_BIND, "", 0 };
		if (snprintf(m[nm].target, sizeof(m[nm].target), "%s%s", root, binds[i].target) >=
		    (int)sizeof(m[nm].target))
			return -ENAMETOOLONG;
	}
	if (!(buf = malloc(MIG_CHROOT_OUTPUT_MAX + 1)))
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		free(buf);
		return r;
	}
	if (pid == 0) {
		close(pfd[0]);
		child(root, m, nm, devs, ndevs, argv, pfd[1]);
	}
	setpgid(pid, pid);   /* also here: no race with kill(-pid) below */
	close(pfd[1]);

	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int k = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0)
			continue;
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;          /* EOF: the child and all it started closed the pipe */
		size_t take = (size_t)n;
		if (take > MIG_CHROOT_OUTPUT_MAX - len)
			take = MIG_CHROOT_OUTPUT_MAX - len;
		memcpy(buf + len, tmp, take);
		len += take;
	}
	close(pfd[0]);
	/* EOF: wait for the child until the deadline; then nothing of its
	 * group may outlive the run (leftovers would hold the namespace and
	 * the loop devices in it) */
	bool reaped = false;
	while (r == 0 && !reaped) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			reaped = true;
		else if (w < 0 && errno != EINTR)
			break;
		else if (now_ms() >= deadline)
			r = -ETIMEDOUT;
		else
			usleep(20000);
	}
	kill(-pid, SIGKILL);
	while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = 0;
	if (r < 0 && r != -ETIMEDOUT) {
		free(buf);
		return r;
	}
	*ret_status = status;
	*ret_output = buf;
	*ret_len = len;
	return r;
}
