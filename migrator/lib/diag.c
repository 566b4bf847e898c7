/* diag.c — see diag.h. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mig_diags_add(struct mig_diags *d, enum mig_severity sev, const char *code,
		  const char *fmt, ...)
{
	struct mig_diag *v;
	char *msg = NULL, *c;
	va_list ap;
	int r;

	if (d->n >= MIG_DIAGS_MAX)
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	c = strdup(code);
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!c || !v) {
		free(msg);
		free(c);
		if (v)
			d->v = v;
		return -ENOMEM;
	}
	d->v = v;
	d->v[d->n++] = (struct mig_diag){ sev, c, msg };
	return 0;
}

void mig_diags_clear(struct mig_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].code);
		free(d->v[i].message);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

int mig_diags_worst(const struct mig_diags *d)
{
	int worst = -1;

	for (size_t i = 0; i < d->n; i++)
		if ((int)d->v[i].severity > worst)
			worst = d->v[i].severity;
	return worst;
}

const char *mig_severity_name(enum mig_severity sev)
{
	switch (sev) {
	case MIG_SEV_INFO: return "info";
	case MIG_SEV_WARNING: return "warning";
	case MIG_SEV_ERROR: return "error";
	}
	return "unknown";
}
