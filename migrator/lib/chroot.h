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
 *   - mounts into root: /dev (a recursive bind of the host's: loop devices
 *     for grub-probe), /proc and /sys (fresh), /run and /tmp (tmpfs), and
 *     each caller-given bind (e.g. the system's /boot and /boot/efi, which
 *     the caller mounted from the disk set);
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

/* Runs argv (argv[0] an absolute path inside root) in root. Returns 0 with
 * *ret_status (the wait status: WIFEXITED/WEXITSTATUS), *ret_output and
 * *ret_len (the output, NUL-terminated, caller frees); -ETIMEDOUT (output
 * and status still returned, the group was killed); -E2BIG past
 * MIG_CHROOT_MAX_BINDS; -ENOMEM; -errno of fork/pipe. A failure inside the
 * child before exec (a mount, the chroot, exec itself) is exit status 127
 * with the reason in the output. */
int mig_chroot_run(const char *root, const struct mig_chroot_bind *binds, size_t nbinds,
		   char *const argv[], unsigned timeout_s, int *ret_status, char **ret_output,
		   size_t *ret_len);

#endif
