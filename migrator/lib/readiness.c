/* readiness.c — see readiness.h. */
#include "readiness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_gpt(const struct mig_disk *d)
{
	return d->pttype && strcmp(d->pttype, "gpt") == 0;
}

static int check_ambivalent(struct mig_diags *diags, const char *where, const struct mig_fs *fs)
{
	char list[256] = "";

	if (!fs->ambivalent)
		return 0;
	for (size_t i = 0; i < fs->nsignatures; i++) {
		if (i)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, fs->signatures[i], sizeof(list) - strlen(list) - 1);
	}
	return mig_diags_add(diags, MIG_SEV_WARNING, "ambivalent",
			     "%s carries more than one signature (%s): wipe the stale one before migrating",
			     where, list[0] ? list : "unknown");
}

static int check_disk(struct mig_disk *d)
{
	int r = 0;

	/* Our own medium is not migrated; its hybrid boot code is by design. */
	if (d->rescue_medium)
		return 0;
	if (d->boot.mbr.grub && is_gpt(d) && !d->boot.bios_boot_partno)
		r = mig_diags_add(&d->diags, MIG_SEV_WARNING, "grub-gpt-no-bios-boot",
				  "GRUB boot code on a GPT disk without a BIOS boot partition: core.img has no safe place and BIOS boot will break");
	if (r == 0 && is_gpt(d) && !d->boot.mbr.boot_code && !d->boot.esp_partno)
		r = mig_diags_add(&d->diags, MIG_SEV_WARNING, "gpt-no-esp",
				  "GPT disk with no BIOS boot code and no EFI System Partition: it boots under neither firmware");
	if (r == 0 && !d->pttype && d->fs.type && d->fs.usage && strcmp(d->fs.usage, "filesystem") == 0)
		r = mig_diags_add(&d->diags, MIG_SEV_WARNING, "no-partition-table",
				  "%s filesystem on the whole disk, no partition table: it cannot hold a boot loader",
				  d->fs.type);
	if (r == 0)
		r = check_ambivalent(&d->diags, d->name, &d->fs);
	for (size_t i = 0; r == 0 && i < d->nparts; i++)
		r = check_ambivalent(&d->parts[i].diags, d->parts[i].path, &d->parts[i].fs);
	return r;
}

struct seen {
	const char *value, *where, *kind;
};

static int cmp_seen(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	return c ? c : strcmp(x->value, y->value);
}

/* Duplicate UUIDs anywhere in the set break UUID= references on the target.
 * Members of one MD array or LVM VG share the array UUID by design; those are
 * told apart by UUID_SUB and are not reported. */
static int check_duplicates(struct mig_inventory *inv)
{
	size_t cap = 0, n = 0;
	int r = 0;

	for (size_t i = 0; i < inv->ndisks; i++)
		cap += 2 * inv->disks[i].nparts + 1;
	struct seen *v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < inv->ndisks; i++) {
		struct mig_disk *d = &inv->disks[i];

		/* On a partitioned disk a whole-disk signature is a hybrid ISO's
		 * (seen again in its partition) or a stale leftover: not a
		 * second filesystem that references could mean. */
		if (d->fs.uuid && !d->fs.uuid_sub && !d->pttype)
			v[n++] = (struct seen){ d->fs.uuid, d->path, "UUID" };
		for (size_t k = 0; k < d->nparts; k++) {
			struct mig_part *p = &d->parts[k];

			if (p->fs.uuid && !p->fs.uuid_sub)
				v[n++] = (struct seen){ p->fs.uuid, p->path, "UUID" };
			if (p->uuid)
				v[n++] = (struct seen){ p->uuid, p->path, "PARTUUID" };
		}
	}
	qsort(v, n, sizeof(*v), cmp_seen);
	for (size_t i = 0; r == 0 && i + 1 < n; i++) {
		size_t j = i;

		while (j + 1 < n && cmp_seen(&v[i], &v[j + 1]) == 0)
			j++;
		if (j > i) {
			r = mig_diags_add(&inv->diags, MIG_SEV_WARNING, "duplicate-uuid",
					  "%s=%s is on %zu devices (%s, %s%s): references to it are ambiguous",
					  v[i].kind, v[i].value, j - i + 1, v[i].where, v[i + 1].where,
					  j - i > 1 ? ", ..." : "");
			i = j;
		}
	}
	free(v);
	return r;
}

int mig_readiness_check(struct mig_inventory *inv)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < inv->ndisks; i++)
		r = check_disk(&inv->disks[i]);
	if (r == 0)
		r = check_duplicates(inv);
	return r == -E2BIG ? 0 : r;
}
