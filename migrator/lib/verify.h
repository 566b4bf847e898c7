/* verify.h — will this disk set boot? Read-only checks over an inventory.
 *
 * Runs every check the disks support and returns a list of results
 * {check id, subject, pass/warn/fail, one-line reason}:
 *
 *   bios.boot-img        sector 0: 55AA and GRUB's boot.img
 *   bios.bios-boot-part  GPT: a BIOS boot partition exists
 *   bios.core-img        diskboot.img at boot.img's LBA, its blocklists, the
 *                        core.img they load (complete, LZMA payload decodes)
 *   bios.core-location   core.img inside the BIOS boot partition (GPT) or the
 *                        gap before the first partition (MBR)
 *   bios.core-config     the config/prefix embedded in core.img
 *   uefi.esp             an ESP with a FAT filesystem
 *   uefi.fallback        EFI/BOOT/BOOTX64.EFI (NVRAM entries stay behind)
 *   uefi.shim            shim's siblings: grubx64.efi, mmx64.efi, fbx64.efi + CSV
 *   uefi.signature       Authenticode of BOOTX64.EFI (pe.h)
 *   boot.loader          some disk of the set carries a boot loader at all
 *   fs.mount             a filesystem that could not be read
 *   uuid.unique          a UUID/PARTUUID seen on more than one device
 *   ref                  one reference (fstab, crypttab, grub.cfg, core.img
 *                        config, /etc/default/grub, BLS, mdadm.conf, resume)
 *                        resolving to exactly one device
 *   kernel.initrd        every kernel in /boot has its initrd
 *   initrd.drivers       the storage drivers an initrd carries or the kernel
 *                        builds in, against the target bus
 *   boot.files           every linux/initrd path of grub.cfg and the BLS entries
 *                        exists on the filesystem GRUB looks in (its last
 *                        `search --fs-uuid`, else the config's own)
 *   boot.space           /boot free space >= 2x the largest initrd
 *   fs.immutable         immutable files (chattr +i) where a migration writes
 *   fs.ostree            an ostree deployment (its /boot is managed by ostree)
 *
 * Filesystems are mounted read-only without journal replay (fsmount.h) for
 * the duration of the run and always unmounted; nothing is written. Needs
 * CAP_SYS_ADMIN for the content checks; without it they fail with fs.mount.
 * Library code: never prints.
 */
#ifndef MIGRATOR_VERIFY_H
#define MIGRATOR_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"

#define MIG_VERIFY_MAX_RESULTS 8192
#define MIG_VERIFY_FILE_MAX    (4u << 20)   /* config files read at most */

enum mig_verdict { MIG_PASS, MIG_WARN, MIG_FAIL };

struct mig_check {
	char *id;          /* from the list above */
	char *subject;     /* what was checked: "disk.img", "disk.img1:/etc/fstab:3" ... */
	enum mig_verdict verdict;
	char *reason;      /* one line */
};

struct mig_verify_report {
	struct mig_check *v;
	size_t n;
	size_t count[3];   /* by verdict */
};

enum mig_bus { MIG_BUS_ANY, MIG_BUS_VIRTIO, MIG_BUS_NVME, MIG_BUS_XEN, MIG_BUS_HYPERV, MIG_BUS_SCSI };

/* Whether the drivers in have (MIG_DRV_* bits, initrd.h) let a kernel find
 * its disk on bus b: virtio needs virtio_pci and virtio_blk or virtio_scsi,
 * scsi means virtio-scsi. MIG_BUS_ANY: always true. Patch and verify share it. */
bool mig_bus_drivers_ok(enum mig_bus b, unsigned have);

struct mig_verify_opts {
	/* The target's disk bus: drivers missing for it fail. MIG_BUS_ANY:
	 * drivers missing for any bus warn. */
	enum mig_bus target_bus;
	/* Only the boot chains (bios.*, uefi.*, boot.loader): no references,
	 * kernels or initrds. For `migrator patch`, which asks whether to
	 * reinstall boot code. */
	bool boot_only;
};

/* Runs the checks over inv (from mig_inventory_scan). Returns 0 and a new
 * report in *ret_report (free with mig_verify_report_free), or -ENOMEM.
 * Problems found are results, not errors. */
int mig_verify_run(const struct mig_inventory *inv, const struct mig_verify_opts *opts,
		   struct mig_verify_report **ret_report);

void mig_verify_report_free(struct mig_verify_report *rep);

/* "pass", "warn", "fail". */
const char *mig_verdict_name(enum mig_verdict v);

/* "virtio", "nvme", "xen", "hyperv", "scsi" -> the enum; -EINVAL otherwise. */
int mig_bus_from_name(const char *name, enum mig_bus *ret);
const char *mig_bus_name(enum mig_bus bus);

#endif
