/* fsmount.h — a filesystem on a disk or image, mounted read-only for reading
 * (or, with mig_fsmount_open_flags(MIG_FSMOUNT_RW), read-write for patching).
 *
 * The area [offset, offset+size) of path (a block device or an image file)
 * gets its own loop device, configured read-only (LO_FLAGS_READ_ONLY, the
 * backing file opened O_RDONLY) with LOOP_CONFIGURE, and is mounted with
 * MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC and the option that skips journal
 * replay: "noload" (ext2/3/4), "norecovery,nouuid" (XFS), "nologreplay"
 * (btrfs). A journal that needs replay therefore stays unreplayed; nothing
 * is written to the disk. The mount point is a fresh directory under
 * $TMPDIR (or /tmp). Plain syscalls; no libmount, no udev.
 *
 * Ownership: mig_fsmount_close() unmounts, detaches the loop device and
 * removes the directory; call it on every path (it accepts NULL).
 */
#ifndef MIGRATOR_FSMOUNT_H
#define MIGRATOR_FSMOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mig_fsmount;

/* True for the filesystem types (blkid names) this module mounts:
 * ext2, ext3, ext4, xfs, btrfs, vfat. */
bool mig_fsmount_supported(const char *fstype);

/* Mounts the area read-only. Returns 0 and *ret; -EOPNOTSUPP for a type
 * mig_fsmount_supported() rejects; -EPERM without CAP_SYS_ADMIN; -ENODEV
 * if the kernel lacks the filesystem or loop support; other -errno from
 * open, ioctl or mount(2) (e.g. -EINVAL for a corrupt filesystem). */
int mig_fsmount_open(const char *path, uint64_t offset, uint64_t size, const char *fstype,
		     struct mig_fsmount **ret);

#define MIG_FSMOUNT_RW 1u   /* read-write: loop device and mount writable */

/* As mig_fsmount_open(), with flags. MIG_FSMOUNT_RW (for `migrator patch`,
 * which must write the installed system): the loop device is writable, the
 * mount is read-write without "noload"/"norecovery" (a journal is replayed,
 * as any read-write mount does), still MS_NOSUID|MS_NODEV, and executables
 * may run (chroot). Everything else as above. */
int mig_fsmount_open_flags(const char *path, uint64_t offset, uint64_t size, const char *fstype,
			   unsigned flags, struct mig_fsmount **ret);

/* Mounts the block device node dev itself (no loop device) with the
 * options above: for `migrator patch`'s chroot, whose tools (grub-probe)
 * must see the filesystem on a partition of its disk, and the ESP it
 * writes. For vfat on a kernel without it (-ENODEV), Debian's fusefat
 * (/usr/bin/fusefat, "-o rw+") serves the mount as a child process that
 * mig_fsmount_close() waits for after the unmount (so every write reached
 * dev). Same returns as mig_fsmount_open(). */
int mig_fsmount_open_dev(const char *dev, const char *fstype, unsigned flags, struct mig_fsmount **ret);

/* The mount point (absolute path) while mounted. */
const char *mig_fsmount_dir(const struct mig_fsmount *m);

/* Binds a free loop device to [offset, offset+size) of the file or block
 * device at path, read-write when rw, for tools that need a device of their
 * own (mkfs). Returns the loop device's fd (O_CLOEXEC, AUTOCLEAR: the kernel
 * detaches it when the last fd closes) and its path in name, or -errno. */
int mig_loop_attach(const char *path, uint64_t offset, uint64_t size, bool rw,
		    char *name, size_t namelen);

/* Unmounts (lazily if busy), detaches the loop device, removes the mount
 * point and frees m. Returns 0 or the first -errno met; m is freed either
 * way. */
int mig_fsmount_close(struct mig_fsmount *m);

#endif
