/* patch-int.h — what patch.c, patch-fs.c, patch-devmap.c and patch-steps.c
 * share; not a public interface (patch.h is).
 *
 *   patch.c         the plan (which files change, how) and its application
 *                   (backups, atomic replacement, immutable attributes)
 *   patch-fs.c      the disk set's filesystems, mounted one at a time, and
 *                   file access inside them that never follows a symlink
 *   patch-devmap.c  kernel device names -> UUID=/PARTUUID= by the disk layout
 *   patch-steps.c   the system's own tools run in a chroot: initrd drivers
 *                   (update-initramfs, dracut), grub.cfg (update-grub,
 *                   grub2-mkconfig), BIOS boot code (grub-install)
 *   patch-devs.c    the disk set as block devices for that chroot: disks,
 *                   kernel partition devices, udev's by-* links
 *   patch-uefi.c    the UEFI fallback loader copied on the ESP
 */
#ifndef MIGRATOR_PATCH_INT_H
#define MIGRATOR_PATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chroot.h"
#include "fsmount.h"
#include "inventory.h"
#include "patch.h"

/* One filesystem of the disk set while planning. */
struct pfs {
	const struct mig_disk *disk;
	const struct mig_part *part;   /* NULL: the whole disk */
	size_t disk_idx;
	const char *name;
	struct mig_fsmount *m;
	int root_fd;
};

struct pctx {
	const struct mig_inventory *inv;
	const struct mig_patch_opts *opts;
	struct mig_patch_report *rep;
	struct pfs *f;                 /* the one being planned */
	const char *mount_prefix;      /* "" for the root filesystem, "/boot" for a separate /boot */
	bool boot_changed;             /* a change that grub.cfg or the initrd depend on */
	/* found while planning, for the boot code */
	const char *grub_install;      /* the system's grub-install for i386-pc, or NULL */
	size_t boot_disk;              /* the disk of /boot (or /), in inv */
	bool have_root;
};

/* --- patch-fs.c --- */

/* openat2 beneath dirfd with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_XDEV: an fd or -errno (-ELOOP/-EXDEV through a symlink,
 * -ENOSYS before Linux 5.6: refused rather than risk an escape). */
int patch_open_beneath(int dirfd, const char *rel, int flags);
/* Reads rel (a regular file of at most max bytes) that way: 0, -ENOENT,
 * -EFBIG, -ELOOP, -EINVAL (not a regular file), -errno. ret_mode may be NULL. */
int patch_read_beneath(int dirfd, const char *rel, size_t max, char **ret, size_t *ret_len,
		       mode_t *ret_mode);
bool patch_exists_beneath(int root_fd, const char *rel);
/* The blkid facts of f's area. */
const struct mig_fs *patch_fs_info(const struct pfs *f);
/* Mounts f (fsmount.h flags: 0 read-only, MIG_FSMOUNT_RW) and opens its
 * root_fd. 0 or -errno; patch_fs_close() undoes it (and accepts a closed f). */
int patch_fs_open(struct pfs *f, unsigned flags);
void patch_fs_close(struct pfs *f);
/* Calls fn with each mountable non-FAT filesystem of inv (not mounted);
 * stops at fn's first -errno. */
int patch_each_fs(const struct mig_inventory *inv, int (*fn)(struct pfs *f, void *data), void *data);

/* --- patch-devmap.c --- */

/* A mig_devmap_fn (rewrite.h) over data = the inventory; see patch.h. */
int patch_devmap(const char *spec, char **ret_new, void *data);
/* The partition an fstab spec (UUID=, PARTUUID=, LABEL=, a device name)
 * names on inv; fills *ret (not mounted). */
bool patch_find_fs(const struct mig_inventory *inv, const char *spec, struct pfs *ret);

/* Mounts f from the block device node dev (patch-devs.c) and opens its
 * root_fd; as patch_fs_open(). */
int patch_fs_open_dev(struct pfs *f, const char *dev, unsigned flags);

/* --- patch-devs.c --- */

#define PATCH_DEVS_MAX_ADDED 128

struct patch_devdisk {
	int fd;                /* the whole disk, O_RDWR (a loop device over an image file); -1 */
	char name[32];         /* its kernel name: "vda", "loop3" */
	unsigned major, minor;
	size_t added[PATCH_DEVS_MAX_ADDED];   /* partnos added with BLKPG (deleted on close) */
	size_t nadded;
	char made[PATCH_DEVS_MAX_ADDED][32];  /* host /dev nodes made here (no devtmpfs) */
	size_t nmade;
	bool reread;           /* BLKRRPART tried */
};

/* The disk set as block devices, for the chroot (chroot.h). */
struct patch_devs {
	struct patch_devdisk *disks;   /* one per inventory disk, same order */
	size_t ndisks;
	struct mig_chroot_dev *devs;   /* disks and partitions, with by-uuid, by-label,
					  by-partuuid and by-partlabel links */
	size_t ndevs;
};

/* Opens every disk of inv read-write (an image file through a new loop
 * device), makes sure the kernel has a partition device for each partition
 * of the inventory (first BLKRRPART, once per disk, when one is missing or
 * differs; then BLKPG_ADD_PARTITION when it has none; -ESTALE when it still
 * knows another start or size) and that /dev has its node, and lists them
 * with udev's links. Returns 0 and *ret (close with patch_devs_close), or
 * -errno with a one-line reason in why. */
int patch_devs_open(const struct mig_inventory *inv, struct patch_devs *ret, char *why, size_t whylen);
/* "/dev/NAME" of partition partno (0: the disk) of inventory disk i. */
int patch_devs_node(const struct patch_devs *s, size_t disk, size_t partno, char *out, size_t len);
/* Deletes the partitions it added and the nodes it made, closes the disks
 * (fsynced first). Accepts a zeroed s. */
void patch_devs_close(struct patch_devs *s);

/* --- patch.c: the report --- */

int patch_add_skip(struct mig_patch_report *rep, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes ownership of old/new (freed on failure). */
int patch_add_change(struct pctx *c, const char *rel, enum mig_change_action action, char *old,
		     size_t old_len, char *new, size_t new_len, unsigned lines, const char *reason);

/* --- patch-steps.c --- */

int patch_add_step(struct mig_patch_report *rep, const char *name, const char *const *argv,
		   const char *reason);
/* Plans the initrd drivers for the target bus (changes + a step, or a skip). */
int patch_plan_initramfs(struct pctx *c);
/* Plans grub.cfg regeneration when c->boot_changed. */
int patch_plan_grub_mkconfig(struct pctx *c);
/* Plans grub-install for i386-pc (see patch.h), after every filesystem was
 * planned: runs verify's boot chains (read-only). */
int patch_plan_boot_code(struct pctx *c);
/* --- patch-uefi.c --- */

/* Plans the UEFI fallback loader for each ESP whose uefi.fallback fails in
 * vr (a step, or a skip). */
int patch_plan_uefi(struct pctx *c, const struct mig_verify_report *vr);
/* Runs a uefi-fallback step: the ESP mounted read-write from its device in
 * devs, the files copied. 0 or -errno; *ret_output lists what was made. */
int patch_run_uefi(const struct patch_devs *devs, struct mig_patch_step *st, char **ret_output);

/* After the steps ran and everything is unmounted: verifies the BIOS chain
 * again for each boot-code step that ran. The first -errno, else 0. */
int patch_reverify_boot_code(const struct mig_inventory *inv, struct mig_patch_report *rep);
/* Runs the planned steps (see patch.h); the first -errno, else 0. */
int patch_run_steps(const struct mig_inventory *inv, struct mig_patch_report *rep);
/* Marks every step not run as failed with err and why. */
void patch_fail_steps(struct mig_patch_report *rep, int err, const char *why);

#endif
