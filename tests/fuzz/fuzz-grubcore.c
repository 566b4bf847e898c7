/* libFuzzer target: the BIOS boot chain after sector 0 (grubcore: diskboot
 * blocklists, core.img, the raw-LZMA kernel, GRUB's module area) and the FAT
 * reader (fatfs), both on the input as a disk image. */
#include "bootsect.h"
#include "fatfs.h"
#include "grubcore.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct mem *m = ctx;

	if (off > m->n || len > m->n - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

static int list_cb(const struct mig_fat_entry *e, void *data)
{
	struct mig_fat *fat = data;
	uint8_t *buf;
	size_t len;

	if (!e->dir && mig_fat_read(fat, e, 1 << 20, &buf, &len) == 0)
		free(buf);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct mig_bootsect b;
	struct mig_grub_core core;
	char *cfg = NULL, *prefix = NULL;

	/* the LBA boot.img names, or sector 1 when the input has no boot.img */
	uint64_t lba = mig_bootsect_parse(data, size, &b) == 0 && b.grub ? b.grub_core_lba : 1;
	if (mig_grub_core_read(lba, size / 512, mem_read, &m, &core) == 0)
		mig_grub_core_clear(&core);
	if (mig_grub_modules_find(data, size, &cfg, &prefix) == 0) {
		free(cfg);
		free(prefix);
	}

	struct mig_fat *fat;
	struct mig_fat_entry e;
	if (mig_fat_open(mem_read, &m, 0, size, &fat) == 0) {
		mig_fat_list(fat, NULL, list_cb, fat);
		if (mig_fat_lookup(fat, "EFI/BOOT", &e) == 0)
			mig_fat_list(fat, &e, list_cb, fat);
		mig_fat_close(fat);
	}
	return 0;
}
