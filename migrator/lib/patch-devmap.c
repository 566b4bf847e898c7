/* patch-devmap.c — see patch-int.h. */
#include "patch-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <strings.h>

#include "refs.h"

/* --- device names -> UUID= ------------------------------------------------------------ */

/* "sda" style letters: a=0 ... z=25, aa=26 (bijective base 26). */
static bool letters_index(const char **p, size_t *ret)
{
	size_t v = 0, n = 0;

	while (**p >= 'a' && **p <= 'z' && n < 4) {
		v = v * 26 + (size_t)(**p - 'a' + 1);
		(*p)++;
		n++;
	}
	if (!n)
		return false;
	*ret = v - 1;
	return true;
}

static bool number(const char **p, size_t *ret)
{
	size_t v = 0, n = 0;

	while (isdigit((unsigned char)**p) && n < 6) {
		v = v * 10 + (size_t)(**p - '0');
		(*p)++;
		n++;
	}
	if (!n)
		return false;
	*ret = v;
	return true;
}

/* The disk (by index in the naming scheme, or SIZE_MAX for "the only one")
 * and partition number a kernel device name or by-id/by-path link means.
 * Returns false for anything else. */
static bool parse_devname(const char *spec, size_t *ret_disk, size_t *ret_part)
{
	static const char *const letter_prefixes[] = { "/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd" };
	const char *p;
	size_t d = 0, part = 0, ns;

	for (size_t i = 0; i < sizeof(letter_prefixes) / sizeof(letter_prefixes[0]); i++) {
		if (strncmp(spec, letter_prefixes[i], strlen(letter_prefixes[i])))
			continue;
		p = spec + strlen(letter_prefixes[i]);
		if (!letters_index(&p, &d))
			return false;
		if (*p && !number(&p, &part))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/nvme", 9)) {
		p = spec + 9;
		if (!number(&p, &d) || *p++ != 'n' || !number(&p, &ns))
			return false;
		if (*p == 'p' && (p++, !number(&p, &part)))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/mmcblk", 11)) {
		p = spec + 11;
		if (!number(&p, &d))
			return false;
		if (*p == 'p' && (p++, !number(&p, &part)))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/disk/by-id/", 16) || !strncmp(spec, "/dev/disk/by-path/", 18)) {
		const char *s = strrchr(spec, '-');
		if (!s || strncmp(s, "-part", 5))
			return false;
		p = s + 5;
		if (!number(&p, &part) || *p || part == 0)
			return false;
		*ret_disk = SIZE_MAX;
		*ret_part = part;
		return true;
	}
	return false;
}

static bool fs_uuid_usable(const struct mig_fs *fs)
{
	if (!fs->type || fs->ambivalent || !fs->uuid || !*fs->uuid)
		return false;
	return (fs->usage && (!strcmp(fs->usage, "filesystem") || !strcmp(fs->usage, "crypto"))) ||
	       !strcmp(fs->type, "swap");
}

int patch_devmap(const char *spec, char **ret_new, void *data)
{
	const struct mig_inventory *inv = data;
	enum mig_ref_kind kind;
	char *value = NULL;
	size_t di, pn;
	int r = mig_ref_parse_spec(spec, &kind, &value);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	free(value);
	if ((kind != MIG_REF_DEVNAME && kind != MIG_REF_MACHINE) || !parse_devname(spec, &di, &pn))
		return 0;
	const struct mig_disk *d = NULL;
	if (inv->ndisks == 1)
		d = &inv->disks[0];
	else if (di != SIZE_MAX && di < inv->ndisks)
		d = &inv->disks[di];
	if (!d)
		return 0;
	const struct mig_fs *fs = NULL;
	const char *partuuid = NULL;
	if (pn == 0) {
		if (d->nparts)
			return 0;   /* a whole partitioned disk: nothing to name */
		fs = &d->fs;
	} else {
		for (size_t i = 0; i < d->nparts; i++)
			if (d->parts[i].partno == pn && !d->parts[i].container) {
				fs = &d->parts[i].fs;
				partuuid = d->parts[i].uuid;
			}
		if (!fs)
			return 0;
	}
	if (fs_uuid_usable(fs))
		r = asprintf(ret_new, "UUID=%s", fs->uuid);
	else if (partuuid && *partuuid)
		r = asprintf(ret_new, "PARTUUID=%s", partuuid);
	else
		return 0;
	return r < 0 ? -ENOMEM : 1;
}

/* The filesystem an fstab spec names, resolved against the inventory. */
bool patch_find_fs(const struct mig_inventory *inv, const char *spec, struct pfs *ret)
{
	enum mig_ref_kind kind;
	char *value = NULL, *mapped = NULL;

	if (mig_ref_parse_spec(spec, &kind, &value) < 0)
		return false;
	if ((kind == MIG_REF_DEVNAME || kind == MIG_REF_MACHINE) && patch_devmap(spec, &mapped, (void *)inv) == 1) {
		free(value);
		value = NULL;
		if (mig_ref_parse_spec(mapped, &kind, &value) < 0)
			value = NULL;
		free(mapped);
		if (!value)
			return false;
	}
	bool found = false;
	for (size_t i = 0; i < inv->ndisks && !found; i++) {
		const struct mig_disk *d = &inv->disks[i];
		for (size_t j = 0; j < d->nparts && !found; j++) {
			const struct mig_part *p = &d->parts[j];
			const char *have = kind == MIG_REF_UUID ? p->fs.uuid : kind == MIG_REF_PARTUUID ? p->uuid :
					   kind == MIG_REF_LABEL ? p->fs.label : NULL;
			if (have && !strcasecmp(have, value)) {
				*ret = (struct pfs){ .disk = d, .part = p, .disk_idx = i, .name = p->path, .root_fd = -1 };
				found = true;
			}
		}
	}
	free(value);
	return found;
}
