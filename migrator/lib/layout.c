/* layout.c — see layout.h: probing a source disk's layout. The partition
 * table and signatures come from inventory (libfdisk, libblkid); the
 * creation parameters and used bytes from the filesystems' own superblocks
 * (ext2/3/4: e2fsprogs' lib/ext2fs/ext2_fs.h; xfs: xfs_format.h). */
#include "layout.h"
#include "fileio.h"
#include "inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdisk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const method_names[] = {
	[MIG_COPY_NONE] = "none", [MIG_COPY_FILES] = "files", [MIG_COPY_RAW] = "raw",
	[MIG_COPY_RECREATE] = "recreate", [MIG_COPY_CONTAINER] = "container",
};

const char *mig_copy_method_name(enum mig_copy_method m)
{
	return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : NULL;
}

int mig_copy_method_parse(const char *name, enum mig_copy_method *ret)
{
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (name && !strcmp(name, method_names[i])) {
			*ret = (enum mig_copy_method)i;
			return 0;
		}
	return -EINVAL;
}

static void fs_clear(struct mig_layout_fs *fs)
{
	free(fs->type);
	free(fs->uuid);
	free(fs->label);
	free(fs->version);
	free(fs->features);
	memset(fs, 0, sizeof(*fs));
}

void mig_layout_free(struct mig_layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nparts; i++) {
		struct mig_layout_part *p = &l->parts[i];
		free(p->type);
		free(p->uuid);
		free(p->name);
		free(p->attrs);
		fs_clear(&p->fs);
	}
	free(l->parts);
	free(l->source);
	free(l->pttype);
	free(l->ptuuid);
	free(l);
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

struct feature { int word; uint32_t mask; const char *name; };

/* The ext features mke2fs can create, by the names its -O takes. State
 * flags (needs_recovery, orphan_present) and features mke2fs cannot set at
 * creation (journal_dev: an external journal is not copied) are left out. */
static const struct feature ext_features[] = {
	{ 0, 0x0001, "dir_prealloc" }, { 0, 0x0002, "imagic_inodes" },
	{ 0, 0x0004, "has_journal" }, { 0, 0x0008, "ext_attr" },
	{ 0, 0x0010, "resize_inode" }, { 0, 0x0020, "dir_index" },
	{ 0, 0x0200, "sparse_super2" }, { 0, 0x0400, "fast_commit" },
	{ 0, 0x0800, "stable_inodes" }, { 0, 0x1000, "orphan_file" },
	{ 1, 0x0002, "filetype" }, { 1, 0x0010, "meta_bg" }, { 1, 0x0040, "extent" },
	{ 1, 0x0080, "64bit" }, { 1, 0x0100, "mmp" }, { 1, 0x0200, "flex_bg" },
	{ 1, 0x0400, "ea_inode" }, { 1, 0x2000, "metadata_csum_seed" },
	{ 1, 0x4000, "large_dir" }, { 1, 0x8000, "inline_data" },
	{ 1, 0x10000, "encrypt" }, { 1, 0x20000, "casefold" },
	{ 2, 0x0001, "sparse_super" }, { 2, 0x0002, "large_file" },
	{ 2, 0x0008, "huge_file" }, { 2, 0x0010, "uninit_bg" },
	{ 2, 0x0020, "dir_nlink" }, { 2, 0x0040, "extra_isize" },
	{ 2, 0x0100, "quota" }, { 2, 0x0200, "bigalloc" },
	{ 2, 0x0400, "metadata_csum" }, { 2, 0x2000, "project" },
	{ 2, 0x8000, "verity" },
};

static int add_name(char *buf, size_t n, size_t *used, const char *name)
{
	int k = snprintf(buf + *used, n - *used, "%s%s", *used ? "," : "", name);
	if (k < 0 || (size_t)k >= n - *used)
		return -E2BIG;
	*used += (size_t)k;
	return 0;
}

/* ext2/3/4 superblock at 1024 of the partition. */
static int probe_ext(int fd, uint64_t start, uint64_t part_size, struct mig_layout_fs *fs)
{
	uint8_t sb[1024];
	char feat[MIG_LAYOUT_MAX_STR];
	size_t used = 0;
	int r;

	if (part_size < 2048)
		return -EINVAL;
	r = mig_pread_all(fd, sb, sizeof(sb), start + 1024);
	if (r < 0)
		return r;
	if (le16(sb + 56) != 0xEF53)
		return -EINVAL;
	uint32_t log_bs = le32(sb + 24);
	if (log_bs > 6)
		return -EINVAL;
	uint32_t bs = 1024u << log_bs;
	uint32_t words[3] = { le32(sb + 92), le32(sb + 96), le32(sb + 100) };
	bool is64 = words[1] & 0x80;
	uint64_t blocks = le32(sb + 4) | (is64 ? (uint64_t)le32(sb + 0x150) << 32 : 0);
	uint64_t rblocks = le32(sb + 8) | (is64 ? (uint64_t)le32(sb + 0x154) << 32 : 0);
	uint64_t fblocks = le32(sb + 12) | (is64 ? (uint64_t)le32(sb + 0x158) << 32 : 0);
	uint32_t inodes = le32(sb + 0), finodes = le32(sb + 16);

	if (!blocks || fblocks > blocks || rblocks > blocks || finodes > inodes)
		return -EINVAL;
	fs->block_size = bs;
	fs->size = blocks * bs;
	fs->used = (blocks - fblocks) * bs;
	fs->used_known = true;
	fs->inode_count = inodes;
	fs->inodes_used = inodes - finodes;
	fs->inode_size = le32(sb + 76) >= 1 ? le16(sb + 88) : 128;   /* rev 0: 128 */
	fs->reserved_permille = (uint32_t)(rblocks * 1000 / blocks);
	for (size_t i = 0; i < sizeof(ext_features) / sizeof(ext_features[0]); i++)
		if (words[ext_features[i].word] & ext_features[i].mask) {
			r = add_name(feat, sizeof(feat), &used, ext_features[i].name);
			if (r < 0)
				return r;
		}
	feat[used] = '\0';
	fs->features = strdup(feat);
	return fs->features ? 0 : -ENOMEM;
}

/* XFS superblock (big-endian) at 0 of the partition. */
static int probe_xfs(int fd, uint64_t start, struct mig_layout_fs *fs)
{
	uint8_t sb[512];
	char feat[MIG_LAYOUT_MAX_STR];
	size_t used = 0;
	int r;

	r = mig_pread_all(fd, sb, sizeof(sb), start);
	if (r < 0)
		return r;
	if (memcmp(sb, "XFSB", 4))
		return -EINVAL;
	uint32_t bs = be32(sb + 4);
	uint64_t dblocks = be64(sb + 8), fdblocks = be64(sb + 144);
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)) || !dblocks || fdblocks > dblocks)
		return -EINVAL;
	fs->block_size = bs;
	fs->size = dblocks * bs;
	fs->used = (dblocks - fdblocks) * bs;     /* the internal log counts as used */
	fs->used_known = true;
	fs->inode_size = be16(sb + 104);
	bool v5 = (be16(sb + 100) & 0xf) == 5;
	uint32_t ro_compat = v5 ? be32(sb + 212) : 0, incompat = v5 ? be32(sb + 216) : 0;
	uint32_t features2 = be32(sb + 200);
	if (v5)
		r = add_name(feat, sizeof(feat), &used, "crc");
	if (r == 0 && (ro_compat & 1))
		r = add_name(feat, sizeof(feat), &used, "finobt");
	if (r == 0 && (ro_compat & 2))
		r = add_name(feat, sizeof(feat), &used, "rmapbt");
	if (r == 0 && (ro_compat & 4))
		r = add_name(feat, sizeof(feat), &used, "reflink");
	if (r == 0 && (ro_compat & 8))
		r = add_name(feat, sizeof(feat), &used, "inobtcount");
	if (r == 0 && ((incompat & 1) || (features2 & 0x200)))
		r = add_name(feat, sizeof(feat), &used, "ftype");
	if (r == 0 && (incompat & 8))
		r = add_name(feat, sizeof(feat), &used, "bigtime");
	if (r < 0)
		return r;
	feat[used] = '\0';
	fs->features = strdup(feat);
	return fs->features ? 0 : -ENOMEM;
}

static bool is_ext(const char *t)
{
	return t && (!strcmp(t, "ext2") || !strcmp(t, "ext3") || !strcmp(t, "ext4"));
}

/* The copy method of a partition, from its type and filesystem. */
static enum mig_copy_method choose_method(const struct mig_part *p, bool dos)
{
	const char *t = p->fs.type;

	if (p->container)
		return MIG_COPY_CONTAINER;
	if (!dos && p->type && !strcmp(p->type, MIG_GPT_TYPE_BIOS_BOOT))
		return MIG_COPY_RAW;
	if (!t || p->fs.ambivalent)
		return MIG_COPY_NONE;
	if (is_ext(t) || !strcmp(t, "xfs"))
		return MIG_COPY_FILES;
	if (!strcmp(t, "vfat"))
		return MIG_COPY_RAW;
	if (!strcmp(t, "swap"))
		return MIG_COPY_RECREATE;
	return MIG_COPY_NONE;
}

static int dup_str(const char *s, char **ret)
{
	if (!s) {
		*ret = NULL;
		return 0;
	}
	if (strlen(s) >= MIG_LAYOUT_MAX_STR)
		return -E2BIG;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int fill_part(int fd, const struct mig_disk *d, const struct mig_part *src,
		     struct mig_layout_part *p)
{
	int r;

	p->partno = (uint32_t)src->partno;
	p->start = src->start * d->log_sec;
	p->size = src->sectors * d->log_sec;
	p->bootable = src->bootable;
	p->logical = !strcmp(d->pttype, "dos") && src->partno > 4;
	p->method = choose_method(src, !strcmp(d->pttype, "dos"));
	if ((r = dup_str(src->type, &p->type)) < 0 || (r = dup_str(src->uuid, &p->uuid)) < 0 ||
	    (r = dup_str(src->name, &p->name)) < 0 || (r = dup_str(src->attrs, &p->attrs)) < 0 ||
	    (r = dup_str(src->fs.type, &p->fs.type)) < 0 || (r = dup_str(src->fs.uuid, &p->fs.uuid)) < 0 ||
	    (r = dup_str(src->fs.label, &p->fs.label)) < 0 ||
	    (r = dup_str(src->fs.version, &p->fs.version)) < 0)
		return r;
	p->fs.size = src->fs.size ? src->fs.size : p->size;
	p->fs.block_size = src->fs.block_size;
	p->fs.used = p->size;
	if (p->method == MIG_COPY_CONTAINER) {
		p->fs.size = p->fs.used = 0;
		return 0;
	}
	if (p->fs.type && is_ext(p->fs.type))
		r = probe_ext(fd, p->start, p->size, &p->fs);
	else if (p->fs.type && !strcmp(p->fs.type, "xfs"))
		r = probe_xfs(fd, p->start, &p->fs);
	else
		return 0;
	if (r == -EINVAL || r == -EIO) {
		/* A superblock blkid liked but we cannot read: keep the partition,
		 * counted whole; the copy decides what to do with it. */
		p->method = MIG_COPY_NONE;
		p->fs.used = p->size;
		p->fs.used_known = false;
		return 0;
	}
	if (r == 0 && p->fs.used > p->size)
		p->fs.used = p->size;
	return r;
}

static void read_lbas(const char *path, struct mig_layout *l)
{
	struct fdisk_context *cxt = fdisk_new_context();

	if (!cxt)
		return;
	if (fdisk_assign_device(cxt, path, 1) == 0 && fdisk_is_label(cxt, GPT)) {
		l->first_lba = fdisk_get_first_lba(cxt);
		l->last_lba = fdisk_get_last_lba(cxt);
	}
	fdisk_unref_context(cxt);
}

int mig_layout_probe(const char *disk, struct mig_layout **ret)
{
	struct mig_disk *d = NULL;
	struct mig_layout *l = NULL;
	int fd = -1, r;

	r = mig_disk_probe(disk, &d);
	if (r < 0)
		return r;
	if (!d->pttype) {
		r = -ENOMEDIUM;
		goto fail;
	}
	if (strcmp(d->pttype, "gpt") && strcmp(d->pttype, "dos")) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (d->nparts > MIG_LAYOUT_MAX_PARTS) {
		r = -E2BIG;
		goto fail;
	}
	fd = open(disk, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->parts = calloc(d->nparts ? d->nparts : 1, sizeof(*l->parts)))) {
		r = -ENOMEM;
		goto fail;
	}
	l->size = d->size;
	l->sector = d->log_sec;
	if ((r = dup_str(disk, &l->source)) < 0 || (r = dup_str(d->pttype, &l->pttype)) < 0 ||
	    (r = dup_str(d->ptuuid, &l->ptuuid)) < 0)
		goto fail;
	for (size_t i = 0; i < d->nparts; i++) {
		r = fill_part(fd, d, &d->parts[i], &l->parts[l->nparts++]);
		if (r < 0)
			goto fail;
	}
	read_lbas(disk, l);
	close(fd);
	mig_disk_free(d);
	*ret = l;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	mig_disk_free(d);
	mig_layout_free(l);
	return r;
}
