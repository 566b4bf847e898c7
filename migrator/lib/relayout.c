/* relayout.c — see relayout.h: the plan (pure) and its JSON and sfdisk
 * forms. Writing the plan onto a disk is relayout-apply.c. */
#include "relayout.h"
#include "human.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT_ROOT_X86_64  "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#define GPT_ROOT_AARCH64 "b921b045-1df0-41c3-af44-4c6f280d3fae"
#define GPT_ENTRIES_BYTES (128 * 128)   /* the usual 128 entries of 128 bytes */

static int refuse(int err, char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
static uint64_t align_down(uint64_t v, uint64_t a) { return v / a * a; }

static bool is_ext(const char *t)
{
	return t && (!strcmp(t, "ext2") || !strcmp(t, "ext3") || !strcmp(t, "ext4"));
}

/* The smallest filesystem mkfs makes of a type (xfsprogs refuses below
 * 300 MiB since 5.19). */
static uint64_t fs_minimum(const char *type)
{
	if (type && !strcmp(type, "xfs"))
		return 300ull << 20;
	return 16ull << 20;
}

/* What a `files` partition needs when it shrinks: its used bytes plus the
 * margin (relayout.h), at least the filesystem's minimum, aligned. */
static uint64_t files_need(const struct mig_layout_part *p)
{
	uint64_t used = p->fs.used;
	uint64_t a = used + used / 100 * 15 + (used % 100) * 15 / 100 + MIG_PLAN_MARGIN_ADD;
	uint64_t b = used + MIG_PLAN_MARGIN_MIN;
	uint64_t need = a > b ? a : b;

	if (need < fs_minimum(p->fs.type))
		need = fs_minimum(p->fs.type);
	return align_up(need, MIG_PLAN_ALIGN);
}

static int copy_str(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int copy_part(const struct mig_layout_part *s, struct mig_layout_part *d, bool new_uuid)
{
	int r;

	*d = *s;
	d->type = d->uuid = d->name = d->attrs = NULL;
	d->fs.type = d->fs.uuid = d->fs.label = d->fs.version = d->fs.features = NULL;
	if ((r = copy_str(s->type, &d->type)) < 0 || (r = copy_str(s->uuid, &d->uuid)) < 0 ||
	    (r = copy_str(s->name, &d->name)) < 0 || (r = copy_str(s->attrs, &d->attrs)) < 0 ||
	    (r = copy_str(s->fs.type, &d->fs.type)) < 0 ||
	    (r = copy_str(new_uuid ? NULL : s->fs.uuid, &d->fs.uuid)) < 0 ||
	    (r = copy_str(s->fs.label, &d->fs.label)) < 0 ||
	    (r = copy_str(s->fs.version, &d->fs.version)) < 0 ||
	    (r = copy_str(s->fs.features, &d->fs.features)) < 0)
		return r;
	return 0;
}

void mig_plan_free(struct mig_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nparts; i++) {
		struct mig_layout_part *lp = &p->parts[i].part;
		free(lp->type);
		free(lp->uuid);
		free(lp->name);
		free(lp->attrs);
		free(lp->fs.type);
		free(lp->fs.uuid);
		free(lp->fs.label);
		free(lp->fs.version);
		free(lp->fs.features);
	}
	free(p->parts);
	free(p->pttype);
	free(p->ptuuid);
	free(p);
}

/* Places the plan's partitions one after the other in source disk order
 * (order[]), each start aligned, logical ones each behind a 1 MiB slot for
 * their EBR, the container around them. Returns the end of the last
 * partition (bytes). */
static uint64_t place(struct mig_plan *p, const size_t *order, size_t n)
{
	uint64_t cur = MIG_PLAN_ALIGN, end = MIG_PLAN_ALIGN;
	struct mig_plan_part *container = NULL;

	for (size_t k = 0; k < p->nparts; k++)
		if (p->parts[k].method == MIG_COPY_CONTAINER)
			container = &p->parts[k];
	if (container)
		container->start = 0;
	for (size_t k = 0; k < n; k++) {
		struct mig_plan_part *pp = &p->parts[order[k]];
		if (pp->method == MIG_COPY_CONTAINER)
			continue;
		cur = align_up(cur, MIG_PLAN_ALIGN);
		if (pp->part.logical && container) {
			if (!container->start)
				container->start = cur;
			cur += MIG_PLAN_ALIGN;          /* the EBR's slot */
		}
		pp->start = cur;
		cur += pp->size;
		if (pp->part.logical && container)
			container->size = cur - container->start;
		end = cur;
	}
	if (container && !container->start) {
		/* An empty extended partition: keep a 1 MiB one where it was in order. */
		container->start = align_up(cur, MIG_PLAN_ALIGN);
		container->size = MIG_PLAN_ALIGN;
		end = container->start + container->size;
	}
	return end;
}

static int cmp_start(const void *a, const void *b, void *ctx)
{
	const struct mig_layout *l = ctx;
	const struct mig_layout_part *x = &l->parts[*(const size_t *)a], *y = &l->parts[*(const size_t *)b];

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->partno < y->partno ? -1 : x->partno > y->partno;
}

static bool is_root_type(const char *t)
{
	return t && (!strcmp(t, GPT_ROOT_X86_64) || !strcmp(t, GPT_ROOT_AARCH64));
}

/* The index of the partition that grows or takes what remains; -1 none. */
static int choose_grow(const struct mig_layout *l, const size_t *order, const struct mig_plan_opts *o,
		       char *why, size_t whylen)
{
	if (o->grow_partno) {
		for (size_t i = 0; i < l->nparts; i++)
			if (l->parts[i].partno == o->grow_partno) {
				if (l->parts[i].method != MIG_COPY_FILES)
					return refuse(-EINVAL, why, whylen,
						      "partition %u cannot grow: it is copied as %s, not as files",
						      o->grow_partno, mig_copy_method_name(l->parts[i].method));
				return (int)i;
			}
		return refuse(-EINVAL, why, whylen, "there is no partition %u to grow", o->grow_partno);
	}
	for (size_t i = 0; i < l->nparts; i++)
		if (l->parts[i].method == MIG_COPY_FILES && !strcmp(l->pttype, "gpt") && is_root_type(l->parts[i].type))
			return (int)i;
	int last = -1;
	for (size_t k = 0; k < l->nparts; k++)
		if (l->parts[order[k]].method == MIG_COPY_FILES)
			last = (int)order[k];
	return last;
}

int mig_plan_make(const struct mig_layout *src, uint64_t target_bytes, uint32_t target_sector,
		  const struct mig_plan_opts *opts, struct mig_plan **ret, char *why, size_t whylen)
{
	static const struct mig_plan_opts defaults;
	const struct mig_plan_opts *o = opts ? opts : &defaults;
	struct mig_plan *p = NULL;
	size_t *order = NULL;
	char h1[32], h2[32], h3[32];
	int r, grow;

	if (whylen)
		why[0] = '\0';
	if (!target_sector)
		target_sector = 512;
	if (target_sector < 512 || target_sector > 65536 || (target_sector & (target_sector - 1)))
		return refuse(-EINVAL, why, whylen, "unsupported sector size %u", target_sector);
	if (!src->pttype || (strcmp(src->pttype, "gpt") && strcmp(src->pttype, "dos")))
		return refuse(-EINVAL, why, whylen, "the source has no GPT or MBR partition table");
	if (src->nparts > MIG_LAYOUT_MAX_PARTS)
		return refuse(-E2BIG, why, whylen, "too many partitions (%zu)", src->nparts);
	if (!strcmp(src->pttype, "dos") && target_bytes / target_sector > UINT32_MAX)
		return refuse(-EOPNOTSUPP, why, whylen,
			      "an MBR partition table addresses at most 2^32 sectors; the target has %" PRIu64,
			      target_bytes / target_sector);

	p = calloc(1, sizeof(*p));
	order = calloc(src->nparts ? src->nparts : 1, sizeof(*order));
	if (!p || !order || !(p->parts = calloc(src->nparts ? src->nparts : 1, sizeof(*p->parts)))) {
		r = -ENOMEM;
		goto fail;
	}
	p->target_size = target_bytes;
	p->target_sector = target_sector;
	p->src_size = src->size;
	p->src_sector = src->sector;
	if ((r = copy_str(src->pttype, &p->pttype)) < 0 || (r = copy_str(src->ptuuid, &p->ptuuid)) < 0)
		goto fail;

	for (size_t i = 0; i < src->nparts; i++) {
		const struct mig_layout_part *lp = &src->parts[i];
		struct mig_plan_part *pp = &p->parts[p->nparts++];

		order[i] = i;
		pp->partno = lp->partno;
		pp->src_start = lp->start;
		pp->src_size = lp->size;
		pp->method = lp->method;
		r = copy_part(lp, &pp->part, o->new_uuids && lp->method != MIG_COPY_RAW);
		if (r < 0)
			goto fail;
		pp->block_size = lp->fs.block_size;
		switch (lp->method) {
		case MIG_COPY_NONE:
			if (!o->skip_unknown) {
				r = refuse(-EOPNOTSUPP, why, whylen,
					   "partition %u holds %s, which a file-level copy cannot carry "
					   "(skip it to keep an empty partition of the same size)",
					   lp->partno, lp->fs.type ? lp->fs.type : "nothing it recognises");
				goto fail;
			}
			pp->skipped = true;
			break;
		case MIG_COPY_RAW:
			if (lp->size % target_sector) {
				r = refuse(-EOPNOTSUPP, why, whylen,
					   "partition %u (%" PRIu64 " bytes) is copied as bytes but is not a whole "
					   "number of the target's %u-byte sectors", lp->partno, lp->size, target_sector);
				goto fail;
			}
			if (target_sector != src->sector && lp->fs.type && !strcmp(lp->fs.type, "vfat")) {
				r = refuse(-EOPNOTSUPP, why, whylen,
					   "partition %u is FAT made for %u-byte sectors; the target's sectors are "
					   "%u bytes, and a byte copy would not mount there",
					   lp->partno, src->sector, target_sector);
				goto fail;
			}
			break;
		case MIG_COPY_FILES:
			p->used_bytes += lp->fs.used;
			if (pp->block_size && pp->block_size < target_sector)
				pp->block_size = target_sector;
			break;
		default:
			break;
		}
	}
	bool logical = false, container = false;
	for (size_t i = 0; i < src->nparts; i++) {
		logical |= src->parts[i].logical;
		container |= src->parts[i].method == MIG_COPY_CONTAINER;
	}
	if (logical && !container) {
		r = refuse(-EINVAL, why, whylen, "logical partitions without an extended partition");
		goto fail;
	}
	qsort_r(order, src->nparts, sizeof(*order), cmp_start, (void *)src);
	grow = choose_grow(src, order, o, why, whylen);
	if (grow < -1) {
		r = grow;
		goto fail;
	}

	/* The disk's end less the backup GPT, aligned down. */
	uint64_t tail = !strcmp(src->pttype, "gpt") ? target_sector + GPT_ENTRIES_BYTES : 0;
	uint64_t avail = target_bytes > tail ? align_down(target_bytes - tail, MIG_PLAN_ALIGN) : 0;

	/* Shrunk sizes first: they give the smallest target this plan accepts. */
	for (size_t i = 0; i < p->nparts; i++) {
		struct mig_plan_part *pp = &p->parts[i];
		uint64_t keep = align_up(pp->src_size, target_sector);
		if (pp->method == MIG_COPY_FILES) {
			uint64_t need = files_need(&src->parts[i]);
			pp->size = need < keep ? need : keep;
		} else {
			pp->size = keep;
		}
	}
	uint64_t end_min = place(p, order, src->nparts);
	p->needed_bytes = align_up(end_min, MIG_PLAN_ALIGN) + tail;
	if (end_min > avail) {
		mig_human_bytes(p->needed_bytes, h1, sizeof(h1));
		mig_human_bytes(target_bytes, h2, sizeof(h2));
		mig_human_bytes(p->used_bytes, h3, sizeof(h3));
		r = refuse(-ENOSPC, why, whylen,
			   "the target is too small: the plan needs %s (%" PRIu64 " bytes: %s in use plus "
			   "margins, fixed partitions and alignment), the target has %s (%" PRIu64 " bytes)",
			   h1, p->needed_bytes, h3, h2, target_bytes);
		goto fail;
	}

	/* Does every partition fit at its old size? Then only grow. */
	for (size_t i = 0; i < p->nparts; i++)
		p->parts[i].size = align_up(p->parts[i].src_size, target_sector);
	uint64_t end_keep = place(p, order, src->nparts);
	if (end_keep > avail) {
		for (size_t i = 0; i < p->nparts; i++) {
			struct mig_plan_part *pp = &p->parts[i];
			if (pp->method == MIG_COPY_FILES && (int)i != grow) {
				uint64_t need = files_need(&src->parts[i]);
				if (need < pp->size)
					pp->size = need;
			}
		}
		if (grow >= 0) {
			uint64_t need = files_need(&src->parts[grow]);
			if (need < p->parts[grow].size)
				p->parts[grow].size = need;
		}
		end_keep = place(p, order, src->nparts);
	}
	if (grow >= 0 && end_keep < avail) {
		p->parts[grow].size += avail - end_keep;
		end_keep = place(p, order, src->nparts);
	}
	for (size_t i = 0; i < p->nparts; i++) {
		struct mig_plan_part *pp = &p->parts[i];
		pp->grown = pp->size > pp->src_size;
		pp->shrunk = pp->size < pp->src_size;
		if (pp->method == MIG_COPY_FILES && is_ext(pp->part.fs.type) && src->parts[i].fs.inode_count) {
			/* Same bytes per inode, and room for every inode in use. */
			const struct mig_layout_fs *fs = &src->parts[i].fs;
			uint64_t ratio = fs->size / fs->inode_count;
			uint64_t n = ratio ? pp->size / ratio : fs->inode_count;
			uint64_t min = fs->inodes_used + fs->inodes_used / 8 + 1024;
			if (n < min)
				n = min;
			if (n > UINT32_MAX)
				n = UINT32_MAX;
			pp->inode_count = n;
		}
	}
	free(order);
	*ret = p;
	return 0;
fail:
	free(order);
	mig_plan_free(p);
	return r;
}

int mig_plan_to_json(const struct mig_plan *p, struct json_writer *w, const char *key)
{
	json_object_begin(w, key);
	json_uint(w, "size", p->target_size);
	json_uint(w, "log-sec", p->target_sector);
	json_uint(w, "source-size", p->src_size);
	json_uint(w, "source-log-sec", p->src_sector);
	json_string(w, "pttype", p->pttype);
	json_string(w, "ptuuid", p->ptuuid);
	json_uint(w, "used", p->used_bytes);
	json_uint(w, "needed", p->needed_bytes);
	json_array_begin(w, "partitions");
	for (size_t i = 0; i < p->nparts; i++) {
		const struct mig_plan_part *pp = &p->parts[i];
		json_object_begin(w, NULL);
		json_uint(w, "partn", pp->partno);
		json_string(w, "method", mig_copy_method_name(pp->method));
		json_string(w, "fstype", pp->part.fs.type);
		json_string(w, "uuid", pp->part.fs.uuid);
		json_string(w, "label", pp->part.fs.label);
		json_string(w, "partuuid", pp->part.uuid);
		json_uint(w, "source-start", pp->src_start);
		json_uint(w, "source-size", pp->src_size);
		json_uint(w, "start", pp->start);
		json_uint(w, "size", pp->size);
		json_uint(w, "fsused", pp->part.fs.used);
		json_bool(w, "grown", pp->grown);
		json_bool(w, "shrunk", pp->shrunk);
		json_bool(w, "skipped", pp->skipped);
		if (pp->block_size)
			json_uint(w, "fs-block-size", pp->block_size);
		else
			json_null(w, "fs-block-size");
		if (pp->inode_count)
			json_uint(w, "inodes", pp->inode_count);
		else
			json_null(w, "inodes");
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
	return 0;
}

/* A value for the sfdisk script: safe characters only (the layout reader
 * already refused control characters); a name with a quote is refused. */
static int script_str(FILE *f, const char *key, const char *val)
{
	if (!val || !*val)
		return 0;
	if (strchr(val, '"') || strchr(val, '\\'))
		return -EINVAL;
	fprintf(f, ", %s=\"%s\"", key, val);
	return 0;
}

int mig_plan_sfdisk_script(const struct mig_plan *p, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint32_t ts = p->target_sector;
	bool gpt = !strcmp(p->pttype, "gpt");
	int r = 0;

	if (!f)
		return -ENOMEM;
	fprintf(f, "label: %s\n", p->pttype);
	if (p->ptuuid)
		fprintf(f, "label-id: %s%s\n", gpt ? "" : "0x", p->ptuuid);
	fprintf(f, "unit: sectors\n");
	if (gpt)
		fprintf(f, "first-lba: %u\n", MIG_PLAN_ALIGN / ts);
	fputc('\n', f);
	for (size_t i = 0; i < p->nparts && r == 0; i++) {
		const struct mig_plan_part *pp = &p->parts[i];
		const char *type = pp->part.type ? pp->part.type : gpt ? "0fc63daf-8483-4772-8e79-3d69d8477de4" : "0x83";
		if (!gpt && !strncmp(type, "0x", 2))
			type += 2;
		/* "partN :" keeps the partition numbers (libfdisk takes the trailing digits) */
		fprintf(f, "part%u : start=%" PRIu64 ", size=%" PRIu64 ", type=%s", pp->partno,
			pp->start / ts, pp->size / ts, type);
		if (gpt && pp->part.uuid)
			fprintf(f, ", uuid=%s", pp->part.uuid);
		if (gpt)
			r = script_str(f, "name", pp->part.name);
		if (r == 0 && gpt)
			r = script_str(f, "attrs", pp->part.attrs);
		if (!gpt && pp->part.bootable)
			fputs(", bootable", f);
		fputc('\n', f);
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}
