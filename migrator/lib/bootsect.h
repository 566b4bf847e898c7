/* bootsect.h — sector 0 of a disk: MBR partition entries and BIOS boot code.
 *
 * Pure functions on bytes; no I/O. What GRUB's boot.img looks like comes from
 * GRUB's include/grub/i386/pc/boot.h: the 8-byte little-endian LBA of the first
 * sector of core.img (diskboot.img) at 0x5C, and the message "GRUB " at 0x180
 * (issue 4 adds diskboot/core.img parsing here).
 */
#ifndef MIGRATOR_BOOTSECT_H
#define MIGRATOR_BOOTSECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_SECTOR_SIZE            512
#define MIG_MBR_BOOT_CODE_SIZE     440     /* before the disk signature */
#define MIG_GRUB_KERNEL_SECTOR_OFF 0x5c
#define MIG_GRUB_MESSAGE_OFF       0x180
#define MIG_MBR_TYPE_GPT_PMBR      0xee
#define MIG_MBR_TYPE_ESP           0xef

struct mig_mbr_entry {
	uint8_t status;         /* 0x80 = bootable */
	uint8_t type;           /* 0 = unused */
	uint32_t start_lba;
	uint32_t sectors;
};

struct mig_bootsect {
	bool signature;         /* 0x55 0xAA at 510 */
	bool boot_code;         /* a non-zero byte in the first 440 bytes */
	bool grub;              /* GRUB boot.img: "GRUB " at 0x180 */
	uint64_t grub_core_lba; /* where boot.img loads diskboot.img from, if grub */
	uint32_t disk_signature;/* 0x1B8, the MBR disk identifier */
	struct mig_mbr_entry part[4];
};

/* Parses the first 512 bytes of sector. Returns 0 and fills *ret; -EINVAL if
 * len < 512. A sector without 55AA is parsed anyway (signature false, no
 * partition entries). */
int mig_bootsect_parse(const uint8_t *sector, size_t len, struct mig_bootsect *ret);

/* True if the MBR has a GPT protective entry (0xEE) and other used entries:
 * a hybrid MBR. */
bool mig_bootsect_is_hybrid(const struct mig_bootsect *b);

static inline uint32_t mig_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t mig_le64(const uint8_t *p)
{
	return (uint64_t)mig_le32(p) | (uint64_t)mig_le32(p + 4) << 32;
}

#endif
