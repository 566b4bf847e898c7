/* inventory.c — see inventory.h. Partition tables through libfdisk,
 * signatures through libblkid, geometry through ioctls and sysfs. */
#include "inventory.h"
#include "gpt.h"
#include "readiness.h"
#include "sysfs.h"

#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdisk.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char *xstrdup_lower(const char *s)
{
	char *r = s ? strdup(s) : NULL;

	for (char *p = r; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static void fs_clear(struct mig_fs *fs)
{
	free(fs->type);
	free(fs->usage);
	free(fs->uuid);
	free(fs->uuid_sub);
	free(fs->label);
	free(fs->version);
	for (size_t i = 0; i < fs->nsignatures; i++)
		free(fs->signatures[i]);
	memset(fs, 0, sizeof(*fs));
}

static int dup_value(blkid_probe pr, const char *name, char **ret)
{
	const char *data = NULL;

	if (blkid_probe_lookup_value(pr, name, &data, NULL) != 0 || !data)
		return 0;
	*ret = strdup(data);
	return *ret ? 0 : -ENOMEM;
}

/* Probes [offset, offset+size) of fd for signatures into *fs. whole: also run
 * the partition-table chain, as `blkid -p` does on a whole disk, so a
 * filesystem that merely overlaps a partition is not reported for the disk. */
static int probe_area(int fd, uint64_t offset, uint64_t size, bool whole, struct mig_fs *fs)
{
	blkid_probe pr = blkid_new_probe();
	const char *data;
	int r, rc = 0;

	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) != 0) {
		rc = -EIO;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
					  BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
					  BLKID_SUBLKS_VERSION);
	blkid_probe_enable_partitions(pr, whole);

	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		/* Ambivalent: list every signature, the way wipefs does. */
		fs->ambivalent = true;
		blkid_reset_probe(pr);
		blkid_probe_enable_partitions(pr, 0);
		while (fs->nsignatures < MIG_MAX_SIGNATURES && blkid_do_probe(pr) == 0) {
			if (blkid_probe_lookup_value(pr, "TYPE", &data, NULL) == 0 && data) {
				fs->signatures[fs->nsignatures] = strdup(data);
				if (!fs->signatures[fs->nsignatures]) {
					rc = -ENOMEM;
					goto out;
				}
				fs->nsignatures++;
			}
		}
		goto out;
	}
	if (r < 0) {
		rc = -EIO;
		goto out;
	}
	if (r == 1)
		goto out;       /* nothing found */

	if ((rc = dup_value(pr, "TYPE", &fs->type)) < 0 ||
	    (rc = dup_value(pr, "USAGE", &fs->usage)) < 0 ||
	    (rc = dup_value(pr, "UUID", &fs->uuid)) < 0 ||
	    (rc = dup_value(pr, "UUID_SUB", &fs->uuid_sub)) < 0 ||
	    (rc = dup_value(pr, "LABEL", &fs->label)) < 0 ||
	    (rc = dup_value(pr, "VERSION", &fs->version)) < 0)
		goto out;
	if (blkid_probe_lookup_value(pr, "FSSIZE", &data, NULL) == 0 && data)
		fs->size = strtoull(data, NULL, 10);
	if (blkid_probe_lookup_value(pr, "BLOCK_SIZE", &data, NULL) == 0 && data)
		fs->block_size = (uint32_t)strtoul(data, NULL, 10);
	if (fs->type) {
		fs->signatures[0] = strdup(fs->type);
		if (!fs->signatures[0]) {
			rc = -ENOMEM;
			goto out;
		}
		fs->nsignatures = 1;
	}
out:
	blkid_free_probe(pr);
	return rc;
}

/* libfdisk reports problems (corrupt GPT headers, ...) through the ask
 * callback; keep them as diags of the disk instead of printing. */
static int fdisk_ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	struct mig_disk *d = data;
	const char *msg;

	switch (fdisk_ask_get_type(ask)) {
	case FDISK_ASKTYPE_WARN:
	case FDISK_ASKTYPE_WARNX:
		msg = fdisk_ask_print_get_mesg(ask);
		/* "... will be corrected by write": advice for an editor; we
		 * only read, so it is a warning, not a broken table */
		if (msg)
			mig_diags_add(&d->diags, strstr(msg, "corrected by write") ?
				      MIG_SEV_WARNING : MIG_SEV_ERROR, "partition-table", "%s", msg);
		return 0;
	case FDISK_ASKTYPE_INFO:
		return 0;
	default:
		return -EINVAL;     /* read-only: nothing to answer */
	}
}

static int read_partition(struct fdisk_context *cxt, struct fdisk_partition *pa,
			  struct mig_disk *d, struct mig_part *p)
{
	struct fdisk_parttype *t = fdisk_partition_get_type(pa);
	const char *s;
	char buf[64];

	p->partno = fdisk_partition_get_partno(pa) + 1;
	p->start = fdisk_partition_get_start(pa);
	p->sectors = fdisk_partition_get_size(pa);
	p->container = fdisk_partition_is_container(pa);
	p->path = fdisk_partname(d->path, p->partno);
	if (!p->path)
		return -ENOMEM;
	if (t) {
		if (strcmp(d->pttype, "dos") == 0) {
			snprintf(buf, sizeof(buf), "0x%x", fdisk_parttype_get_code(t) & 0xff);
			p->type = strdup(buf);
		} else {
			p->type = xstrdup_lower(fdisk_parttype_get_string(t));
		}
		if ((s = fdisk_parttype_get_name(t)) && !(p->type_name = strdup(s)))
			return -ENOMEM;
	}
	if (strcmp(d->pttype, "dos") == 0) {
		p->bootable = fdisk_partition_is_bootable(pa);
		/* blkid/lsblk convention: <disk signature>-<partno> */
		snprintf(buf, sizeof(buf), "%08x-%02zx", d->boot.mbr.disk_signature, p->partno);
		p->uuid = strdup(buf);
	} else {
		p->uuid = xstrdup_lower(fdisk_partition_get_uuid(pa));
		if ((s = fdisk_partition_get_name(pa)) && *s && !(p->name = strdup(s)))
			return -ENOMEM;
		if ((s = fdisk_partition_get_attrs(pa)) && *s) {
			if (!(p->attrs = strdup(s)))
				return -ENOMEM;
			p->legacy_bios_bootable = strstr(s, "LegacyBIOSBootable") != NULL;
		}
	}
	return 0;
}

static int read_table(struct mig_disk *d)
{
	struct fdisk_context *cxt = fdisk_new_context();
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr = NULL;
	struct fdisk_partition *pa;
	char *id = NULL;
	int r;

	if (!cxt)
		return -ENOMEM;
	fdisk_set_ask(cxt, fdisk_ask_cb, d);
	r = fdisk_assign_device(cxt, d->path, 1);
	if (r < 0)
		goto out;
	if (!fdisk_has_label(cxt))
		goto out;

	d->pttype = strdup(fdisk_label_get_name(fdisk_get_label(cxt, NULL)));
	if (!d->pttype) {
		r = -ENOMEM;
		goto out;
	}
	if (fdisk_get_disklabel_id(cxt, &id) == 0 && id) {
		const char *v = strncmp(id, "0x", 2) == 0 ? id + 2 : id;

		d->ptuuid = xstrdup_lower(v);
	}
	r = fdisk_get_partitions(cxt, &tb);
	if (r < 0)
		goto out;
	size_t n = fdisk_table_get_nents(tb);
	if (n > MIG_MAX_PARTITIONS) {
		mig_diags_add(&d->diags, MIG_SEV_ERROR, "partition-table",
			      "%zu partitions: more than the %d this tool reads", n, MIG_MAX_PARTITIONS);
		n = MIG_MAX_PARTITIONS;
	}
	d->parts = calloc(n ? n : 1, sizeof(*d->parts));
	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	if (!d->parts || !itr) {
		r = -ENOMEM;
		goto out;
	}
	while (d->nparts < n && fdisk_table_next_partition(tb, itr, &pa) == 0) {
		r = read_partition(cxt, pa, d, &d->parts[d->nparts++]);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(id);
	fdisk_free_iter(itr);
	fdisk_unref_table(tb);
	fdisk_unref_context(cxt);
	return r;
}

/* Model, serial and flags from /sys/dev/block/MAJ:MIN. */
static void read_sysfs_facts(struct mig_disk *d, dev_t rdev)
{
	char dir[PATH_MAX], real[PATH_MAX], sub[PATH_MAX + 16];
	uint64_t v;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
	if (!realpath(dir, real))
		return;
	const char *base = strrchr(real, '/');
	free(d->name);
	d->name = strdup(base ? base + 1 : real);

	snprintf(sub, sizeof(sub), "%s/device", real);
	mig_sysfs_read_str(sub, "model", &d->model);
	if (mig_sysfs_read_str(sub, "serial", &d->serial) < 0)
		mig_sysfs_read_str(sub, "wwid", &d->serial);
	snprintf(sub, sizeof(sub), "%s/queue", real);
	if (mig_sysfs_read_u64(sub, "rotational", &v) == 0)
		d->rotational = v != 0;
	if (mig_sysfs_read_u64(real, "removable", &v) == 0)
		d->removable = v != 0;
	if (mig_sysfs_read_u64(real, "ro", &v) == 0)
		d->read_only = v != 0;
}

static int read_geometry(struct mig_disk *d, int fd, const struct stat *st)
{
	if (d->is_image) {
		d->size = (uint64_t)st->st_size;
		d->log_sec = d->phy_sec = MIG_SECTOR_SIZE;
		return 0;
	}
	int ls = 0;
	unsigned int ps = 0;
	uint64_t sz = 0;

	if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
		return -errno;
	if (ioctl(fd, BLKSSZGET, &ls) < 0 || ls <= 0)
		ls = MIG_SECTOR_SIZE;
	if (ioctl(fd, BLKPBSZGET, &ps) < 0 || ps == 0)
		ps = (unsigned)ls;
	d->size = sz;
	d->log_sec = (unsigned)ls;
	d->phy_sec = ps;
	return 0;
}

/* libfdisk falls back to the protective MBR without a word when both GPT
 * headers are bad, and says "PMBR size mismatch" for a truncated image: name
 * those cases plainly. pttype becomes "PMBR", as blkid calls it. */
static int check_gpt_headers(struct mig_disk *d, int fd)
{
	struct mig_gpt_header h;
	uint64_t total = d->size / d->log_sec;
	bool pmbr = false;
	ssize_t n;

	for (int i = 0; i < 4; i++)
		if (d->boot.mbr.part[i].type == MIG_MBR_TYPE_GPT_PMBR)
			pmbr = true;
	if (!pmbr || d->log_sec > 4096)
		return 0;

	uint8_t buf[4096];
	do
		n = pread(fd, buf, d->log_sec, d->log_sec);
	while (n < 0 && errno == EINTR);
	int primary = n == (ssize_t)d->log_sec ? mig_gpt_header_parse(buf, d->log_sec, &h) : -ENOENT;

	/* A hybrid ISO's GPT is laid out for 512-byte sectors; on a CD drive
	 * (2048-byte sectors) it is not at LBA 1. That is how such media are
	 * made, not damage. */
	if (primary != 0 && d->log_sec != MIG_SECTOR_SIZE) {
		do
			n = pread(fd, buf, MIG_SECTOR_SIZE, MIG_SECTOR_SIZE);
		while (n < 0 && errno == EINTR);
		if (n == MIG_SECTOR_SIZE && mig_gpt_header_parse(buf, MIG_SECTOR_SIZE, &h) == 0) {
			free(d->pttype);
			d->pttype = strdup("PMBR");
			return d->pttype ? mig_diags_add(&d->diags, MIG_SEV_INFO, "gpt-512",
					     "the GPT is laid out for 512-byte sectors but this device has %u-byte sectors (a hybrid ISO on a CD drive): its partitions are visible only when the image is used as a disk",
					     d->log_sec) : -ENOMEM;
		}
	}
	if (d->pttype && strcmp(d->pttype, "dos") == 0) {
		free(d->pttype);
		d->pttype = strdup("PMBR");
		if (!d->pttype)
			return -ENOMEM;
		if (primary != 0)
			return mig_diags_add(&d->diags, MIG_SEV_ERROR, "gpt-lost",
					     "protective MBR found, but neither the primary nor the backup GPT header is valid: the partition table is lost (restore it from a backup before migrating)");
	}
	if (primary == 0 && (h.alternate_lba >= total || h.last_usable_lba >= total))
		return mig_diags_add(&d->diags, MIG_SEV_ERROR, "truncated",
				     "the GPT describes a disk of at least %llu sectors, but this one has %llu: a truncated image, or a copy onto a smaller disk",
				     (unsigned long long)(h.alternate_lba > h.last_usable_lba ?
							  h.alternate_lba + 1 : h.last_usable_lba + 1),
				     (unsigned long long)total);
	return 0;
}

static bool is_rescue_label(const char *s)
{
	return s && strcmp(s, MIG_RESCUE_LABEL) == 0;
}

int mig_disk_probe(const char *path, struct mig_disk **ret_disk)
{
	struct mig_disk *d;
	struct stat st;
	uint8_t sector[MIG_SECTOR_SIZE];
	ssize_t n;
	int fd = -1, r;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -ENOTBLK;
	if (S_ISREG(st.st_mode) && st.st_size < MIG_SECTOR_SIZE)
		return -ENODATA;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->rotational = d->removable = d->read_only = -1;
	d->is_image = S_ISREG(st.st_mode);
	d->path = strdup(path);
	const char *base = strrchr(path, '/');
	d->name = strdup(base ? base + 1 : path);
	if (!d->path || !d->name) {
		r = -ENOMEM;
		goto fail;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = read_geometry(d, fd, &st)) < 0)
		goto fail;
	if (!d->is_image)
		read_sysfs_facts(d, st.st_rdev);
	if (d->size == 0) {
		r = -ENOMEDIUM;
		goto fail;
	}
	if (d->size % d->log_sec)
		mig_diags_add(&d->diags, MIG_SEV_ERROR, "truncated",
			      "size %llu is not a multiple of the %u-byte sector: a truncated image?",
			      (unsigned long long)d->size, d->log_sec);

	do
		n = pread(fd, sector, sizeof(sector), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		goto fail;
	}
	if (n == (ssize_t)sizeof(sector))
		mig_bootsect_parse(sector, sizeof(sector), &d->boot.mbr);

	if ((r = read_table(d)) < 0)
		goto fail;
	if ((r = check_gpt_headers(d, fd)) < 0)
		goto fail;
	if ((r = probe_area(fd, 0, d->size, true, &d->fs)) < 0)
		goto fail;

	/* A FAT boot sector ends in 55AA too: libfdisk then sees an empty DOS
	 * label where blkid (rightly) sees a filesystem and no table. */
	if (d->pttype && strcmp(d->pttype, "dos") == 0 && d->nparts == 0 && d->fs.type) {
		free(d->pttype);
		free(d->ptuuid);
		d->pttype = d->ptuuid = NULL;
	}
	uint64_t total = d->size / d->log_sec;
	for (size_t i = 0; i < d->nparts; i++) {
		struct mig_part *p = &d->parts[i];

		if (d->pttype && strcmp(d->pttype, "gpt") == 0) {
			if (p->type && strcmp(p->type, MIG_GPT_TYPE_BIOS_BOOT) == 0 && !d->boot.bios_boot_partno)
				d->boot.bios_boot_partno = p->partno;
			if (p->type && strcmp(p->type, MIG_GPT_TYPE_ESP) == 0 && !d->boot.esp_partno)
				d->boot.esp_partno = p->partno;
		} else if (p->type && strcmp(p->type, "0xef") == 0 && !d->boot.esp_partno) {
			d->boot.esp_partno = p->partno;
		}
		if (p->container)
			continue;
		if (p->start >= total || p->sectors > total - p->start) {
			mig_diags_add(&p->diags, MIG_SEV_ERROR, "past-end",
				      "partition %zu (sectors %llu-%llu) reaches past the end of the disk (%llu sectors): a truncated image?",
				      p->partno, (unsigned long long)p->start,
				      (unsigned long long)(p->start + p->sectors - 1),
				      (unsigned long long)total);
			if (p->start >= total)
				continue;
		}
		uint64_t len = p->sectors;
		if (len > total - p->start)
			len = total - p->start;
		r = probe_area(fd, p->start * d->log_sec, len * d->log_sec, false, &p->fs);
		if (r < 0)
			goto fail;
		if (is_rescue_label(p->fs.label) || is_rescue_label(p->name))
			d->rescue_medium = true;
	}
	if (is_rescue_label(d->fs.label))
		d->rescue_medium = true;
	d->boot.hybrid_mbr = d->pttype && strcmp(d->pttype, "gpt") == 0 &&
			     mig_bootsect_is_hybrid(&d->boot.mbr);
	close(fd);
	*ret_disk = d;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	mig_disk_free(d);
	return r;
}

void mig_disk_clear(struct mig_disk *d)
{
	for (size_t i = 0; i < d->nparts; i++) {
		struct mig_part *p = &d->parts[i];

		free(p->path);
		free(p->type);
		free(p->type_name);
		free(p->uuid);
		free(p->name);
		free(p->attrs);
		fs_clear(&p->fs);
		mig_diags_clear(&p->diags);
	}
	free(d->parts);
	free(d->name);
	free(d->path);
	free(d->model);
	free(d->serial);
	free(d->pttype);
	free(d->ptuuid);
	fs_clear(&d->fs);
	mig_diags_clear(&d->diags);
	memset(d, 0, sizeof(*d));
}

void mig_disk_free(struct mig_disk *d)
{
	if (!d)
		return;
	mig_disk_clear(d);
	free(d);
}

void mig_strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mig_list_disks(const char *sysfs_block, char ***ret_paths)
{
	DIR *dir = opendir(sysfs_block);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	int r = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		const char *nm = de->d_name;
		char sub[PATH_MAX];
		uint64_t size = 0;

		if (nm[0] == '.' || !strncmp(nm, "ram", 3) || !strncmp(nm, "zram", 4) ||
		    !strncmp(nm, "loop", 4))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", sysfs_block, nm);
		if (mig_sysfs_read_u64(sub, "size", &size) < 0 || size == 0)
			continue;
		if (n >= MIG_MAX_DISKS)
			break;
		char **nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		if (asprintf(&v[n], "/dev/%s", nm) < 0) {
			r = -ENOMEM;
			break;
		}
		/* "cciss!c0d0" is /dev/cciss/c0d0 */
		for (char *p = v[n]; *p; p++)
			if (*p == '!')
				*p = '/';
		v[++n] = NULL;
	}
	closedir(dir);
	if (r < 0) {
		mig_strv_free(v);
		return r;
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	qsort(v, n, sizeof(*v), cmp_str);
	*ret_paths = v;
	return (int)n;
}

int mig_inventory_scan(char *const *paths, size_t npaths, mig_probe_error_fn on_error,
		       void *userdata, struct mig_inventory **ret_inv)
{
	struct mig_inventory *inv;
	int failed = 0, r;

	if (npaths > MIG_MAX_DISKS)
		return -E2BIG;
	inv = calloc(1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	inv->disks = calloc(npaths ? npaths : 1, sizeof(*inv->disks));
	if (!inv->disks) {
		free(inv);
		return -ENOMEM;
	}
	inv->uefi = access("/sys/firmware/efi", F_OK) == 0;
	for (size_t i = 0; i < npaths; i++) {
		struct mig_disk *d = NULL;

		r = mig_disk_probe(paths[i], &d);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0) {
			failed++;
			if (on_error)
				on_error(paths[i], r, userdata);
			continue;
		}
		inv->disks[inv->ndisks++] = *d;
		free(d);
	}
	r = mig_readiness_check(inv);
	if (r < 0)
		goto fail;
	*ret_inv = inv;
	return failed;
fail:
	mig_inventory_free(inv);
	return r;
}

void mig_inventory_free(struct mig_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->ndisks; i++)
		mig_disk_clear(&inv->disks[i]);
	free(inv->disks);
	mig_diags_clear(&inv->diags);
	free(inv);
}
