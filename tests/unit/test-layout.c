/* test-layout.c — the layout's JSON form (round trip, hostile input),
 * the JSON reader, and the target planner (pure functions). */
#include "tap.h"
#include "jsonread.h"
#include "layout.h"
#include "relayout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

static char *xs(const char *s) { return s ? strdup(s) : NULL; }

static struct mig_layout *new_layout(const char *pttype, uint64_t size, size_t n)
{
	struct mig_layout *l = calloc(1, sizeof(*l));
	l->source = xs("/dev/vda");
	l->size = size;
	l->sector = 512;
	l->pttype = xs(pttype);
	l->ptuuid = xs(!strcmp(pttype, "gpt") ? "312ee634-a3e8-894a-928d-037d07215bd6" : "1234abcd");
	l->parts = calloc(n, sizeof(*l->parts));
	return l;
}

static struct mig_layout_part *add(struct mig_layout *l, uint32_t partno, uint64_t start, uint64_t size,
				   enum mig_copy_method m, const char *fstype, uint64_t used)
{
	struct mig_layout_part *p = &l->parts[l->nparts++];
	p->partno = partno;
	p->start = start;
	p->size = size;
	p->method = m;
	p->type = xs(!strcmp(l->pttype, "gpt") ? "0fc63daf-8483-4772-8e79-3d69d8477de4" : "0x83");
	p->fs.type = xs(fstype);
	p->fs.size = size;
	p->fs.used = used;
	p->fs.used_known = m == MIG_COPY_FILES;
	if (fstype && !strcmp(fstype, "ext4")) {
		p->fs.block_size = 4096;
		p->fs.inode_size = 256;
		p->fs.inode_count = size / 16384;
		p->fs.inodes_used = 1000;
		p->fs.reserved_permille = 50;
		p->fs.features = xs("has_journal,ext_attr,extent,64bit,metadata_csum");
		p->fs.uuid = xs("6a1c0000-0000-4000-8000-000000000001");
		p->fs.label = xs("root");
	}
	return p;
}

/* A GPT disk as cloud images have it: BIOS boot, ESP, swap, root. */
static struct mig_layout *gpt_disk(uint64_t size, uint64_t root_used)
{
	struct mig_layout *l = new_layout("gpt", size, 4);
	struct mig_layout_part *p;

	p = add(l, 1, 1 * MiB, 1 * MiB, MIG_COPY_RAW, NULL, 1 * MiB);
	free(p->type);
	p->type = xs("21686148-6449-6e6f-744e-656564454649");
	p = add(l, 2, 2 * MiB, 100 * MiB, MIG_COPY_RAW, "vfat", 100 * MiB);
	p->fs.uuid = xs("1234-ABCD");
	p->name = xs("EFI System");
	p = add(l, 3, 102 * MiB, 512 * MiB, MIG_COPY_RECREATE, "swap", 512 * MiB);
	p->fs.uuid = xs("11111111-2222-3333-4444-555555555555");
	add(l, 4, 614 * MiB, size - 614 * MiB - MiB, MIG_COPY_FILES, "ext4", root_used);
	return l;
}

static void check_aligned(const struct mig_plan *p)
{
	for (size_t i = 0; i < p->nparts; i++) {
		CHECK(p->parts[i].start % MIG_PLAN_ALIGN == 0);
		if (p->parts[i].method == MIG_COPY_FILES)
			CHECK(p->parts[i].size % MIG_PLAN_ALIGN == 0);
		CHECK(p->parts[i].start + p->parts[i].size <= p->target_size);
		for (size_t j = 0; j < p->nparts; j++)
			if (i != j && p->parts[i].method != MIG_COPY_CONTAINER && p->parts[j].method != MIG_COPY_CONTAINER)
				CHECK(p->parts[i].start + p->parts[i].size <= p->parts[j].start ||
				      p->parts[j].start + p->parts[j].size <= p->parts[i].start);
	}
}

static char *to_json(const struct mig_layout *l)
{
	char *s = NULL;
	size_t n;
	CHECK_INT(mig_layout_to_json_string(l, &s, &n), 0);
	CHECK_INT(strlen(s), n);
	return s;
}

TEST(json_round_trip)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 3 * GiB), *back = NULL;
	l->parts[1].fs.label = xs("ESP \"quoted\" \\ é");
	l->parts[3].attrs = xs("LegacyBIOSBootable");
	char *a = to_json(l);
	CHECK_INT(mig_layout_from_json(a, strlen(a), &back), 0);
	if (back) {
		char *b = to_json(back);
		CHECK_STR(b, a);   /* everything survives, byte for byte */
		free(b);
		CHECK_INT(back->nparts, 4);
		CHECK_INT(back->parts[3].fs.used, 3 * GiB);
		CHECK_STR(back->parts[1].fs.label, "ESP \"quoted\" \\ é");
		CHECK_STR(back->parts[3].fs.features, "has_journal,ext_attr,extent,64bit,metadata_csum");
		CHECK_INT(back->parts[2].method, MIG_COPY_RECREATE);
	}
	free(a);
	mig_layout_free(back);
	mig_layout_free(l);
}

/* Replaces the first "from" in the round-tripped JSON and expects err. */
static void mutated(const char *from, const char *to, int err)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 3 * GiB), *back = NULL;
	char *a = to_json(l), *p = strstr(a, from);
	CHECK(p != NULL);
	if (p) {
		size_t n = strlen(a) - strlen(from) + strlen(to);
		char *b = malloc(n + 1);
		memcpy(b, a, (size_t)(p - a));
		strcpy(b + (p - a), to);
		strcat(b, p + strlen(from));
		int r = mig_layout_from_json(b, strlen(b), &back);
		if (r != err)
			printf("# mutation %s -> %s: %d, expected %d\n", from, to, r, err);
		CHECK_INT(r, err);
		CHECK(back == NULL);
		free(b);
	}
	free(a);
	mig_layout_free(l);
}

TEST(json_rejects_bad_values)
{
	mutated("\"method\":\"files\"", "\"method\":\"magic\"", -EINVAL);
	mutated("\"log-sec\":512", "\"log-sec\":500", -EINVAL);
	mutated("\"log-sec\":512", "\"log-sec\":\"512\"", -EINVAL);
	mutated("\"size\":21474836480", "\"size\":1048576", -EINVAL);      /* partitions past the end */
	mutated("\"start\":2097152", "\"start\":1048576", -EINVAL);        /* overlaps partition 1 */
	mutated("\"start\":2097152", "\"start\":2097153", -EINVAL);        /* not sector-aligned */
	mutated("\"partn\":2", "\"partn\":1", -EINVAL);                    /* duplicate number */
	mutated("\"partn\":2", "\"partn\":-2", -EINVAL);
	mutated("\"pttype\":\"gpt\"", "\"pttype\":\"sun\"", -EINVAL);
	mutated("\"uuid\":\"1234-ABCD\"", "\"uuid\":\"1234;rm -rf\"", -EINVAL);  /* goes on mkfs lines */
	mutated("\"label\":\"root\"", "\"label\":\"ro\\not\"", -EINVAL);         /* control character */
	mutated("\"label\":\"root\"", "\"label\":\"ro\\u0000t\"", -EINVAL);
	mutated("\"features\":\"has_journal", "\"features\":\"-E,has_journal", -EINVAL);
	mutated("\"fsused\":3221225472", "\"fsused\":99999999999999", -EINVAL);
	mutated("\"fsused\":3221225472", "\"fsused\":1e9", -EINVAL);
	mutated("\"partitions\":[", "\"partitions\":{", -EINVAL);
	mutated("\"size\":21474836480", "\"size\":184467440737095516160", -EINVAL);  /* overflow */
	mutated("}]}", "}]}x", -EINVAL);
	mutated("}]}", "}]", -EINVAL);
	mutated("\"source\":\"/dev/vda\"", "\"source\":[[[[[[[[[[1]]]]]]]]]]", -E2BIG);
}

TEST(json_limits)
{
	struct mig_layout *back = NULL;
	/* More partitions than MIG_LAYOUT_MAX_PARTS. */
	size_t cap = 64 + (MIG_LAYOUT_MAX_PARTS + 1) * 40, n = 0;
	char *b = malloc(cap);
	n += (size_t)snprintf(b + n, cap - n, "{\"size\":1099511627776,\"log-sec\":512,\"pttype\":\"gpt\",\"partitions\":[");
	for (int i = 0; i <= MIG_LAYOUT_MAX_PARTS; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s{\"partn\":%d}", i ? "," : "", i + 1);
	n += (size_t)snprintf(b + n, cap - n, "]}");
	CHECK_INT(mig_layout_from_json(b, n, &back), -E2BIG);
	free(b);
	/* A string longer than MIG_LAYOUT_MAX_STR. */
	b = malloc(MIG_LAYOUT_MAX_STR + 64);
	n = (size_t)sprintf(b, "{\"source\":\"");
	memset(b + n, 'a', MIG_LAYOUT_MAX_STR);
	n += MIG_LAYOUT_MAX_STR;
	n += (size_t)sprintf(b + n, "\"}");
	CHECK_INT(mig_layout_from_json(b, n, &back), -E2BIG);
	free(b);
	/* Text past MIG_LAYOUT_MAX_JSON. */
	b = malloc(MIG_LAYOUT_MAX_JSON + 2);
	memset(b, ' ', MIG_LAYOUT_MAX_JSON + 1);
	b[0] = '{';
	b[MIG_LAYOUT_MAX_JSON] = '}';
	CHECK_INT(mig_layout_from_json(b, MIG_LAYOUT_MAX_JSON + 1, &back), -E2BIG);
	free(b);
	CHECK(back == NULL);
}

TEST(json_every_prefix_fails)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 3 * GiB), *back = NULL;
	char *a = to_json(l);
	size_t n = strlen(a), bad = 0;
	for (size_t i = 0; i < n; i++)
		if (mig_layout_from_json(a, i, &back) == 0) {
			bad++;
			mig_layout_free(back);
			back = NULL;
		}
	CHECK_INT(bad, 0);
	free(a);
	mig_layout_free(l);
}

TEST(jsonread_strings_numbers)
{
	static const struct mig_jv_limits lim = { 1024, 4, 64, 64 };
	struct mig_jv *v = NULL;
	const char *t = "{\"a\":\"x\\u00e9\\ud83d\\ude00\\t\",\"n\":18446744073709551615,\"m\":18446744073709551616,"
			"\"f\":-1.5e3,\"z\":[true,false,null]}";
	CHECK_INT(mig_json_parse(t, strlen(t), &lim, &v), 0);
	if (v) {
		CHECK_STR(mig_jv_get(v, "a")->s, "x\xc3\xa9\xf0\x9f\x98\x80\t");
		CHECK(mig_jv_get(v, "n")->is_uint && mig_jv_get(v, "n")->u == UINT64_MAX);
		CHECK(!mig_jv_get(v, "m")->is_uint);
		CHECK(mig_jv_get(v, "f")->type == MIG_JV_NUMBER && !mig_jv_get(v, "f")->is_uint);
		CHECK_INT(mig_jv_get(v, "z")->n, 3);
		CHECK(mig_jv_get(v, "nope") == NULL);
	}
	mig_jv_free(v);
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", "-", "\"\\ud83d\"", "\"\\x\"",
		"\"a\nb\"", "\"\xff\"", "\"\xc0\xaf\"", "tru", "nul", "[1 2]", "{1:2}", "\"abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = NULL;
		int r = mig_json_parse(bad[i], strlen(bad[i]), &lim, &v);
		if (r != -EINVAL)
			printf("# '%s' -> %d\n", bad[i], r);
		CHECK_INT(r, -EINVAL);
		CHECK(v == NULL);
	}
	CHECK_INT(mig_json_parse("[[[[[1]]]]]", 11, &lim, &v), -E2BIG);
	CHECK_INT(mig_json_parse("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"
				 "30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,"
				 "56,57,58,59,60,61,62,63,64]", 256, &lim, &v) < 0, 1);
}

TEST(plan_grow)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 3 * GiB);
	struct mig_plan *p = NULL;
	char why[256];

	CHECK_INT(mig_plan_make(l, 40 * GiB, 512, NULL, &p, why, sizeof(why)), 0);
	if (p) {
		check_aligned(p);
		/* fixed partitions keep their size, root fills the disk up to the backup GPT */
		CHECK_INT(p->parts[0].size, 1 * MiB);
		CHECK_INT(p->parts[1].size, 100 * MiB);
		CHECK_INT(p->parts[2].size, 512 * MiB);
		CHECK(p->parts[3].grown && !p->parts[3].shrunk);
		CHECK_INT(p->parts[3].start + p->parts[3].size, 40 * GiB - MiB);
		CHECK_INT(p->parts[3].start, 614 * MiB);
		/* inodes scale with the size: same bytes per inode */
		CHECK_INT(p->parts[3].inode_count, p->parts[3].size / 16384);
		CHECK_STR(p->ptuuid, l->ptuuid);
		CHECK_STR(p->parts[3].part.fs.uuid, "6a1c0000-0000-4000-8000-000000000001");
	}
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(plan_shrink_30_percent_used_to_half)
{
	/* 20 GiB source, its root 30% full; target 10 GiB. */
	uint64_t src = 20 * GiB, used = (src - 614 * MiB) * 3 / 10;
	struct mig_layout *l = gpt_disk(src, used);
	struct mig_plan *p = NULL;
	char why[256];

	CHECK_INT(mig_plan_make(l, src / 2, 512, NULL, &p, why, sizeof(why)), 0);
	if (p) {
		check_aligned(p);
		CHECK(p->parts[3].shrunk);
		CHECK(p->parts[3].size >= used + used * 15 / 100 + 64 * MiB);
		CHECK_INT(p->parts[3].start + p->parts[3].size, src / 2 - MiB);   /* takes what remains */
		/* needed: 1 MiB + fixed + max(used*1.15+64 MiB, used+256 MiB) aligned + GPT tail */
		uint64_t need = (used + used * 15 / 100 + 64 * MiB + MiB - 1) / MiB * MiB;
		/* ... + the backup GPT: one sector and 128 entries of 128 bytes */
		CHECK_INT(p->needed_bytes, MiB + 1 * MiB + 100 * MiB + 512 * MiB + need + 512 + 16384);
		CHECK(p->parts[3].inode_count >= 1000);
	}
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(plan_too_small_refused_with_numbers)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 5 * GiB);
	struct mig_plan *p = NULL;
	char why[512];

	CHECK_INT(mig_plan_make(l, 5 * GiB, 512, NULL, &p, why, sizeof(why)), -ENOSPC);
	CHECK(p == NULL);
	/* used 5 GiB -> 5 GiB * 1.15 + 64 MiB = 5952 MiB, plus 614 MiB before it and the GPT tail */
	CHECK(strstr(why, "needs 6.4 GiB") != NULL);
	char num[64];
	uint64_t need = (614 + 5952) * MiB + 512 + 16384;
	snprintf(num, sizeof(num), "(%" PRIu64 " bytes", need);
	CHECK(strstr(why, num) != NULL);
	snprintf(num, sizeof(num), "(%" PRIu64 " bytes)", (uint64_t)(5 * GiB));
	CHECK(strstr(why, num) != NULL);
	if (!strstr(why, num))
		printf("# why: %s\n", why);
	/* exactly the needed size fits */
	CHECK_INT(mig_plan_make(l, need, 512, NULL, &p, why, sizeof(why)), 0);
	if (p)
		CHECK_INT(p->parts[3].start + p->parts[3].size, need - 512 - 16384);
	mig_plan_free(p);
	p = NULL;
	CHECK_INT(mig_plan_make(l, need - 512, 512, NULL, &p, why, sizeof(why)), -ENOSPC);
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(plan_small_used_margin_min)
{
	/* 100 MiB used: used + 256 MiB beats used * 1.15 + 64 MiB. */
	struct mig_layout *l = gpt_disk(20 * GiB, 100 * MiB);
	struct mig_plan *p = NULL;
	char why[256];

	CHECK_INT(mig_plan_make(l, 1 * GiB, 512, NULL, &p, why, sizeof(why)), 0);
	if (p)
		CHECK_INT(p->needed_bytes, 614 * MiB + 356 * MiB + 512 + 16384);
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(plan_mbr_logical_and_unknown)
{
	/* Debian's MBR default: root 1, extended 2, swap 5; plus an unknown 3. */
	struct mig_layout *l = new_layout("dos", 10 * GiB, 4);
	struct mig_plan *p = NULL;
	char why[256];

	add(l, 1, 1 * MiB, 8 * GiB, MIG_COPY_FILES, "ext4", 1 * GiB)->bootable = true;
	add(l, 2, 8 * GiB + MiB, 1 * GiB - 2 * MiB, MIG_COPY_CONTAINER, NULL, 0);
	add(l, 3, 9 * GiB, 512 * MiB, MIG_COPY_NONE, "LVM2_member", 512 * MiB);
	struct mig_layout_part *sw = add(l, 5, 8 * GiB + 2 * MiB, 1 * GiB - 4 * MiB, MIG_COPY_RECREATE, "swap", 0);
	sw->logical = true;
	CHECK_INT(mig_plan_make(l, 4 * GiB, 512, NULL, &p, why, sizeof(why)), -EOPNOTSUPP);
	CHECK(strstr(why, "partition 3 holds LVM2_member") != NULL);
	struct mig_plan_opts o = { .skip_unknown = true };
	CHECK_INT(mig_plan_make(l, 4 * GiB, 512, &o, &p, why, sizeof(why)), 0);
	if (p) {
		check_aligned(p);
		const struct mig_plan_part *root = &p->parts[0], *ext = &p->parts[1], *un = &p->parts[2], *swp = &p->parts[3];
		CHECK(root->shrunk);
		CHECK(ext->start == root->start + root->size);
		CHECK_INT(swp->start, ext->start + MiB);               /* a slot for the EBR */
		CHECK_INT(ext->start + ext->size, swp->start + swp->size);
		CHECK_INT(swp->size, 1 * GiB - 4 * MiB);
		CHECK(un->skipped && un->size == 512 * MiB && un->start == swp->start + swp->size);
		CHECK_INT(un->start + un->size, 4 * GiB - 0);          /* no backup GPT on MBR */
		char *s = NULL;
		CHECK_INT(mig_plan_sfdisk_script(p, &s), 0);
		CHECK(s && strstr(s, "label: dos\nlabel-id: 0x1234abcd\n"));
		CHECK(s && strstr(s, "part1 : start=2048, size="));
		CHECK(s && strstr(s, ", type=83, bootable\n"));
		CHECK(s && strstr(s, "part5 : start="));
		free(s);
	}
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(plan_sector_size)
{
	struct mig_layout *l = gpt_disk(20 * GiB, 3 * GiB);
	struct mig_plan *p = NULL;
	char why[256];

	/* A FAT ESP cannot be copied as bytes onto 4 KiB sectors. */
	CHECK_INT(mig_plan_make(l, 20 * GiB, 4096, NULL, &p, why, sizeof(why)), -EOPNOTSUPP);
	CHECK(strstr(why, "partition 2 is FAT") != NULL);
	CHECK_INT(mig_plan_make(l, 20 * GiB, 1000, NULL, &p, why, sizeof(why)), -EINVAL);
	/* Without it: planned in 4 KiB sectors, ext block size at least 4096. */
	l->parts[1].method = MIG_COPY_NONE;
	l->parts[3].fs.block_size = 1024;
	struct mig_plan_opts o = { .skip_unknown = true };
	CHECK_INT(mig_plan_make(l, 20 * GiB, 4096, &o, &p, why, sizeof(why)), 0);
	if (p) {
		check_aligned(p);
		CHECK_INT(p->parts[3].block_size, 4096);
		char *s = NULL;
		CHECK_INT(mig_plan_sfdisk_script(p, &s), 0);
		CHECK(s && strstr(s, "first-lba: 256\n"));
		CHECK(s && strstr(s, "part1 : start=256, size=256,"));
		free(s);
	}
	mig_plan_free(p);
	/* A raw partition that is not a whole number of target sectors. */
	p = NULL;
	l->parts[0].size = MiB + 512;
	CHECK_INT(mig_plan_make(l, 20 * GiB, 4096, &o, &p, why, sizeof(why)), -EOPNOTSUPP);
	mig_layout_free(l);
}

TEST(plan_grow_choice)
{
	/* Two files partitions, no root type: the last one on the disk grows;
	 * --grow picks another; a raw one cannot grow. */
	struct mig_layout *l = new_layout("gpt", 10 * GiB, 2);
	struct mig_plan *p = NULL;
	char why[256];

	add(l, 2, 1 * MiB, 2 * GiB, MIG_COPY_FILES, "ext4", 100 * MiB);
	add(l, 1, 2 * GiB + MiB, 8 * GiB - 4 * MiB, MIG_COPY_FILES, "ext4", 100 * MiB);
	CHECK_INT(mig_plan_make(l, 20 * GiB, 512, NULL, &p, why, sizeof(why)), 0);
	if (p) {
		CHECK(p->parts[1].grown && !p->parts[0].grown);
		CHECK_INT(p->parts[0].size, 2 * GiB);
	}
	mig_plan_free(p);
	struct mig_plan_opts o = { .grow_partno = 2 };
	CHECK_INT(mig_plan_make(l, 20 * GiB, 512, &o, &p, why, sizeof(why)), 0);
	if (p)
		CHECK(p->parts[0].grown && !p->parts[1].grown);
	mig_plan_free(p);
	o.grow_partno = 7;
	CHECK_INT(mig_plan_make(l, 20 * GiB, 512, &o, &p, why, sizeof(why)), -EINVAL);
	/* shrinking: both shrink, the grow partition takes the rest */
	o.grow_partno = 0;
	CHECK_INT(mig_plan_make(l, 2 * GiB, 512, &o, &p, why, sizeof(why)), 0);
	if (p) {
		CHECK(p->parts[0].shrunk && p->parts[0].size == 356 * MiB);
		CHECK_INT(p->parts[1].start + p->parts[1].size, 2 * GiB - MiB);
	}
	mig_plan_free(p);
	mig_layout_free(l);
}

TEST(part_dev)
{
	char buf[64];
	CHECK_INT(mig_plan_part_dev("/nonexistent/disk", 1, buf, sizeof(buf)), -ENOENT);
	CHECK_INT(mig_plan_part_dev("/proc/self/status", 1, buf, sizeof(buf)), -ENOTBLK);  /* image files have none */
}

int main(void)
{
	RUN(json_round_trip);
	RUN(json_rejects_bad_values);
	RUN(json_limits);
	RUN(json_every_prefix_fails);
	RUN(jsonread_strings_numbers);
	RUN(plan_grow);
	RUN(plan_shrink_30_percent_used_to_half);
	RUN(plan_too_small_refused_with_numbers);
	RUN(plan_small_used_margin_min);
	RUN(plan_mbr_logical_and_unknown);
	RUN(plan_sector_size);
	RUN(plan_grow_choice);
	RUN(part_dev);
	return tap_done();
}
