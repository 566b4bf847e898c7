/* verify-int.h — what verify.c, verify-boot.c and verify-os.c share; not a
 * public interface. */
#ifndef MIGRATOR_VERIFY_INT_H
#define MIGRATOR_VERIFY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fatfs.h"
#include "fsmount.h"
#include "refs.h"
#include "verify.h"

/* One filesystem of the disk set, mounted for the run. */
struct vfs {
	const struct mig_disk *disk;
	const struct mig_part *part;    /* NULL: the whole disk */
	const struct mig_fs *fs;
	const char *name;               /* part->path or disk->path */
	struct mig_fsmount *m;          /* mounted (not FAT), or NULL */
	int root_fd;                    /* O_PATH of the mount point, or -1 */
	struct mig_fat *fat;            /* FAT, read without mounting, or NULL */
	int disk_fd;                    /* for fat, or -1 */
	bool is_root;                   /* has etc/fstab */
	bool is_esp;
	const char *boot_dir;           /* "boot", "" (a separate /boot), or NULL */
};

struct vctx {
	const struct mig_inventory *inv;
	const struct mig_verify_opts *opts;
	struct mig_verify_report *rep;
	struct vfs *fs;
	size_t nfs;
	struct mig_refs refs;
	int err;                        /* first -ENOMEM and the like; stops the run */
};

/* Appends a result; on failure records ctx->err. */
void vresult(struct vctx *c, const char *id, enum mig_verdict v, const char *subject,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A mig_read_fn on a disk fd passed as (void *)(intptr_t)fd. */
int vpread(void *ctx, uint64_t off, void *buf, size_t len);

/* True if f's contents can be read (mounted or FAT). */
bool vfs_readable(const struct vfs *f);

/* Opens rel (relative, resolved inside the filesystem: absolute symlinks
 * stay in it) read-only. Returns an fd or -errno. */
int vfs_open(const struct vfs *f, const char *rel, int flags);
/* Reads a whole file of at most max bytes (NUL-terminated). Returns 0,
 * -ENOENT, -EFBIG, -errno. */
int vfs_read(const struct vfs *f, const char *rel, size_t max, char **ret, size_t *ret_len);
bool vfs_exists(const struct vfs *f, const char *rel, bool dir);
/* Calls fn with each name in directory rel (not . and ..); stops when fn
 * returns non-zero. Returns 0 or -errno. */
int vfs_list(const struct vfs *f, const char *rel, int (*fn)(const char *name, bool dir, void *data),
	     void *data);
/* Case-insensitive lookup (FAT): writes the on-disk spelling of rel into
 * out. Returns 0 or -ENOENT. */
int vfs_find_nocase(const struct vfs *f, const char *rel, char *out, size_t outlen);

/* Adds the references text holds (parser fn) and records a read failure. */
typedef int (*vrefs_fn)(struct mig_refs *refs, const char *text, size_t len, const char *source);
void vrefs_from_file(struct vctx *c, const struct vfs *f, const char *rel, vrefs_fn fn);

void verify_bios(struct vctx *c, const struct mig_disk *d);
void verify_uefi(struct vctx *c, struct vfs *esp);
void verify_os(struct vctx *c);

#endif
