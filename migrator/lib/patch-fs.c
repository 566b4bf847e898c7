/* patch-fs.c — see patch-int.h. */
#include "patch-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fsmount.h"

/* Opens rel beneath dirfd without following any symlink. */
int patch_open_beneath(int dirfd, const char *rel, int flags)
{
	/* openat2 refuses O_PATH with flags beyond O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return -ENOSYS;   /* before Linux 5.6: refuse rather than risk an escape */
	return fd < 0 ? -errno : (int)fd;
}

/* Reads rel (a regular file of at most max bytes). 0, -ENOENT, -EFBIG,
 * -ELOOP (reached through a symlink), -EINVAL (not a regular file). */
int patch_read_beneath(int dirfd, const char *rel, size_t max, char **ret, size_t *ret_len,
			mode_t *ret_mode)
{
	struct stat st;
	int fd = patch_open_beneath(dirfd, rel, O_RDONLY), r;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (k == 0 || (n += (size_t)k) == (size_t)st.st_size)
			break;
	}
	close(fd);
	buf[n] = 0;
	*ret = buf;
	*ret_len = n;
	if (ret_mode)
		*ret_mode = st.st_mode & 07777;
	return 0;
}

bool patch_exists_beneath(int root_fd, const char *rel)
{
	int fd = patch_open_beneath(root_fd, rel, O_PATH);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void fs_area(const struct mig_disk *d, const struct mig_part *p, uint64_t *off, uint64_t *size)
{
	*off = p ? p->start * d->log_sec : 0;
	*size = p ? p->sectors * d->log_sec : d->size;
}

const struct mig_fs *patch_fs_info(const struct pfs *f)
{
	return f->part ? &f->part->fs : &f->disk->fs;
}

void patch_fs_close(struct pfs *f)
{
	if (f->root_fd >= 0)
		close(f->root_fd);
	f->root_fd = -1;
	mig_fsmount_close(f->m);
	f->m = NULL;
}

int patch_fs_open(struct pfs *f, unsigned flags)
{
	uint64_t off, size;
	int r;

	fs_area(f->disk, f->part, &off, &size);
	r = mig_fsmount_open_flags(f->disk->path, off, size, patch_fs_info(f)->type, flags, &f->m);
	if (r < 0) {
		f->m = NULL;
		return r;
	}
	f->root_fd = open(mig_fsmount_dir(f->m), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0) {
		r = -errno;
		patch_fs_close(f);
	}
	return r;
}

int patch_fs_open_dev(struct pfs *f, const char *dev, unsigned flags)
{
	int r = mig_fsmount_open_dev(dev, patch_fs_info(f)->type, flags, &f->m);

	if (r < 0) {
		f->m = NULL;
		return r;
	}
	f->root_fd = open(mig_fsmount_dir(f->m), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0) {
		r = -errno;
		patch_fs_close(f);
	}
	return r;
}

/* Calls fn for each mountable (non-FAT) filesystem of inv. */
int patch_each_fs(const struct mig_inventory *inv, int (*fn)(struct pfs *f, void *data), void *data)
{
	for (size_t i = 0; i < inv->ndisks; i++) {
		const struct mig_disk *d = &inv->disks[i];
		size_t n = d->nparts ? d->nparts : 1;

		for (size_t j = 0; j < n; j++) {
			struct pfs f = { .disk = d, .part = d->nparts ? &d->parts[j] : NULL, .disk_idx = i,
					 .root_fd = -1 };
			const struct mig_fs *fs = patch_fs_info(&f);
			f.name = f.part ? f.part->path : d->path;
			if (fs->ambivalent || !mig_fsmount_supported(fs->type) || !strcmp(fs->type, "vfat"))
				continue;
			int r = fn(&f, data);
			if (r < 0)
				return r;
		}
	}
	return 0;
}
