/* chroot.h — run one of an installed system's own programs inside it.
 *
 * `migrator patch` regenerates grub.cfg and the initrd with the tools the
 * migrated system ships (update-grub, update-initramfs, dracut), because
 * only they know its configuration. mig_chroot_run() forks a child that
 *
 *   - gets its own mount namespace (unshare CLONE_NEWNS, everything made
 *     private), so every mount below exists only for the child and its
 *     descendants and vanishes when the last of them exits: the cleanup
 *     cannot be forgotten on any path, even if we are killed;
 *   - mounts into root: a private /dev (tmpfs: null, zero, full, random,
 *     urandom, tty, fd, stdin/out/err, shm, pts, and only the block devices
 *     the caller gives, with the udev-style links it names, such as
 *     disk/by-uuid/UUID -> ../../vda2: grub-mkconfig writes root=UUID=
 *     only when /dev/disk/by-uuid/UUID exists, and the rescue has no udev;
 *     the host's other disks stay invisible to grub-probe and os-prober),
 *     /proc and /sys (fresh), /run and /tmp (tmpfs), and each caller-given
 *     bind (e.g. the system's /boot and /boot/efi, which the caller
 *     mounted from the disk set);
 *   - chroots into root and runs argv with a fixed environment (PATH,
 *     LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive), stdin /dev/null,
 *     stdout and stderr into one pipe, in its own process group.
 *
 * The parent collects the output (the first MIG_CHROOT_OUTPUT_MAX bytes)
 * and kills the whole process group once timeout_s has passed.
 *
 * The programs run as root on the migrated system's own binaries: that is
 * the point, and why patch only does this on the disks it was told to
 * patch. Library code: never prints. Needs CAP_SYS_ADMIN.
 */
#ifndef MIGRATOR_CHROOT_H
#define MIGRATOR_CHROOT_H

#include <stddef.h>

#define MIG_CHROOT_OUTPUT_MAX (64u << 10)
#define MIG_CHROOT_MAX_BINDS  8

struct mig_chroot_bind {
	const char *source;   /* a host directory (e.g. a mig_fsmount_dir()) */
	const char *target;   /* inside root, absolute: "/boot", "/boot/efi" */
};

#define MIG_CHROOT_MAX_DEVS  128
#define MIG_CHROOT_DEV_LINKS 4

/* A block device node of the private /dev. A filesystem the caller mounted
 * and binds in should be mounted from /dev/NAME on the host, so that
 * /proc/self/mountinfo names a node that exists inside (grub-probe). */
struct mig_chroot_dev {
	char name[32];        /* the node: /dev/NAME ("vda", "loop3p1"); no '/' */
	unsigned major, minor;
	char *links[MIG_CHROOT_DEV_LINKS];   /* relative to /dev: "disk/by-uuid/UUID"; NULL ends */
};

/* Runs argv (argv[0] an absolute path inside root) in root, with the block
 * devices devs (may be NULL) in its /dev. Returns 0 with *ret_status (the
 * wait status: WIFEXITED/WEXITSTATUS), *ret_output and *ret_len (the
 * output, NUL-terminated, caller frees); -ETIMEDOUT (output and status
 * still returned, the group was killed); -E2BIG past MIG_CHROOT_MAX_BINDS
 * or MIG_CHROOT_MAX_DEVS; -EINVAL for a node name with '/' or a link with
 * ".."; -ENOMEM; -errno of fork/pipe. A failure inside the child before
 * exec (a mount, a node, the chroot, exec itself) is exit status 127 with
 * the reason in the output. A link whose name is taken (two devices with
 * one UUID) keeps the first device. */
int mig_chroot_run(const char *root, const struct mig_chroot_bind *binds, size_t nbinds,
		   const struct mig_chroot_dev *devs, size_t ndevs, char *const argv[], unsigned timeout_s,
		   int *ret_status, char **ret_output, size_t *ret_len);

#endif
