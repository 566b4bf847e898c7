/* fatfs.h — a read-only FAT12/16/32 reader (with VFAT long names), for the
 * ESP when the kernel has no vfat driver, and so that verify never needs to
 * mount the ESP at all.
 *
 * Layout from Microsoft's "FAT: General Overview of On-Disk Format" (BPB,
 * cluster-count rule for the FAT type, long-name entries). Names are looked
 * up case-insensitively (ASCII), as the firmware and Windows do. All disk
 * access goes through the read callback (grubcore.h's mig_read_fn); the
 * bytes are untrusted: cluster chains are bounded, loops detected.
 */
#ifndef MIGRATOR_FATFS_H
#define MIGRATOR_FATFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grubcore.h"   /* mig_read_fn */

#define MIG_FAT_MAX_TABLE      (64u << 20)  /* bytes of FAT held in memory */
#define MIG_FAT_MAX_DIR_ENTRIES 65536
#define MIG_FAT_MAX_DEPTH      32

struct mig_fat;

struct mig_fat_entry {
	char name[256];     /* long name if any (UTF-8), else the 8.3 name */
	bool dir;
	uint32_t cluster;   /* first cluster; 0 = FAT12/16 root directory */
	uint32_t size;      /* bytes (files) */
};

/* Reads the boot sector and the FAT of the filesystem at [offset,
 * offset+size) of the disk behind read. Returns 0 and *ret; -EBADMSG if it
 * is no FAT filesystem; -EFBIG past MIG_FAT_MAX_TABLE; -ENOMEM; the
 * callback's -errno. */
int mig_fat_open(mig_read_fn read, void *ctx, uint64_t offset, uint64_t size, struct mig_fat **ret);
void mig_fat_close(struct mig_fat *fat);   /* accepts NULL */

/* Finds path ("EFI/BOOT/BOOTX64.EFI"; "" is the root directory), each
 * component case-insensitively. Returns 0 and *ret (with the on-disk names
 * in ret->name for the last component); -ENOENT; -ENOTDIR; -EBADMSG. */
int mig_fat_lookup(struct mig_fat *fat, const char *path, struct mig_fat_entry *ret);

/* Calls fn for each entry of directory dir (not "." and ".."); fn returns
 * non-zero to stop (that value is returned). Returns 0 or -errno. */
typedef int (*mig_fat_dir_fn)(const struct mig_fat_entry *e, void *data);
int mig_fat_list(struct mig_fat *fat, const struct mig_fat_entry *dir, mig_fat_dir_fn fn, void *data);

/* Reads a whole file of at most max bytes into a new NUL-terminated buffer.
 * Returns 0; -EISDIR; -EFBIG; -EBADMSG (chain shorter than the size). */
int mig_fat_read(struct mig_fat *fat, const struct mig_fat_entry *e, size_t max, uint8_t **ret,
		 size_t *ret_len);

#endif
