/* inventory.h — what is on a machine's disks, read-only.
 *
 * For each disk (a block device or a raw disk image file): size and geometry,
 * sysfs facts, the partition table (libfdisk), signatures on the whole disk
 * and on every partition (libblkid), and the BIOS/UEFI boot facts visible at
 * the partition level. Every device is opened O_RDONLY; nothing is written.
 *
 * Ownership: a struct mig_inventory and everything under it is freed by
 * mig_inventory_free(); all strings are heap copies.
 */
#ifndef MIGRATOR_INVENTORY_H
#define MIGRATOR_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bootsect.h"
#include "diag.h"

#define MIG_MAX_DISKS       4096
#define MIG_MAX_PARTITIONS  1024
#define MIG_MAX_SIGNATURES  16
#define MIG_RESCUE_LABEL    "MIGRATOR"   /* volume/partition label of our own media */

#define MIG_GPT_TYPE_BIOS_BOOT "21686148-6449-6e6f-744e-656564454649"
#define MIG_GPT_TYPE_ESP       "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

/* What libblkid says about one area (a whole disk or a partition). */
struct mig_fs {
	char *type;             /* "ext4", "swap", "LVM2_member", ...; NULL if none or ambivalent */
	char *usage;            /* "filesystem", "raid", "crypto", "other" */
	char *uuid;
	char *uuid_sub;         /* e.g. the member UUID of an MD array */
	char *label;
	char *version;
	uint64_t size;          /* bytes, when libblkid knows it (FSSIZE); else 0 */
	uint32_t block_size;    /* BLOCK_SIZE, else 0 */
	/* More than one signature: ambivalent probe; every type seen is kept. */
	char *signatures[MIG_MAX_SIGNATURES];
	size_t nsignatures;
	bool ambivalent;
};

struct mig_part {
	size_t partno;          /* 1-based, as in /dev/sda1 */
	char *path;             /* /dev/sda1, /dev/nvme0n1p1, or disk.img1 for images */
	uint64_t start;         /* in sectors of the disk's logical sector size */
	uint64_t sectors;
	char *type;             /* lowercase GPT type GUID, or "0x83" */
	char *type_name;        /* libfdisk's name of the type, or NULL */
	char *uuid;             /* PARTUUID (GPT entry GUID, or MBR "xxxxxxxx-NN") */
	char *name;             /* GPT partition name (PARTLABEL) */
	char *attrs;            /* GPT attribute names as libfdisk prints them */
	bool bootable;          /* MBR active flag */
	bool legacy_bios_bootable; /* GPT attribute bit 2 */
	bool container;         /* MBR extended partition */
	struct mig_fs fs;
	struct mig_diags diags;
};

struct mig_boot {
	struct mig_bootsect mbr;   /* sector 0 */
	bool hybrid_mbr;
	size_t bios_boot_partno;   /* 0 = none */
	size_t esp_partno;         /* 0 = none */
};

struct mig_disk {
	char *name;             /* "vda", or the image's file name */
	char *path;
	bool is_image;
	uint64_t size;          /* bytes */
	unsigned log_sec, phy_sec;
	char *model, *serial;   /* NULL when sysfs does not have them */
	int rotational, removable, read_only;   /* -1 unknown */
	bool rescue_medium;     /* holds our own boot media (label MIGRATOR) */
	char *pttype;           /* "gpt", "dos", or NULL */
	char *ptuuid;           /* lowercase GPT disk GUID or MBR signature "1234abcd" */
	struct mig_fs fs;       /* signatures on the whole disk */
	struct mig_boot boot;
	struct mig_part *parts;
	size_t nparts;
	struct mig_diags diags;
};

struct mig_inventory {
	bool uefi;              /* the running machine booted by UEFI */
	struct mig_disk *disks;
	size_t ndisks;
	struct mig_diags diags; /* findings across disks (duplicate UUIDs ...) */
};

/* Probes one disk or image at path, read-only. Returns 0 and a new disk in
 * *ret_disk, or -errno: -ENOENT, -EISDIR (a directory), -ENODATA (zero length),
 * -ENOTBLK (neither block device nor regular file), -EIO and friends from
 * reading. Problems inside a readable disk (corrupt GPT header, ambivalent
 * signatures, partitions past the end) are diags, not errors. */
int mig_disk_probe(const char *path, struct mig_disk **ret_disk);

/* Frees the disk's members and the disk itself. Accepts NULL. */
void mig_disk_free(struct mig_disk *d);
void mig_disk_clear(struct mig_disk *d);   /* members only */

/* Lists the whole disks of this machine from sysfs_block (normally
 * "/sys/block"): skips ram, zram and loop devices and devices of size 0.
 * Returns the count and a NULL-terminated array of /dev paths in *ret_paths
 * (free with mig_strv_free), or -errno. */
int mig_list_disks(const char *sysfs_block, char ***ret_paths);
void mig_strv_free(char **v);

/* Fills an inventory by probing every path. A path that cannot be probed is
 * reported through on_error (if given) and skipped; the count of such paths
 * is returned (>= 0), or -errno (e.g. -ENOMEM) if the inventory itself
 * failed. Then runs the readiness checks (readiness.h). */
typedef void (*mig_probe_error_fn)(const char *path, int err, void *userdata);
int mig_inventory_scan(char *const *paths, size_t npaths, mig_probe_error_fn on_error,
		       void *userdata, struct mig_inventory **ret_inv);

void mig_inventory_free(struct mig_inventory *inv);

#endif
