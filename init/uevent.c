/* uevent.c — uevent parsing and the alias set. */
#include "uevent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int uevent_modalias(const char *buf, size_t n, char *ret, size_t retn)
{
	const char *p = buf, *end = buf + n, *hdr_end;
	const char *alias = NULL;
	bool add = false;

	hdr_end = memchr(buf, '\0', n);
	/* A kernel message starts "ACTION@DEVPATH"; libudev ones "libudev\0". */
	if (!hdr_end || !memchr(buf, '@', (size_t)(hdr_end - buf)))
		return -EINVAL;
	for (p = hdr_end + 1; p < end;) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t len = z ? (size_t)(z - p) : (size_t)(end - p);

		if (len == 10 && memcmp(p, "ACTION=add", 10) == 0)
			add = true;
		else if (len > 9 && memcmp(p, "MODALIAS=", 9) == 0) {
			alias = p + 9;
			if (len - 9 >= retn || len - 9 >= MODALIAS_MAX)
				return -EINVAL;
			for (size_t i = 9; i < len; i++)
				if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
					return -EINVAL;
			memcpy(ret, alias, len - 9);
			ret[len - 9] = '\0';
		}
		p += len + 1;
	}
	return add && alias ? 1 : 0;
}

static size_t lower_bound(const struct alias_set *set, const char *s, bool *found)
{
	size_t lo = 0, hi = set->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->v[mid], s);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int alias_set_add(struct alias_set *set, const char *s)
{
	bool found;
	size_t at = lower_bound(set, s, &found);
	char *copy;

	if (found)
		return 0;
	if (set->n == ALIAS_SET_MAX)
		return -E2BIG;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		char **nv = realloc(set->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		set->v = nv;
		set->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	memmove(set->v + at + 1, set->v + at, (set->n - at) * sizeof(*set->v));
	set->v[at] = copy;
	set->n++;
	return 1;
}

void alias_set_free(struct alias_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}
