/* udiff.c — see udiff.h. */
#include "udiff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

struct ln {
	const char *s;
	size_t n;
	bool eol;
};

struct op {
	char type;         /* ' ', '-', '+' */
	size_t a, b;       /* line index in a (for ' ' and '-') and in b (' ' and '+') */
};

struct out {
	char *p;
	size_t n, cap;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 1024;
		while (cap < o->n + n + 1)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->err = -ENOMEM;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = 0;
}

static int split(const char *t, size_t len, struct ln **ret, size_t *ret_n)
{
	size_t n = 0;
	struct ln *v;

	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n')
			n++;
	if (len && t[len - 1] != '\n')
		n++;
	if (n > MIG_UDIFF_LINES_MAX)
		return -EFBIG;
	if (!(v = calloc(n ? n : 1, sizeof(*v))))
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - t) : len;
		v[n++] = (struct ln){ t + i, e - i, nl != NULL };
		i = e + (nl ? 1 : 0);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool same(const struct ln *x, const struct ln *y)
{
	return x->n == y->n && x->eol == y->eol && !memcmp(x->s, y->s, x->n);
}

static void put_line(struct out *o, char type, const struct ln *l)
{
	put(o, &type, 1);
	put(o, l->s, l->n);
	put(o, "\n", 1);
	if (!l->eol)
		put(o, "\\ No newline at end of file\n", 28);
}

static void range(char *out, size_t len, size_t start, size_t count)
{
	if (count == 1)
		snprintf(out, len, "%zu", start);
	else
		snprintf(out, len, "%zu,%zu", start, count);
}

int mig_udiff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
	      const char *label_b, char **ret, size_t *ret_len)
{
	struct ln *la = NULL, *lb = NULL;
	size_t na = 0, nb = 0, nops = 0;
	struct op *ops = NULL;
	struct out o = { 0 };
	int r;

	if (alen > MIG_UDIFF_TEXT_MAX || blen > MIG_UDIFF_TEXT_MAX)
		return -EFBIG;
	if ((r = split(a, alen, &la, &na)) < 0)
		return r;
	if ((r = split(b ? b : "", b ? blen : 0, &lb, &nb)) < 0)
		goto done;
	if (!(ops = calloc(na + nb + 1, sizeof(*ops)))) {
		r = -ENOMEM;
		goto done;
	}
	if (na == nb) {
		for (size_t i = 0; i < na;) {
			if (same(&la[i], &lb[i])) {
				ops[nops++] = (struct op){ ' ', i, i };
				i++;
				continue;
			}
			size_t j = i;
			while (j < na && !same(&la[j], &lb[j]))
				j++;
			for (size_t k = i; k < j; k++)
				ops[nops++] = (struct op){ '-', k, k };
			for (size_t k = i; k < j; k++)
				ops[nops++] = (struct op){ '+', k, k };
			i = j;
		}
	} else {
		size_t p = 0, s = 0;
		while (p < na && p < nb && same(&la[p], &lb[p]))
			p++;
		while (s < na - p && s < nb - p && same(&la[na - 1 - s], &lb[nb - 1 - s]))
			s++;
		for (size_t k = 0; k < p; k++)
			ops[nops++] = (struct op){ ' ', k, k };
		for (size_t k = p; k < na - s; k++)
			ops[nops++] = (struct op){ '-', k, p };
		for (size_t k = p; k < nb - s; k++)
			ops[nops++] = (struct op){ '+', na - s, k };
		for (size_t k = 0; k < s; k++)
			ops[nops++] = (struct op){ ' ', na - s + k, nb - s + k };
	}

	bool header = false;
	for (size_t i = 0; i < nops;) {
		while (i < nops && ops[i].type == ' ')
			i++;
		if (i >= nops)
			break;
		/* a hunk: from CONTEXT before this change to CONTEXT after the
		 * last change that is at most 2*CONTEXT equal lines further */
		size_t start = i > CONTEXT ? i - CONTEXT : 0, end = i;
		for (;;) {
			while (end < nops && ops[end].type != ' ')
				end++;
			size_t eq = end;
			while (eq < nops && ops[eq].type == ' ')
				eq++;
			if (eq < nops && eq - end <= 2 * CONTEXT) {
				end = eq;
				continue;
			}
			end = end + CONTEXT < nops ? end + CONTEXT : nops;
			if (end > eq)
				end = eq;
			break;
		}
		size_t ac = 0, bc = 0;
		for (size_t k = start; k < end; k++) {
			ac += ops[k].type != '+';
			bc += ops[k].type != '-';
		}
		size_t as = ops[start].a + (ac ? 1 : 0), bs = ops[start].b + (bc ? 1 : 0);
		if (!header) {
			char h[1100];
			int hn = snprintf(h, sizeof(h), "--- %.500s\n+++ %.500s\n", label_a, label_b);
			put(&o, h, (size_t)hn);
			header = true;
		}
		/* as diff -u: a count of 1 is left out */
		char h[96], ha[48], hb[48];
		range(ha, sizeof(ha), as, ac);
		range(hb, sizeof(hb), bs, bc);
		int hn = snprintf(h, sizeof(h), "@@ -%s +%s @@\n", ha, hb);
		put(&o, h, (size_t)hn);
		for (size_t k = start; k < end; k++)
			put_line(&o, ops[k].type, ops[k].type == '+' ? &lb[ops[k].b] : &la[ops[k].a]);
		i = end;
	}
	if (!o.p)
		put(&o, "", 0);
	r = o.err;
	if (r == 0) {
		*ret = o.p;
		*ret_len = o.n;
		o.p = NULL;
	}
	free(o.p);
done:
	free(ops);
	free(la);
	free(lb);
	return r;
}
