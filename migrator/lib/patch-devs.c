/* patch-devs.c — the disk set as block devices for the chroot: see
 * patch-int.h.
 *
 * Why: the system's own tools see the disks the way the booted system
 * will. grub-mkconfig writes root=UUID= only when /dev/disk/by-uuid/UUID
 * exists; 10_linux gives up on a root on /dev/loop[0-9] backed by a file;
 * grub-install must find /boot/grub on a partition of the disk it installs
 * to. So the filesystems are mounted from the kernel's partition devices
 * (vda2, or loop3p2 of a loop device over an image file), which the chroot
 * gets as nodes with the links udev would have made. */
#include "patch-int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fsmount.h"

/* udev's encoding of a label in a link name: anything outside
 * [0-9A-Za-z#+-.:=@_] (and bytes of UTF-8 sequences) as \xHH. */
static int udev_encode(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("#+-.:=@_", c) || c >= 0x80) {
			if (n + 2 > len)
				return -ENAMETOOLONG;
			out[n++] = (char)c;
		} else {
			if (n + 5 > len)
				return -ENAMETOOLONG;
			n += (size_t)snprintf(out + n, len - n, "\\x%02x", c);
		}
	}
	out[n] = 0;
	return n ? 0 : -EINVAL;
}

static unsigned long long read_ull(const char *dir, const char *name, int *err)
{
	char p[512], buf[64];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		*err = -ENOENT;
		return 0;
	}
	buf[n] = 0;
	return strtoull(buf, NULL, 10);
}

/* The kernel's partition partno of the disk at sysdir: its name and dev. */
static int find_kpart(const char *sysdir, size_t partno, char *name, size_t namelen, unsigned *maj,
		      unsigned *min, unsigned long long *start, unsigned long long *size)
{
	DIR *d = opendir(sysdir);
	struct dirent *e;
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && r == -ENOENT) {
		char sub[512], devs[64];
		int err = 0;
		if (e->d_name[0] == '.' || strlen(e->d_name) >= namelen)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", sysdir, e->d_name);
		if (read_ull(sub, "partition", &err) != partno || err)
			continue;
		*start = read_ull(sub, "start", &err);
		*size = read_ull(sub, "size", &err);
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "/dev");
		int fd = open(sub, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, devs, sizeof(devs) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0 || err)
			continue;
		devs[n] = 0;
		if (sscanf(devs, "%u:%u", maj, min) != 2)
			continue;
		memcpy(name, e->d_name, strlen(e->d_name) + 1);   /* fits: checked above */
		r = 0;
	}
	closedir(d);
	return r;
}

/* /dev/NAME on the host, as devtmpfs makes it (asynchronously) or, without
 * devtmpfs, made here. Returns 1 when made here, 0 when present, -errno. */
static int host_node(const char *name, unsigned maj, unsigned min)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/dev/%s", name);
	for (int i = 0; i < 100; i++) {
		if (stat(p, &st) == 0)
			return S_ISBLK(st.st_mode) && st.st_rdev == makedev(maj, min) ? 0 : -EEXIST;
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (mknod(p, S_IFBLK | 0600, makedev(maj, min)) < 0)
		return errno == EEXIST ? 0 : -errno;
	return 1;
}

static int add_dev(struct patch_devs *s, const char *name, unsigned maj, unsigned min,
		   const struct mig_fs *fs, const struct mig_part *p)
{
	struct mig_chroot_dev *v, *dv;
	char enc[400];
	size_t k = 0;

	if (s->ndevs >= MIG_CHROOT_MAX_DEVS)
		return -E2BIG;
	if (!(v = realloc(s->devs, (s->ndevs + 1) * sizeof(*v))))
		return -ENOMEM;
	s->devs = v;
	dv = &v[s->ndevs++];
	memset(dv, 0, sizeof(*dv));
	snprintf(dv->name, sizeof(dv->name), "%s", name);
	dv->major = maj;
	dv->minor = min;
	if (fs && fs->uuid && udev_encode(fs->uuid, enc, sizeof(enc)) == 0 &&
	    asprintf(&dv->links[k], "disk/by-uuid/%s", enc) > 0)
		k++;
	if (fs && fs->label && udev_encode(fs->label, enc, sizeof(enc)) == 0 &&
	    asprintf(&dv->links[k], "disk/by-label/%s", enc) > 0)
		k++;
	if (p && p->uuid && udev_encode(p->uuid, enc, sizeof(enc)) == 0 &&
	    asprintf(&dv->links[k], "disk/by-partuuid/%s", enc) > 0)
		k++;
	if (p && p->name && udev_encode(p->name, enc, sizeof(enc)) == 0 &&
	    asprintf(&dv->links[k], "disk/by-partlabel/%s", enc) > 0)
		k++;
	return 0;
}

/* The kernel partition for p on disk dd (added with BLKPG when the kernel
 * lacks it), its host node, and its chroot node with links. */
static int open_part(struct patch_devs *s, struct patch_devdisk *dd, const struct mig_disk *d,
		     const struct mig_part *p, const char *sysdir)
{
	char name[32];
	unsigned maj, min;
	unsigned long long start, size;
	uint64_t want_start = p->start * d->log_sec / 512, want_size = p->sectors * d->log_sec / 512;
	int r = find_kpart(sysdir, p->partno, name, sizeof(name), &maj, &min, &start, &size);

	if ((r == -ENOENT || (r == 0 && (start != want_start || size != want_size))) && !dd->reread) {
		/* a real disk whose table was written after the kernel read it
		 * (receive): let the kernel read it again, once; refused while a
		 * partition is in use, and by a loop device without partscan */
		dd->reread = true;
		if (ioctl(dd->fd, BLKRRPART) == 0)
			r = find_kpart(sysdir, p->partno, name, sizeof(name), &maj, &min, &start, &size);
	}
	if (r == -ENOENT) {
		struct blkpg_partition bp = {
			.start = (long long)(p->start * d->log_sec), .length = (long long)(p->sectors * d->log_sec),
			.pno = (int)p->partno,
		};
		struct blkpg_ioctl_arg a = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof(bp), .data = &bp };
		if (dd->nadded >= PATCH_DEVS_MAX_ADDED)
			return -E2BIG;
		if (ioctl(dd->fd, BLKPG, &a) < 0)
			return -errno;
		dd->added[dd->nadded++] = p->partno;
		r = find_kpart(sysdir, p->partno, name, sizeof(name), &maj, &min, &start, &size);
	}
	if (r < 0)
		return r;
	if (start != want_start || size != want_size)
		return -ESTALE;   /* the kernel still knows an older partition table */
	if ((r = host_node(name, maj, min)) < 0)
		return r;
	if (r == 1 && dd->nmade < PATCH_DEVS_MAX_ADDED)
		snprintf(dd->made[dd->nmade++], sizeof(dd->made[0]), "%s", name);
	return add_dev(s, name, maj, min, &p->fs, p);
}

int patch_devs_open(const struct mig_inventory *inv, struct patch_devs *ret, char *why, size_t whylen)
{
	struct patch_devs s = { 0 };
	int r = 0;

	if (!(s.disks = calloc(inv->ndisks ? inv->ndisks : 1, sizeof(*s.disks))))
		return -ENOMEM;
	for (size_t i = 0; i < inv->ndisks; i++)
		s.disks[i].fd = -1;
	s.ndisks = inv->ndisks;
	for (size_t i = 0; i < inv->ndisks && r == 0; i++) {
		const struct mig_disk *d = &inv->disks[i];
		struct patch_devdisk *dd = &s.disks[i];
		char loop[64], sysdir[128], link[512];
		struct stat st;

		if (d->is_image) {
			r = mig_loop_attach(d->path, 0, 0, true, loop, sizeof(loop));   /* 0, 0: the whole image */
		} else {
			r = open(d->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
			r = r < 0 ? -errno : r;
		}
		if (r < 0) {
			snprintf(why, whylen, "%s: cannot open read-write%s: %s", d->path,
				 d->is_image ? " on a loop device" : "", strerror(-r));
			break;
		}
		dd->fd = r;
		r = 0;
		if (fstat(dd->fd, &st) < 0 || !S_ISBLK(st.st_mode)) {
			r = -ENOTBLK;
			snprintf(why, whylen, "%s: not a block device", d->path);
			break;
		}
		dd->major = major(st.st_rdev);
		dd->minor = minor(st.st_rdev);
		snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u", dd->major, dd->minor);
		ssize_t n = readlink(sysdir, link, sizeof(link) - 1);
		if (n <= 0) {
			r = -ENOENT;
			snprintf(why, whylen, "%s: not in /sys/dev/block", d->path);
			break;
		}
		link[n] = 0;
		const char *base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
		if (strlen(base) >= sizeof(dd->name)) {
			r = -ENAMETOOLONG;
			snprintf(why, whylen, "%s: kernel name too long", d->path);
			break;
		}
		memcpy(dd->name, base, strlen(base) + 1);
		if ((r = host_node(dd->name, dd->major, dd->minor)) < 0) {
			snprintf(why, whylen, "/dev/%s: %s", dd->name, strerror(-r));
			break;
		}
		if (r == 1)
			snprintf(dd->made[dd->nmade++], sizeof(dd->made[0]), "%s", dd->name);
		r = add_dev(&s, dd->name, dd->major, dd->minor, d->nparts ? NULL : &d->fs, NULL);
		for (size_t j = 0; j < d->nparts && r == 0; j++) {
			if (d->parts[j].container)
				continue;
			r = open_part(&s, dd, d, &d->parts[j], sysdir);
			if (r < 0)
				snprintf(why, whylen, "%s: partition %zu: %s", d->path, d->parts[j].partno,
					 r == -ESTALE ? "the kernel knows it with another start or size "
					 "(re-read the partition table)" : strerror(-r));
		}
		if (r < 0 && !why[0])
			snprintf(why, whylen, "%s: %s", d->path, strerror(-r));
	}
	if (r < 0) {
		patch_devs_close(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int patch_devs_node(const struct patch_devs *s, size_t disk, size_t partno, char *out, size_t len)
{
	if (disk >= s->ndisks || s->disks[disk].fd < 0)
		return -ENOENT;
	if (partno == 0) {
		snprintf(out, len, "/dev/%s", s->disks[disk].name);
		return 0;
	}
	char sysdir[64], name[32];
	unsigned maj, min;
	unsigned long long start, size;
	snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u", s->disks[disk].major, s->disks[disk].minor);
	int r = find_kpart(sysdir, partno, name, sizeof(name), &maj, &min, &start, &size);
	if (r == 0)
		snprintf(out, len, "/dev/%s", name);
	return r;
}

void patch_devs_close(struct patch_devs *s)
{
	for (size_t i = 0; i < s->ndisks; i++) {
		struct patch_devdisk *dd = &s->disks[i];
		/* partitions added here go again: a loop device's would outlive
		 * its detach, a real disk's stay as the kernel had them */
		for (size_t k = dd->nadded; k-- > 0;) {
			struct blkpg_partition bp = { .pno = (int)dd->added[k] };
			struct blkpg_ioctl_arg a = { .op = BLKPG_DEL_PARTITION, .datalen = sizeof(bp), .data = &bp };
			ioctl(dd->fd, BLKPG, &a);
		}
		for (size_t k = 0; k < dd->nmade; k++) {
			char p[64];
			snprintf(p, sizeof(p), "/dev/%s", dd->made[k]);
			unlink(p);
		}
		if (dd->fd >= 0) {
			fsync(dd->fd);
			close(dd->fd);
		}
	}
	free(s->disks);
	for (size_t i = 0; i < s->ndevs; i++)
		for (size_t k = 0; k < MIG_CHROOT_DEV_LINKS; k++)
			free(s->devs[i].links[k]);
	free(s->devs);
	memset(s, 0, sizeof(*s));
}
