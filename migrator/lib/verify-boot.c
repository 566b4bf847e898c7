/* verify-boot.c — the BIOS chain (sector 0 -> diskboot.img -> core.img ->
 * its embedded config) and the UEFI chain (ESP -> EFI/BOOT/BOOTX64.EFI ->
 * shim's siblings -> grub.cfg) of verify.h. */
#include "verify-int.h"
#include "grubcore.h"
#include "pe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#define EFI_BINARY_MAX (64u << 20)

static bool disk_holds_os(const struct vctx *c, const struct mig_disk *d)
{
	for (size_t i = 0; i < c->nfs; i++)
		if (c->fs[i].disk == d && (c->fs[i].is_root || c->fs[i].boot_dir))
			return true;
	return false;
}

/* First line of s, at most max bytes, for a one-line reason. */
static void first_line(const char *s, char *out, size_t max)
{
	size_t n = strcspn(s, "\n");

	if (n >= max)
		n = max - 1;
	memcpy(out, s, n);
	out[n] = 0;
	while (n && out[n - 1] == ' ')
		out[--n] = 0;
}

static void check_core_location(struct vctx *c, const struct mig_disk *d, const struct mig_grub_core *core,
				bool gpt)
{
	uint64_t lo = 1, hi = d->size / 512;   /* GRUB counts 512-byte sectors */
	char where[96];

	if (gpt) {
		const struct mig_part *bb = NULL;
		for (size_t i = 0; i < d->nparts; i++)
			if (d->parts[i].partno == d->boot.bios_boot_partno)
				bb = &d->parts[i];
		if (!bb) {
			vresult(c, "bios.core-location", MIG_FAIL, d->path,
				"core.img (LBA %llu) is not in a BIOS boot partition: there is none, so any partition may overwrite it",
				(unsigned long long)core->diskboot_lba);
			return;
		}
		lo = bb->start * d->log_sec / 512;
		hi = lo + bb->sectors * d->log_sec / 512;
		snprintf(where, sizeof(where), "BIOS boot partition %zu (LBA %llu-%llu)", bb->partno,
			 (unsigned long long)lo, (unsigned long long)hi - 1);
	} else {
		for (size_t i = 0; i < d->nparts; i++)
			if (d->parts[i].start * d->log_sec / 512 < hi)
				hi = d->parts[i].start * d->log_sec / 512;
		snprintf(where, sizeof(where), "the gap before the first partition (LBA 1-%llu)",
			 (unsigned long long)hi - 1);
	}
	bool inside = core->diskboot_lba >= lo && core->diskboot_lba < hi;
	uint64_t bad = core->diskboot_lba;
	for (size_t i = 0; i < core->nlists && inside; i++) {
		inside = core->lists[i].start >= lo && core->lists[i].start + core->lists[i].len <= hi;
		if (!inside)
			bad = core->lists[i].start;
	}
	if (inside)
		vresult(c, "bios.core-location", MIG_PASS, d->path, "core.img (%llu sectors from LBA %llu) lies in %s",
			(unsigned long long)core->sectors, (unsigned long long)core->diskboot_lba, where);
	else
		vresult(c, "bios.core-location", MIG_FAIL, d->path,
			"core.img sectors from LBA %llu lie outside %s: a partition or filesystem may overwrite them",
			(unsigned long long)bad, where);
}

void verify_bios(struct vctx *c, const struct mig_disk *d)
{
	const struct mig_bootsect *b = &d->boot.mbr;
	bool gpt = d->pttype && !strcmp(d->pttype, "gpt");
	bool os = disk_holds_os(c, d);

	/* A disk is expected to boot by BIOS if it has boot code or a BIOS
	 * boot partition, or holds the system and has no ESP. */
	if (!b->boot_code && !d->boot.bios_boot_partno && !(os && !d->boot.esp_partno))
		return;
	if (!b->signature)
		vresult(c, "bios.boot-img", MIG_FAIL, d->path,
			"sector 0 does not end in 55AA: the BIOS will not boot this disk");
	else if (!b->boot_code)
		vresult(c, "bios.boot-img", MIG_FAIL, d->path,
			"sector 0 has no boot code (the first 440 bytes are zero): GRUB's boot.img is missing");
	else if (!b->grub)
		vresult(c, "bios.boot-img", MIG_WARN, d->path,
			"sector 0 holds boot code that is not GRUB's boot.img: its chain is not verified");
	else
		vresult(c, "bios.boot-img", MIG_PASS, d->path, "GRUB boot.img, loads core.img from LBA %llu",
			(unsigned long long)b->grub_core_lba);
	if (gpt) {
		if (d->boot.bios_boot_partno)
			vresult(c, "bios.bios-boot-part", MIG_PASS, d->path, "BIOS boot partition %zu",
				d->boot.bios_boot_partno);
		else
			vresult(c, "bios.bios-boot-part", MIG_FAIL, d->path,
				"GPT disk without a BIOS boot partition: GRUB's core.img has no place of its own");
	}
	if (!b->grub)
		return;

	struct mig_grub_core core;
	int fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0) {
		vresult(c, "bios.core-img", MIG_FAIL, d->path, "cannot open: %s", strerror(errno));
		return;
	}
	r = mig_grub_core_read(b->grub_core_lba, d->size / 512, vpread, (void *)(intptr_t)fd, &core);
	close(fd);
	if (r == -ENOMEM) {
		c->err = r;
		return;
	}
	if (r < 0) {
		vresult(c, "bios.core-img", MIG_FAIL, d->path, "cannot read core.img: %s", strerror(-r));
		return;
	}
	if (core.status == MIG_GRUB_CORE_NO_DISKBOOT || core.status == MIG_GRUB_CORE_BAD_BLOCKLIST) {
		vresult(c, "bios.core-img", MIG_FAIL, d->path, "%s", core.reason);
		mig_grub_core_clear(&core);
		return;
	}
	check_core_location(c, d, &core, gpt);
	if (core.status != MIG_GRUB_CORE_OK) {
		vresult(c, "bios.core-img", MIG_FAIL, d->path, "%s", core.reason);
		mig_grub_core_clear(&core);
		return;
	}
	vresult(c, "bios.core-img", MIG_PASS, d->path,
		"diskboot.img at LBA %llu, %zu blocklist(s), %llu sectors; kernel %u bytes LZMA -> %u%s",
		(unsigned long long)core.diskboot_lba, core.nlists, (unsigned long long)core.sectors,
		core.compressed_size, core.uncompressed_size, core.rs_redundancy ? ", Reed-Solomon parity" : "");

	char line[160] = "";
	if (core.config) {
		char source[512];

		snprintf(source, sizeof(source), "%s:core.img", d->path);
		r = mig_refs_from_grub_cfg(&c->refs, core.config, strlen(core.config), source);
		if (r == -ENOMEM)
			c->err = r;
		first_line(core.config, line, sizeof(line));
	}
	if (core.config && strstr(core.config, "search"))
		vresult(c, "bios.core-config", MIG_PASS, d->path, "prefix %s; embedded config: %s",
			core.prefix ? core.prefix : "(none)", line);
	else if (core.prefix && core.prefix[0] == '(' && strncmp(core.prefix, "($", 2) &&
		 strncmp(core.prefix, "(,", 2))   /* "(,msdos1)": a partition of the boot drive */
		vresult(c, "bios.core-config", MIG_WARN, d->path,
			"prefix %s names a fixed drive and partition, no search by UUID: breaks if disks are reordered",
			core.prefix);
	else
		vresult(c, "bios.core-config", MIG_PASS, d->path, "prefix %s%s%s",
			core.prefix ? core.prefix : "(none)", core.config ? "; embedded config: " : "", line);
	mig_grub_core_clear(&core);
}

/* --- UEFI -------------------------------------------------------------------- */

struct dirs {
	char (*names)[64];
	size_t n, max;
};

static int dirs_cb(const char *name, bool dir, void *data)
{
	struct dirs *d = data;

	if (dir && d->n < d->max && strlen(name) < 64)
		strcpy(d->names[d->n++], name);
	return 0;
}

/* The vendor directories under EFI/ (on-disk spelling) into names[]. */
static size_t efi_dirs(const struct vfs *esp, const char *efi, char names[][64], size_t max)
{
	struct dirs d = { names, 0, max };

	vfs_list(esp, efi, dirs_cb, &d);
	return d.n;
}

static void check_signature(struct vctx *c, const char *subject, const uint8_t *buf, size_t len)
{
	struct mig_pe_info *pe = calloc(1, sizeof(*pe));
	const char *why = NULL;
	int r;

	if (!pe) {
		c->err = -ENOMEM;
		return;
	}
	r = mig_pe_inspect(buf, len, pe, &why);
	if (r == -ENOMEM)
		c->err = r;
	else if (r < 0)
		vresult(c, "uefi.signature", MIG_FAIL, subject, "not a usable PE image: %s",
			why ? why : strerror(-r));
	else if (!mig_pe_is_uefi64(pe))
		vresult(c, "uefi.signature", MIG_FAIL, subject, "a %s PE image, not a 64-bit UEFI application",
			mig_pe_machine_name(pe->machine) ? mig_pe_machine_name(pe->machine) : "foreign");
	else if (!pe->has_signature)
		vresult(c, "uefi.signature", MIG_WARN, subject,
			"unsigned: boots only with Secure Boot off");
	else if (!pe->digest_match)
		vresult(c, "uefi.signature", MIG_FAIL, subject,
			"signed, but the image was modified after signing: Secure Boot refuses it (%s)", pe->sig_error);
	else if (!pe->sig_valid)
		vresult(c, "uefi.signature", MIG_WARN, subject, "signature does not verify: %s", pe->sig_error);
	else
		vresult(c, "uefi.signature", MIG_PASS, subject, "Authenticode signature good, signer %s",
			pe->signer_subject);
	free(pe);
}

void verify_uefi(struct vctx *c, struct vfs *esp)
{
	char efi[32], loader[128], path[256], dirs[32][64];
	const struct mig_part *p = esp->part;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (p && p->partno == esp->disk->boot.esp_partno)
		vresult(c, "uefi.esp", MIG_PASS, esp->name, "EFI System Partition %zu, FAT (%s)", p->partno,
			esp->fs->version ? esp->fs->version : "vfat");
	else
		vresult(c, "uefi.esp", MIG_WARN, esp->name,
			"FAT filesystem with an EFI directory, but not an EFI System Partition by type: firmware may not look here");
	if (vfs_find_nocase(esp, "EFI", efi, sizeof(efi)) < 0) {
		vresult(c, "uefi.fallback", MIG_FAIL, esp->name, "no EFI directory on the ESP");
		return;
	}
	size_t ndirs = efi_dirs(esp, efi, dirs, 32);

	if (vfs_find_nocase(esp, "EFI/BOOT/BOOTX64.EFI", loader, sizeof(loader)) < 0) {
		char others[256] = "";
		for (size_t i = 0; i < ndirs; i++) {
			size_t l = strlen(others);
			snprintf(others + l, sizeof(others) - l, "%s%s/%s", l ? ", " : "", efi, dirs[i]);
		}
		vresult(c, "uefi.fallback", MIG_FAIL, esp->name,
			"EFI/BOOT/BOOTX64.EFI is missing: the NVRAM boot entries stay with the old machine, so the target's firmware finds no loader%s%s",
			others[0] ? "; vendor directories: " : "", others);
	} else {
		int r = vfs_read(esp, loader, EFI_BINARY_MAX, (char **)&buf, &len);
		if (r < 0) {
			vresult(c, "uefi.fallback", MIG_FAIL, esp->name, "%s: cannot read: %s", loader, strerror(-r));
		} else {
			bool shim = memmem(buf, len, "UEFI SHIM", 9) != NULL;
			char subject[320];

			snprintf(subject, sizeof(subject), "%s:/%s", esp->name, loader);
			vresult(c, "uefi.fallback", MIG_PASS, esp->name, "%s present (%zu bytes%s)", loader, len,
				shim ? ", shim" : "");
			check_signature(c, subject, buf, len);
			char *cfg = NULL, *prefix = NULL;
			if (mig_grub_modules_find(buf, len, &cfg, &prefix) == 0 && cfg) {
				if (mig_refs_from_grub_cfg(&c->refs, cfg, strlen(cfg), subject) == -ENOMEM)
					c->err = -ENOMEM;
			}
			free(cfg);
			free(prefix);
			if (shim) {
				/* shim loads grubx64.efi from its own directory; fbx64.efi
				 * recreates NVRAM entries from a vendor's BOOTX64.CSV. */
				char dir[128];
				snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(loader, '/') - loader), loader);
				static const struct { const char *file; enum mig_verdict missing; const char *why; } sib[] = {
					{ "grubx64.efi", MIG_FAIL, "shim has nothing to start" },
					{ "mmx64.efi", MIG_WARN, "no MokManager to enrol keys" },
					{ "fbx64.efi", MIG_WARN, "no fallback to recreate boot entries" },
				};
				char found[128], missing[256] = "";
				enum mig_verdict v = MIG_PASS;
				for (size_t i = 0; i < 3; i++) {
					snprintf(path, sizeof(path), "%s/%s", dir, sib[i].file);
					if (vfs_find_nocase(esp, path, found, sizeof(found)) == 0)
						continue;
					size_t l = strlen(missing);
					snprintf(missing + l, sizeof(missing) - l, "%s%s missing (%s)", l ? "; " : "",
						 sib[i].file, sib[i].why);
					if (sib[i].missing > v)
						v = sib[i].missing;
				}
				bool csv = false;
				for (size_t i = 0; i < ndirs && !csv; i++) {
					snprintf(path, sizeof(path), "%s/%s/BOOTX64.CSV", efi, dirs[i]);
					csv = vfs_find_nocase(esp, path, found, sizeof(found)) == 0;
					snprintf(path, sizeof(path), "%s/%s/BOOT.CSV", efi, dirs[i]);
					csv = csv || vfs_find_nocase(esp, path, found, sizeof(found)) == 0;
				}
				if (!csv) {
					size_t l = strlen(missing);
					snprintf(missing + l, sizeof(missing) - l, "%sno BOOTX64.CSV in any EFI/<vendor>/ (fallback has nothing to register)",
						 l ? "; " : "");
					if (v < MIG_WARN)
						v = MIG_WARN;
				}
				if (v == MIG_PASS)
					vresult(c, "uefi.shim", v, esp->name,
						"shim with grubx64.efi, mmx64.efi, fbx64.efi and a BOOTX64.CSV");
				else
					vresult(c, "uefi.shim", v, esp->name, "shim: %s", missing);
			}
		}
	}
	free(buf);
	/* GRUB's config on the ESP: EFI/<vendor>/grub.cfg */
	for (size_t i = 0; i < ndirs; i++) {
		char found[128];
		snprintf(path, sizeof(path), "%s/%s/grub.cfg", efi, dirs[i]);
		if (vfs_find_nocase(esp, path, found, sizeof(found)) == 0)
			vrefs_from_file(c, esp, found, mig_refs_from_grub_cfg);
	}
}
