/* patch.h — make a migrated system bootable on its target: plan, then apply.
 *
 * mig_patch_plan() finds the installed system on the disks of an inventory
 * (a filesystem with etc/fstab and etc/os-release or usr/lib/os-release),
 * and any separate /boot (grub/grub.cfg, grub2/grub.cfg, loader/entries),
 * mounts each read-only (fsmount.h, nothing written), and computes the
 * list of changes, each {device, path, old text, new text or removal,
 * reason}, with the pure rewriters of rewrite.h:
 *
 *   refs     kernel device names (/dev/sda1, /dev/vdb2, /dev/nvme0n1p2,
 *            /dev/disk/by-id|by-path/...-partN) in fstab, crypttab,
 *            /etc/default/grub, grub.cfg, BLS entries and the resume
 *            setting -> UUID= of the partition's filesystem (or PARTUUID=
 *            when it has none). /dev/XdYN is partition N of the only disk
 *            given, or with several disks of the Y-th one (a=first) in the
 *            order given; /dev/nvmeXn1pN of the X-th (0=first); by-id and
 *            by-path links only with a single disk. References that already
 *            resolve (UUID=, LABEL=, ...) and names with no matching
 *            partition are left alone.
 *   grub     device.map removed (it pins BIOS drive numbers to old disks).
 *   network  70-persistent-net.rules removed; MAC matches in netplan,
 *            systemd .link/.network, ifcfg (HWADDR/MACADDR/LLADDR) and NM
 *            keyfiles commented out; with MIG_NET_DHCP, ifupdown, ifcfg and
 *            NM keyfiles switched to DHCP.
 *   sources  apt cdrom: entries commented out; yum/dnf repos on local media
 *            disabled.
 *   lvm      /etc/lvm/devices/system.devices removed when it names no disk
 *            of the inventory (the target's disks have other WWIDs).
 *
 * Files reached through a symlink are not touched (openat2
 * RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH): a foreign disk must not redirect a
 * write onto the rescue system.
 *
 * mig_patch_apply() remounts each filesystem that has changes read-write,
 * checks that every file still holds the planned old text, writes the
 * backup FILE.migrator-orig (kept if it exists: it holds the original from
 * the first run), then replaces the file atomically (fileio.h; owner and
 * SELinux label carried over) or, for a
 * removal, unlinks it (the backup is the original). A file with the
 * immutable attribute gets it cleared for the write and set again on the
 * new file. Every filesystem is unmounted on every path. A second plan
 * after an apply is empty: the rewrites are idempotent.
 *
 * Then, when the boot configuration changed, the system's own tools run in
 * a chroot of it (chroot.h), with its /boot and /boot/efi mounted as its
 * fstab says:
 *
 *   initramfs  with a target bus whose drivers an initrd in /boot lacks
 *              (initrd.h; /boot/initrd.img-V or /boot/initramfs-V.img on
 *              the root filesystem): the modules are added to
 *              /etc/initramfs-tools/modules and `update-initramfs -u -k all`
 *              runs, or (dracut) /etc/dracut.conf.d/90-migrator.conf is
 *              created with add_drivers+= and `dracut -f --regenerate-all`
 *              runs; refused (a skip) when /boot's free space is under
 *              twice the largest initrd.
 *   grub.cfg   `update-grub` (Debian/Ubuntu) or `grub2-mkconfig -o
 *              /boot/grub2/grub.cfg` (RHEL, SUSE), when fstab, GRUB's
 *              config or the initrd changed. The generated file must have a
 *              kernel entry and no root= by kernel device name; otherwise
 *              the previous grub.cfg (with the in-place rewrite) is put
 *              back and the step is "reverted". Without the tool, a skip
 *              says the in-place rewrite stands.
 *
 * The chroot sees the disks as the booted system will (patch-devs.c): each
 * disk opened read-write (an image file through a loop device), the
 * kernel's partition devices (added with BLKPG when it lacks them, removed
 * again after), the filesystems mounted from them, and a private /dev with
 * those nodes and udev's by-uuid, by-label, by-partuuid and by-partlabel
 * links (chroot.h): grub-mkconfig then writes root=UUID=.
 *
 *   boot-code  `grub-install --target=i386-pc DISK` (grub2-install on
 *              RHEL) when verify's BIOS chain (bios.*) fails on the disk
 *              holding / or /boot, or with reinstall_bootloader; DISK is
 *              that disk's node in the chroot. Needs the system's i386-pc
 *              GRUB; refused (a skip) on GPT without a BIOS boot partition.
 *              After the run, the BIOS chain is verified again (verified,
 *              verify_reason); still failing is a step error.
 *
 *   uefi-fallback  when verify's uefi.fallback fails because the ESP has no
 *              EFI/BOOT/BOOTX64.EFI: the vendor's shim (or, without shim,
 *              its grubx64.efi) copied there with shim's siblings, by
 *              migrator itself (patch-uefi.c); verified again after.
 *
 * Not done (reported in `skipped`): mkinitcpio, a separate /boot's initrds.
 *
 * Library code: never prints. Needs CAP_SYS_ADMIN (mounts).
 */
#ifndef MIGRATOR_PATCH_H
#define MIGRATOR_PATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "verify.h"

#define MIG_PATCH_FILE_MAX    (4u << 20)  /* files larger are not rewritten */
#define MIG_PATCH_MAX_CHANGES 4096
#define MIG_PATCH_DIR_MAX     512         /* entries read per config directory */
#define MIG_PATCH_BACKUP_SUFFIX ".migrator-orig"

enum mig_patch_network { MIG_NET_KEEP, MIG_NET_DHCP };

struct mig_patch_opts {
	enum mig_bus target_bus;            /* MIG_BUS_ANY: none given */
	enum mig_patch_network network;
	bool reinstall_bootloader;          /* BIOS boot code even when verify passes it */
};

enum mig_change_action { MIG_CHANGE_REWRITE, MIG_CHANGE_REMOVE, MIG_CHANGE_CREATE };

struct mig_change {
	char *device;        /* the filesystem's partition: "disk.img1", "/dev/vda2" */
	size_t disk, part;   /* index into inv->disks; partno (0: the whole disk) */
	char *path;          /* inside that filesystem, absolute: "/etc/fstab" */
	char *mount_path;    /* where the system mounts it: "/etc/fstab", "/boot/grub/grub.cfg" */
	enum mig_change_action action;
	char *old_text;
	size_t old_len;
	char *new_text;      /* NULL for MIG_CHANGE_REMOVE */
	size_t new_len;
	unsigned lines;      /* lines changed (rewrites) */
	char *reason;        /* one line */
	/* filled by mig_patch_apply() */
	bool applied;
	bool backup_kept;    /* FILE.migrator-orig existed and was kept */
	bool immutable;      /* had chattr +i: cleared for the write, then restored */
	int error;           /* -errno of a failed apply, else 0 */
};

struct mig_patch_skip {
	char *step;          /* "initrd", "grub.cfg", "boot-code", "uefi.fallback" */
	char *reason;
};

/* A program of the installed system run in a chroot (chroot.h) after the
 * file changes: update-grub / grub2-mkconfig -o, update-initramfs -u. */
struct mig_patch_step {
	char *name;          /* "initramfs", "grub.cfg" */
	char *argv[6];       /* argv[0] absolute inside the system */
	char *reason;
	/* filled by mig_patch_apply() */
	bool ran;
	int status;          /* exit status; -1 killed (timeout) */
	char *output;        /* its stdout+stderr, at most MIG_CHROOT_OUTPUT_MAX bytes */
	int error;           /* -errno (or -EIO for a non-zero exit), else 0 */
	bool reverted;       /* grub.cfg: the generated file was unusable (no kernel entry,
				or root= by kernel device name); the previous one was put back */
	size_t disk_arg;     /* 1 + the inventory disk whose device node (in the chroot)
				replaces the last argv at run time; 0: none */
	int verified;        /* boot-code, uefi-fallback: -1 not checked, 0 verify still
				fails, 1 passes */
	char *verify_reason; /* the first failing bios.* (uefi.*) check after the run */
	bool builtin;        /* done by migrator itself, not in the chroot (uefi-fallback:
				argv is "copy FROM TO" on the ESP) */
	size_t part_arg;     /* uefi-fallback: the ESP's partno on disk_arg */
};

#define MIG_PATCH_STEP_TIMEOUT 900   /* seconds per step (update-initramfs under TCG is slow) */

struct mig_patch_report {
	char *root_device;   /* the installed system's root filesystem */
	size_t root_disk, root_part;
	char *os_name;       /* PRETTY_NAME of os-release, or NULL */
	struct mig_change *v;
	size_t n;
	struct mig_patch_skip *skipped;
	size_t nskipped;
	struct mig_patch_step *steps;
	size_t nsteps;
	size_t applied, failed;          /* file changes */
	size_t steps_ok, steps_failed;   /* programs run */
};

/* Plans the changes for inv. Returns 0 and a new report (free with
 * mig_patch_report_free), -ENOENT when no installed system is found,
 * -EPERM without the right to mount, -ENOMEM, other -errno of reading. */
int mig_patch_plan(const struct mig_inventory *inv, const struct mig_patch_opts *opts,
		   struct mig_patch_report **ret_report);

/* Applies rep's changes (see above). Returns 0 when every change applied;
 * else the first -errno, with each change's error and the counts in rep. */
int mig_patch_apply(const struct mig_inventory *inv, struct mig_patch_report *rep);

void mig_patch_report_free(struct mig_patch_report *rep);

/* "rewrite", "remove", "create" (a new file: no backup; old_text is ""). */
const char *mig_change_action_name(enum mig_change_action a);

#endif
