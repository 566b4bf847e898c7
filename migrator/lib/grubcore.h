/* grubcore.h — GRUB's BIOS boot chain after sector 0: diskboot.img, its
 * blocklists, and the core.img they load, down to the config and prefix
 * grub-install embedded in it.
 *
 * Layout (GRUB 2.x, i386-pc; see GRUB's include/grub/offsets.h,
 * grub-core/boot/i386/pc/{diskboot,startup_raw}.S and util/setup.c):
 *   - boot.img's 8-byte LBA at 0x5C names the first sector of core.img,
 *     which is diskboot.img. Its last 12 bytes (0x1F4) are the first
 *     blocklist {u64 start LBA, u16 sectors, u16 segment}; further lists
 *     grow downwards, 12 bytes each, until one with 0 sectors. They name
 *     the rest of core.img (first segment 0x820).
 *   - The rest begins with lzma_decompress.img: u32 compressed size at
 *     0x08, u32 uncompressed size at 0x0C, u32 Reed-Solomon redundancy at
 *     0x10 (bytes of parity appended after core.img by grub-setup). Then
 *     the kernel as a raw LZMA stream (lc=3 lp=0 pb=2, no header, no end
 *     mark) ending where core.img ends.
 *   - The decompressed kernel carries a module area: "mimg" magic, offset,
 *     size; then modules {u32 type, u32 size incl. header}; type 2 is the
 *     embedded config, type 3 the prefix. x86_64-efi images use the 64-bit
 *     form of the same area, uncompressed, inside the PE file.
 *
 * Pure: all disk access goes through a read callback, so the parser runs
 * on images, devices and fuzzer input alike. Nothing is written.
 */
#ifndef MIGRATOR_GRUBCORE_H
#define MIGRATOR_GRUBCORE_H

#include <stddef.h>
#include <stdint.h>

#define MIG_GRUB_MAX_BLOCKLISTS   32           /* diskboot's sector has room for ~40 */
#define MIG_GRUB_CORE_MAX_SECTORS 2048         /* 1 MiB: GRUB caps core.img at 888 sectors */
#define MIG_GRUB_UNCOMPRESSED_MAX (4u << 20)
#define MIG_GRUB_MODULES_MAX      4096
#define MIG_GRUB_STRING_MAX       (64u << 10)  /* embedded config or prefix */

/* Reads len bytes at byte offset off of the disk into buf. Returns 0 or
 * -errno (short reads are the callback's to turn into -EIO). */
typedef int (*mig_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

enum mig_grub_core_status {
	MIG_GRUB_CORE_OK,
	MIG_GRUB_CORE_NO_DISKBOOT,    /* the LBA is past the disk, or its sector is not diskboot.img */
	MIG_GRUB_CORE_BAD_BLOCKLIST,  /* no list, too many, or one past the end of the disk */
	MIG_GRUB_CORE_INCOMPLETE,     /* the lists load less than the core.img they describe */
	MIG_GRUB_CORE_BAD_PAYLOAD,    /* the LZMA stream does not decode, or has no module area */
};

struct mig_grub_blocklist {
	uint64_t start;     /* LBA */
	uint16_t len;       /* sectors */
	uint16_t segment;   /* real-mode load segment */
};

struct mig_grub_core {
	enum mig_grub_core_status status;
	char reason[256];               /* one line when status != OK */
	uint64_t diskboot_lba;
	struct mig_grub_blocklist lists[MIG_GRUB_MAX_BLOCKLISTS];
	size_t nlists;
	uint64_t sectors;               /* diskboot plus every listed sector */
	uint32_t compressed_size, uncompressed_size, rs_redundancy;
	uint32_t payload_offset;        /* of the LZMA stream, from the start of sector 1 */
	char *config;                   /* embedded config (load.cfg), or NULL */
	char *prefix;                   /* embedded prefix, or NULL */
};

/* Follows the chain from diskboot_lba on a disk of disk_sectors 512-byte
 * sectors. Returns 0 and fills *ret (also when the chain is broken: then
 * ret->status says where and ret->reason why); -ENOMEM; or the callback's
 * -errno. Free with mig_grub_core_clear(). */
int mig_grub_core_read(uint64_t diskboot_lba, uint64_t disk_sectors, mig_read_fn read,
		       void *ctx, struct mig_grub_core *ret);

void mig_grub_core_clear(struct mig_grub_core *c);

/* Finds GRUB's module area in buf (a decompressed i386-pc kernel, or a
 * whole x86_64-efi/i386-efi core image) and copies out the embedded config
 * and prefix (each NULL when absent). Returns 0; -ENOENT if there is no
 * valid module area; -ENOMEM. */
int mig_grub_modules_find(const uint8_t *buf, size_t len, char **ret_config, char **ret_prefix);

#endif
