/* layout-json.c — see layout.h: the layout's JSON form, written with the one
 * JSON writer and read back, as untrusted input, through jsonread. */
#include "layout.h"
#include "jsonread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void part_to_json(const struct mig_layout_part *p, struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_uint(w, "partn", p->partno);
	json_uint(w, "start", p->start);
	json_uint(w, "size", p->size);
	json_string(w, "parttype", p->type);
	json_string(w, "partuuid", p->uuid);
	json_string(w, "partlabel", p->name);
	json_string(w, "partflags", p->attrs);
	json_bool(w, "bootable", p->bootable);
	json_bool(w, "logical", p->logical);
	json_string(w, "method", mig_copy_method_name(p->method));
	json_string(w, "fstype", p->fs.type);
	json_string(w, "uuid", p->fs.uuid);
	json_string(w, "label", p->fs.label);
	json_string(w, "fsver", p->fs.version);
	json_uint(w, "fssize", p->fs.size);
	json_uint(w, "fsused", p->fs.used);
	json_bool(w, "fsused-known", p->fs.used_known);
	json_uint(w, "fs-block-size", p->fs.block_size);
	json_uint(w, "inode-size", p->fs.inode_size);
	json_uint(w, "inodes", p->fs.inode_count);
	json_uint(w, "inodes-used", p->fs.inodes_used);
	json_uint(w, "reserved-permille", p->fs.reserved_permille);
	json_string(w, "features", p->fs.features);
	json_object_end(w);
}

int mig_layout_to_json(const struct mig_layout *l, struct json_writer *w, const char *key)
{
	json_object_begin(w, key);
	json_string(w, "source", l->source);
	json_uint(w, "size", l->size);
	json_uint(w, "log-sec", l->sector);
	json_string(w, "pttype", l->pttype);
	json_string(w, "ptuuid", l->ptuuid);
	json_uint(w, "first-lba", l->first_lba);
	json_uint(w, "last-lba", l->last_lba);
	json_array_begin(w, "partitions");
	for (size_t i = 0; i < l->nparts; i++)
		part_to_json(&l->parts[i], w);
	json_array_end(w);
	json_object_end(w);
	return 0;
}

int mig_layout_to_json_string(const struct mig_layout *l, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer *w;
	int r;

	if (!f)
		return -ENOMEM;
	w = json_new(f, false);
	if (!w) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	mig_layout_to_json(l, w, NULL);
	r = json_finish(w);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	/* Compact output ends without a newline; open_memstream NUL-terminates. */
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* --- reading ------------------------------------------------------------- */

/* Characters allowed in identifiers that end up on mkfs command lines and in
 * partition tables: UUIDs, type GUIDs and codes, feature lists. */
static bool only(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define HEX "0123456789abcdefABCDEF"

static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A string member, or NULL (null or absent); -EINVAL for another type or a
 * string with control characters or outside charset (when given). */
static int get_str(const struct mig_jv *o, const char *key, const char *charset, char **ret)
{
	const struct mig_jv *v = mig_jv_get(o, key);

	*ret = NULL;
	if (!v || v->type == MIG_JV_NULL)
		return 0;
	if (v->type != MIG_JV_STRING || !printable(v->s) || (charset && !only(v->s, charset)))
		return -EINVAL;
	*ret = strdup(v->s);
	return *ret ? 0 : -ENOMEM;
}

static int get_u64(const struct mig_jv *o, const char *key, bool required, uint64_t max, uint64_t *ret)
{
	const struct mig_jv *v = mig_jv_get(o, key);

	*ret = 0;
	if (!v || v->type == MIG_JV_NULL)
		return required ? -EINVAL : 0;
	if (v->type != MIG_JV_NUMBER || !v->is_uint || v->u > max)
		return -EINVAL;
	*ret = v->u;
	return 0;
}

static int get_u32(const struct mig_jv *o, const char *key, bool required, uint32_t max, uint32_t *ret)
{
	uint64_t u;
	int r = get_u64(o, key, required, max, &u);

	*ret = (uint32_t)u;
	return r;
}

static int get_bool(const struct mig_jv *o, const char *key, bool *ret)
{
	const struct mig_jv *v = mig_jv_get(o, key);

	*ret = false;
	if (!v || v->type == MIG_JV_NULL)
		return 0;
	if (v->type != MIG_JV_BOOL)
		return -EINVAL;
	*ret = v->b;
	return 0;
}

#define MAX_BYTES (1ull << 60)   /* 1 EiB: no disk is larger; sums cannot overflow */

static int part_from_json(const struct mig_jv *o, const struct mig_layout *l, struct mig_layout_part *p)
{
	char *method = NULL;
	int r;

	if (o->type != MIG_JV_OBJECT)
		return -EINVAL;
	if ((r = get_u32(o, "partn", true, MIG_LAYOUT_MAX_PARTS * 4, &p->partno)) < 0 ||
	    (r = get_u64(o, "start", true, MAX_BYTES, &p->start)) < 0 ||
	    (r = get_u64(o, "size", true, MAX_BYTES, &p->size)) < 0 ||
	    (r = get_str(o, "parttype", HEX "x-", &p->type)) < 0 ||
	    (r = get_str(o, "partuuid", HEX "-", &p->uuid)) < 0 ||
	    (r = get_str(o, "partlabel", NULL, &p->name)) < 0 ||
	    (r = get_str(o, "partflags", NULL, &p->attrs)) < 0 ||
	    (r = get_bool(o, "bootable", &p->bootable)) < 0 ||
	    (r = get_bool(o, "logical", &p->logical)) < 0 ||
	    (r = get_str(o, "method", NULL, &method)) < 0 ||
	    (r = get_str(o, "fstype", "abcdefghijklmnopqrstuvwxyz0123456789_", &p->fs.type)) < 0 ||
	    (r = get_str(o, "uuid", HEX "-", &p->fs.uuid)) < 0 ||
	    (r = get_str(o, "label", NULL, &p->fs.label)) < 0 ||
	    (r = get_str(o, "fsver", NULL, &p->fs.version)) < 0 ||
	    (r = get_u64(o, "fssize", false, MAX_BYTES, &p->fs.size)) < 0 ||
	    (r = get_u64(o, "fsused", false, MAX_BYTES, &p->fs.used)) < 0 ||
	    (r = get_bool(o, "fsused-known", &p->fs.used_known)) < 0 ||
	    (r = get_u32(o, "fs-block-size", false, 1u << 20, &p->fs.block_size)) < 0 ||
	    (r = get_u32(o, "inode-size", false, 65536, &p->fs.inode_size)) < 0 ||
	    (r = get_u64(o, "inodes", false, UINT32_MAX, &p->fs.inode_count)) < 0 ||
	    (r = get_u64(o, "inodes-used", false, UINT32_MAX, &p->fs.inodes_used)) < 0 ||
	    (r = get_u32(o, "reserved-permille", false, 500, &p->fs.reserved_permille)) < 0 ||
	    (r = get_str(o, "features", "abcdefghijklmnopqrstuvwxyz0123456789_,", &p->fs.features)) < 0)
		goto out;
	r = -EINVAL;
	if (!method || mig_copy_method_parse(method, &p->method) < 0)
		goto out;
	if (!p->partno || !p->size || p->start % l->sector || p->size % l->sector ||
	    p->start + p->size > l->size || p->fs.used > p->size || p->fs.inodes_used > p->fs.inode_count)
		goto out;
	if ((p->method == MIG_COPY_FILES || p->method == MIG_COPY_RECREATE) && !p->fs.type)
		goto out;
	if (p->fs.block_size & (p->fs.block_size - 1))
		goto out;
	r = 0;
out:
	free(method);
	return r;
}

/* Partitions may not overlap, except logical ones inside their container. */
static int check_overlaps(const struct mig_layout *l)
{
	for (size_t i = 0; i < l->nparts; i++)
		for (size_t j = i + 1; j < l->nparts; j++) {
			const struct mig_layout_part *a = &l->parts[i], *b = &l->parts[j];
			if (a->partno == b->partno)
				return -EINVAL;
			bool nested = (a->method == MIG_COPY_CONTAINER && b->logical) ||
				      (b->method == MIG_COPY_CONTAINER && a->logical);
			if (nested)
				continue;
			if (a->start < b->start + b->size && b->start < a->start + a->size)
				return -EINVAL;
		}
	return 0;
}

int mig_layout_from_json(const char *text, size_t len, struct mig_layout **ret)
{
	static const struct mig_jv_limits lim = {
		.max_len = MIG_LAYOUT_MAX_JSON, .max_depth = 8,
		.max_values = MIG_LAYOUT_MAX_PARTS * 64 + 64, .max_string = MIG_LAYOUT_MAX_STR - 1,
	};
	struct mig_jv *root = NULL;
	struct mig_layout *l = NULL;
	const struct mig_jv *parts;
	int r;

	r = mig_json_parse(text, len, &lim, &root);
	if (r < 0)
		return r;
	r = -EINVAL;
	if (root->type != MIG_JV_OBJECT)
		goto fail;
	parts = mig_jv_get(root, "partitions");
	if (!parts || parts->type != MIG_JV_ARRAY)
		goto fail;
	if (parts->n > MIG_LAYOUT_MAX_PARTS) {
		r = -E2BIG;
		goto fail;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->parts = calloc(parts->n ? parts->n : 1, sizeof(*l->parts)))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = get_str(root, "source", NULL, &l->source)) < 0 ||
	    (r = get_u64(root, "size", true, MAX_BYTES, &l->size)) < 0 ||
	    (r = get_u32(root, "log-sec", true, 65536, &l->sector)) < 0 ||
	    (r = get_str(root, "pttype", NULL, &l->pttype)) < 0 ||
	    (r = get_str(root, "ptuuid", HEX "-", &l->ptuuid)) < 0 ||
	    (r = get_u64(root, "first-lba", false, MAX_BYTES, &l->first_lba)) < 0 ||
	    (r = get_u64(root, "last-lba", false, MAX_BYTES, &l->last_lba)) < 0)
		goto fail;
	r = -EINVAL;
	if (l->sector < 512 || (l->sector & (l->sector - 1)) || !l->size || l->size % l->sector)
		goto fail;
	if (!l->pttype || (strcmp(l->pttype, "gpt") && strcmp(l->pttype, "dos")))
		goto fail;
	for (size_t i = 0; i < parts->n; i++) {
		r = part_from_json(&parts->items[i], l, &l->parts[l->nparts++]);
		if (r < 0)
			goto fail;
	}
	r = check_overlaps(l);
	if (r < 0)
		goto fail;
	mig_jv_free(root);
	*ret = l;
	return 0;
fail:
	mig_jv_free(root);
	mig_layout_free(l);
	return r;
}
