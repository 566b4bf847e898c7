/* patch-uefi.c — the UEFI fallback loader: see patch.h ("uefi-fallback").
 *
 * NVRAM boot entries stay with the old machine; the target's firmware
 * starts EFI/BOOT/BOOTX64.EFI of the ESP. When that is missing but a
 * vendor directory (EFI/debian, EFI/redhat, ...) holds the system's loader,
 * its shim becomes EFI/BOOT/BOOTX64.EFI with the siblings shim starts from
 * its own directory (grubx64.efi, mmx64.efi, fbx64.efi) and GRUB's
 * grub.cfg; a vendor BOOTX64.CSV is written when fbx64.efi is used without
 * one, so that fallback registers the vendor's shim in NVRAM at first boot.
 * Without shim, the vendor's grubx64.efi (a GRUB image with its config
 * built in, as grub-install makes it) becomes BOOTX64.EFI: the same file
 * `grub-install --removable` would write, without needing the ESP mounted
 * in a chroot.
 *
 * Planning reads the ESP with fatfs.h (no mount); the copy mounts it
 * read-write from its partition's device (fsmount.h: the kernel's vfat, or
 * fusefat). Files that exist in EFI/BOOT are never overwritten. */
#include "patch-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fatfs.h"
#include "fileio.h"
#include "fsmount.h"

#define EFI_FILE_MAX (64u << 20)

static const char *const siblings[] = { "grubx64.efi", "mmx64.efi", "fbx64.efi", "grub.cfg" };
#define NSIB (sizeof(siblings) / sizeof(siblings[0]))

static int fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	return mig_pread_all((int)(intptr_t)ctx, buf, len, off);
}

struct vendors {
	char names[16][64];
	size_t n;
};

static int vendor_cb(const struct mig_fat_entry *e, void *data)
{
	struct vendors *v = data;

	size_t l = strlen(e->name);

	if (e->dir && strcasecmp(e->name, "BOOT") && v->n < 16 && l < sizeof(v->names[0]))
		memcpy(v->names[v->n++], e->name, l + 1);
	return 0;
}

/* The vendor directory with a loader: shim first, else grubx64.efi. */
static bool find_vendor(struct mig_fat *fat, char *efi, size_t efilen, char *vendor, size_t vlen, bool *shim)
{
	struct mig_fat_entry e, x;
	struct vendors v = { .n = 0 };
	char p[256];

	if (mig_fat_lookup(fat, "EFI", &e) < 0 || !e.dir || strlen(e.name) >= efilen)
		return false;
	memcpy(efi, e.name, strlen(e.name) + 1);
	if (mig_fat_list(fat, &e, vendor_cb, &v) < 0)
		return false;
	for (int want_shim = 1; want_shim >= 0; want_shim--)
		for (size_t i = 0; i < v.n; i++) {
			snprintf(p, sizeof(p), "EFI/%s/%s", v.names[i], want_shim ? "shimx64.efi" : "grubx64.efi");
			if (mig_fat_lookup(fat, p, &x) == 0 && !x.dir) {
				snprintf(vendor, vlen, "%s", v.names[i]);
				*shim = want_shim;
				return true;
			}
		}
	return false;
}

int patch_plan_uefi(struct pctx *c, const struct mig_verify_report *vr)
{
	int r = 0;

	for (size_t i = 0; i < c->inv->ndisks && r == 0; i++) {
		const struct mig_disk *d = &c->inv->disks[i];
		const struct mig_part *esp = NULL;
		const struct mig_check *fail = NULL;

		for (size_t j = 0; j < d->nparts; j++)
			if (d->boot.esp_partno && d->parts[j].partno == d->boot.esp_partno)
				esp = &d->parts[j];
		if (!esp)
			continue;
		for (size_t k = 0; k < vr->n && !fail; k++)
			if (!strcmp(vr->v[k].id, "uefi.fallback") && vr->v[k].verdict == MIG_FAIL &&
			    !strcmp(vr->v[k].subject, esp->path) && strstr(vr->v[k].reason, "BOOTX64.EFI is missing"))
				fail = &vr->v[k];
		if (!fail)
			continue;

		int fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct mig_fat *fat = NULL;
		char efi[64], vendor[64];
		bool shim = false, found = false;
		if (fd >= 0 && mig_fat_open(fd_read, (void *)(intptr_t)fd, esp->start * d->log_sec,
					    esp->sectors * d->log_sec, &fat) == 0)
			found = find_vendor(fat, efi, sizeof(efi), vendor, sizeof(vendor), &shim);
		char with[160] = "";
		bool fb = false, csv = false;
		for (size_t k = 0; found && shim && k < NSIB; k++) {
			char p[256];
			struct mig_fat_entry x;
			snprintf(p, sizeof(p), "EFI/%s/%s", vendor, siblings[k]);
			if (mig_fat_lookup(fat, p, &x) == 0) {
				size_t l = strlen(with);
				snprintf(with + l, sizeof(with) - l, "%s%s", l ? ", " : " with ", siblings[k]);
				fb = fb || !strcmp(siblings[k], "fbx64.efi");
			}
			snprintf(p, sizeof(p), "EFI/%s/BOOTX64.CSV", vendor);
			csv = csv || mig_fat_lookup(fat, p, &x) == 0;
		}
		mig_fat_close(fat);
		if (fd >= 0)
			close(fd);
		if (!found) {
			r = patch_add_skip(c->rep, "uefi.fallback", "%s: EFI/BOOT/BOOTX64.EFI is missing and no "
					   "EFI/<vendor>/ holds shimx64.efi or grubx64.efi to put there", esp->path);
			continue;
		}
		char from[200], why[600];
		snprintf(from, sizeof(from), "/%s/%s/%s", efi, vendor, shim ? "shimx64.efi" : "grubx64.efi");
		snprintf(why, sizeof(why), "uefi.fallback fails (NVRAM entries stay with the old machine): %s of "
			 "%s/%s becomes EFI/BOOT/BOOTX64.EFI%s%s", shim ? "shim" : "GRUB", efi, vendor, with,
			 fb && !csv ? "; a BOOTX64.CSV for fallback is written" : "");
		const char *argv[] = { "copy", from, "/EFI/BOOT/BOOTX64.EFI", NULL };
		if ((r = patch_add_step(c->rep, "uefi-fallback", argv, why)) == 0) {
			struct mig_patch_step *st = &c->rep->steps[c->rep->nsteps - 1];
			st->builtin = true;
			st->disk_arg = i + 1;
			st->part_arg = esp->partno;
		}
	}
	return r;
}

/* Copies from (a file of the mounted ESP) to to, unless to exists. 1 when
 * copied, 0 when it existed or from does not, -errno. */
static int copy_new(const char *from, const char *to)
{
	char *buf = NULL;
	size_t len;
	struct stat st;
	int r;

	if (lstat(to, &st) == 0)
		return 0;
	if ((r = mig_read_file(from, EFI_FILE_MAX, &buf, &len)) < 0)
		return r == -ENOENT ? 0 : r;
	r = mig_write_file_atomic(to, buf, len, 0644);
	free(buf);
	return r < 0 ? r : 1;
}

/* fallback's CSV: UCS-2 (UTF-16LE with a BOM), "loader,label,options,description". */
static int write_csv(const char *path, const char *vendor)
{
	char line[256];
	unsigned char out[520];
	size_t n = 2;
	int l = snprintf(line, sizeof(line), "shimx64.efi,%s,,This is the boot entry for %s\n", vendor, vendor);

	out[0] = 0xff;
	out[1] = 0xfe;
	for (int i = 0; i < l && n + 2 <= sizeof(out); i++) {
		out[n++] = (unsigned char)line[i];
		out[n++] = 0;
	}
	return mig_write_file_atomic(path, out, n, 0644);
}

int patch_run_uefi(const struct patch_devs *devs, struct mig_patch_step *st, char **ret_output)
{
	struct mig_fsmount *m = NULL;
	char node[64], out[1024] = "", vdir[512], boot[512], p[600], q[600];
	size_t ol = 0;
	int r;

	if (!st->disk_arg || !st->part_arg || !st->argv[1])
		return -EINVAL;
	if ((r = patch_devs_node(devs, st->disk_arg - 1, st->part_arg, node, sizeof(node))) < 0)
		return r;
	if ((r = mig_fsmount_open_dev(node, "vfat", MIG_FSMOUNT_RW, &m)) < 0) {
		*ret_output = strdup(r == -ENODEV ? "the ESP cannot be mounted read-write: no vfat in the kernel "
				     "and no fusefat" : "the ESP cannot be mounted read-write");
		return r;
	}
	const char *dir = mig_fsmount_dir(m);
	const char *from = st->argv[1];            /* "/EFI/debian/shimx64.efi" */
	const char *slash = strrchr(from, '/');
	bool shim = !strcmp(slash + 1, "shimx64.efi");
	snprintf(vdir, sizeof(vdir), "%s%.*s", dir, (int)(slash - from), from);
	char efi[64];
	snprintf(efi, sizeof(efi), "%.*s", (int)(strchr(from + 1, '/') - from - 1), from + 1);
	snprintf(boot, sizeof(boot), "%s/%s/BOOT", dir, efi);
	if (mkdir(boot, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	snprintf(p, sizeof(p), "%s%s", dir, from);
	snprintf(q, sizeof(q), "%s/BOOTX64.EFI", boot);
	if ((r = copy_new(p, q)) < 0)
		goto out;
	ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "%s: %s -> /%s/BOOT/BOOTX64.EFI\n",
			       r ? "created" : "kept", from, efi);
	bool fb = false;
	for (size_t k = 0; shim && k < NSIB; k++) {
		snprintf(p, sizeof(p), "%s/%s", vdir, siblings[k]);
		snprintf(q, sizeof(q), "%s/%s", boot, siblings[k]);
		if ((r = copy_new(p, q)) < 0)
			goto out;
		if (r && ol < sizeof(out))
			ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "created: /%s/BOOT/%s\n", efi, siblings[k]);
		struct stat sb;
		if (!strcmp(siblings[k], "fbx64.efi") && stat(q, &sb) == 0)
			fb = true;
	}
	r = 0;
	struct stat sc;
	snprintf(p, sizeof(p), "%s/BOOTX64.CSV", vdir);
	if (shim && fb && stat(p, &sc) < 0) {
		const char *vendor = strrchr(vdir, '/') + 1;
		if ((r = write_csv(p, vendor)) < 0)
			goto out;
		if (ol < sizeof(out))
			ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "created: %.*s/BOOTX64.CSV (fallback registers "
					       "%s/shimx64.efi in NVRAM at first boot)\n", (int)(slash - from), from,
					       vendor);
	}
out:;
	int u = mig_fsmount_close(m);
	if (r == 0 && u < 0)
		r = u;
	*ret_output = strdup(out);
	return r;
}
