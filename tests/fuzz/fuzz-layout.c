/* libFuzzer target: mig_layout_from_json on untrusted text (a file-mode
 * stream's disk header), then what follows from a layout it accepts: the
 * JSON round trip must be exact, and plans for a smaller, equal and larger
 * target must keep their partitions aligned, inside the disk and apart. */
#include "layout.h"
#include "relayout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_plan(const struct mig_plan *p)
{
	for (size_t i = 0; i < p->nparts; i++) {
		const struct mig_plan_part *a = &p->parts[i];
		if (a->start % MIG_PLAN_ALIGN || a->start + a->size > p->target_size || !a->size)
			abort();
		for (size_t j = i + 1; j < p->nparts; j++) {
			const struct mig_plan_part *b = &p->parts[j];
			if (a->method == MIG_COPY_CONTAINER || b->method == MIG_COPY_CONTAINER)
				continue;
			if (a->start < b->start + b->size && b->start < a->start + a->size)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_layout *l = NULL, *back = NULL;
	char *a = NULL, *b = NULL;
	size_t na, nb;

	if (mig_layout_from_json((const char *)data, size, &l) < 0)
		return 0;
	if (mig_layout_to_json_string(l, &a, &na) < 0)
		abort();
	if (mig_layout_from_json(a, na, &back) < 0 || mig_layout_to_json_string(back, &b, &nb) < 0 ||
	    na != nb || memcmp(a, b, na))
		abort();
	static const struct mig_plan_opts opts = { .skip_unknown = true };
	const uint64_t sizes[] = { l->size / 2, l->size, l->size * 2 };
	for (size_t i = 0; i < 3; i++) {
		struct mig_plan *p = NULL;
		char why[256];
		if (mig_plan_make(l, sizes[i], 512, &opts, &p, why, sizeof(why)) == 0) {
			check_plan(p);
			char *s = NULL;
			if (mig_plan_sfdisk_script(p, &s) == 0)
				free(s);
			mig_plan_free(p);
		}
	}
	free(a);
	free(b);
	mig_layout_free(back);
	mig_layout_free(l);
	return 0;
}
