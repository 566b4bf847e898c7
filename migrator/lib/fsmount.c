/* fsmount.c — see fsmount.h. */
#include "fsmount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#define LOOP_TRIES 16   /* another process may grab the free device first */

struct mig_fsmount {
	char dir[256];
	int loop_fd;
	bool mounted;
	pid_t fuse_pid;   /* fusefat serving the mount, or 0 */
};

#define FUSEFAT "/usr/bin/fusefat"
#define FUSE_WAIT_MS 10000

static const struct {
	const char *type;       /* blkid's name */
	const char *mount_type; /* the kernel's */
	const char *opts[3];    /* tried in order until one works */
} types[] = {
	{ "ext4", "ext4", { "noload", NULL } },
	{ "ext3", "ext4", { "noload", NULL } },   /* the ext4 driver reads ext2/3 */
	{ "ext2", "ext4", { "noload", NULL } },
	{ "xfs", "xfs", { "norecovery,nouuid", NULL } },
	{ "btrfs", "btrfs", { "rescue=nologreplay", "nologreplay", NULL } },
	{ "vfat", "vfat", { "", NULL } },
};

static int type_index(const char *fstype)
{
	for (size_t i = 0; fstype && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].type, fstype))
			return (int)i;
	return -1;
}

bool mig_fsmount_supported(const char *fstype)
{
	return type_index(fstype) >= 0;
}

/* Binds a free loop device read-only to [offset, offset+size) of backing.
 * Returns the loop device's fd or -errno. AUTOCLEAR: the kernel detaches it
 * once it is unmounted and the fd closed, even if we die in between. */
static int loop_attach(int backing, uint64_t offset, uint64_t size, bool rw, char *name, size_t namelen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r = -EBUSY;

	if (ctl < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	for (int t = 0; t < LOOP_TRIES && r == -EBUSY; t++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(name, namelen, "/dev/loop%d", n);
		int fd = open(name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			/* no udev to create the node: make it ourselves */
			if (errno == ENOENT && mknod(name, 0600 | S_IFBLK, makedev(7, n)) == 0)
				fd = open(name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
			if (fd < 0) {
				r = -errno;
				break;
			}
		}
		struct loop_config cfg = { .fd = (uint32_t)backing };
		cfg.info.lo_offset = offset;
		cfg.info.lo_sizelimit = size;
		cfg.info.lo_flags = (rw ? 0 : LO_FLAGS_READ_ONLY) | LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			close(ctl);
			return fd;
		}
		r = -errno;
		if (r == -EINVAL || r == -ENOTTY) {
			/* before Linux 5.8: the two-step way */
			struct loop_info64 info = cfg.info;
			if (ioctl(fd, LOOP_SET_FD, backing) == 0) {
				if (ioctl(fd, LOOP_SET_STATUS64, &info) == 0) {
					close(ctl);
					return fd;
				}
				r = -errno;
				ioctl(fd, LOOP_CLR_FD, 0);
			} else {
				r = -errno;
			}
		}
		close(fd);
	}
	close(ctl);
	return r;
}

int mig_loop_attach(const char *path, uint64_t offset, uint64_t size, bool rw,
		    char *name, size_t namelen)
{
	int backing = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	int r;

	if (backing < 0)
		return -errno;
	r = loop_attach(backing, offset, size, rw, name, namelen);
	close(backing);     /* the loop device holds its own reference */
	return r;
}

int mig_fsmount_open(const char *path, uint64_t offset, uint64_t size, const char *fstype,
		     struct mig_fsmount **ret)
{
	return mig_fsmount_open_flags(path, offset, size, fstype, 0, ret);
}

/* Mounts src (a block device node) on m->dir with the options of type ti. */
static int mount_src(struct mig_fsmount *m, const char *src, int ti, bool rw)
{
	int r = -EINVAL;

	for (size_t i = 0; i < 3 && (rw ? i == 0 : types[ti].opts[i] != NULL); i++) {
		/* read-write: the journal is replayed as any mount does; XFS
		 * keeps nouuid (the source may be mounted with the same UUID) */
		const char *o = !rw ? types[ti].opts[i] : !strcmp(types[ti].type, "xfs") ? "nouuid" : "";
		if (mount(src, m->dir, types[ti].mount_type,
			  (rw ? 0 : MS_RDONLY | MS_NOEXEC) | MS_NOSUID | MS_NODEV, o) == 0) {
			m->mounted = true;
			return 0;
		}
		r = -errno;
	}
	return r;
}

static struct mig_fsmount *fsmount_new(void)
{
	struct mig_fsmount *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->loop_fd = -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(m->dir, sizeof(m->dir), "%s/migrator-fs.XXXXXX", tmp && *tmp == '/' && strlen(tmp) < 200 ? tmp : "/tmp");
	if (!mkdtemp(m->dir)) {
		int e = errno;
		free(m);
		errno = e;
		return NULL;
	}
	return m;
}

static bool is_mountpoint(const char *dir)
{
	char parent[300];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", dir);
	return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* FAT without the kernel's vfat (containers, some host kernels): Debian's
 * fusefat, in the foreground as our child, so that closing can wait until
 * it wrote everything and exited. */
static int fuse_fat(struct mig_fsmount *m, const char *dev, bool rw)
{
	if (access(FUSEFAT, X_OK) < 0 || access("/dev/fuse", R_OK | W_OK) < 0)
		return -ENODEV;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(FUSEFAT, "fusefat", "-f", "-o", rw ? "rw+" : "ro", dev, m->dir, (char *)NULL);
		_exit(127);
	}
	for (int t = 0; t < FUSE_WAIT_MS / 10; t++) {
		int status;
		if (is_mountpoint(m->dir)) {
			m->fuse_pid = pid;
			m->mounted = true;
			return 0;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -EIO;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

int mig_fsmount_open_dev(const char *dev, const char *fstype, unsigned flags, struct mig_fsmount **ret)
{
	int ti = type_index(fstype), r;
	struct mig_fsmount *m;

	if (ti < 0)
		return -EOPNOTSUPP;
	if (!(m = fsmount_new()))
		return -errno;
	r = mount_src(m, dev, ti, flags & MIG_FSMOUNT_RW);
	if (r == -ENODEV && !strcmp(types[ti].type, "vfat"))
		r = fuse_fat(m, dev, flags & MIG_FSMOUNT_RW);
	if (r < 0) {
		mig_fsmount_close(m);
		return r;
	}
	*ret = m;
	return 0;
}

int mig_fsmount_open_flags(const char *path, uint64_t offset, uint64_t size, const char *fstype,
			   unsigned flags, struct mig_fsmount **ret)
{
	bool rw = flags & MIG_FSMOUNT_RW;
	struct mig_fsmount *m;
	char loopname[64];
	int ti = type_index(fstype), backing, r;

	if (ti < 0)
		return -EOPNOTSUPP;
	if (!(m = fsmount_new()))
		return -errno;
	backing = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (backing < 0) {
		r = -errno;
		goto fail;
	}
	r = loop_attach(backing, offset, size, rw, loopname, sizeof(loopname));
	close(backing);     /* the loop device holds its own reference */
	if (r < 0)
		goto fail;
	m->loop_fd = r;
	if ((r = mount_src(m, loopname, ti, rw)) == 0) {
		*ret = m;
		return 0;
	}
fail:
	mig_fsmount_close(m);
	return r;
}

const char *mig_fsmount_dir(const struct mig_fsmount *m)
{
	return m->dir;
}

int mig_fsmount_close(struct mig_fsmount *m)
{
	int r = 0;

	if (!m)
		return 0;
	if (m->mounted && umount2(m->dir, 0) < 0) {
		r = -errno;
		if (umount2(m->dir, MNT_DETACH) == 0)
			r = 0;
	}
	if (m->fuse_pid > 0) {
		/* unmounted: fusefat flushes and exits; wait for it */
		int status, t;
		for (t = 0; t < FUSE_WAIT_MS / 10 && waitpid(m->fuse_pid, &status, WNOHANG) != m->fuse_pid; t++)
			usleep(10000);
		if (t == FUSE_WAIT_MS / 10) {
			kill(m->fuse_pid, SIGKILL);
			waitpid(m->fuse_pid, NULL, 0);
			if (r == 0)
				r = -ETIMEDOUT;
		}
	}
	if (m->loop_fd >= 0) {
		/* AUTOCLEAR detaches it on close; clearing by hand covers the
		 * pre-5.8 path. EBUSY/ENXIO here just mean "already going". */
		ioctl(m->loop_fd, LOOP_CLR_FD, 0);
		close(m->loop_fd);
	}
	if (rmdir(m->dir) < 0 && r == 0 && errno != ENOENT)
		r = -errno;
	free(m);
	return r;
}
