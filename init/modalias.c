/* modalias.c — modules.alias parsing and matching. */
#include "modalias.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int modalias_db_parse(struct modalias_db *db, char *text, size_t len)
{
	size_t cap = 0;

	memset(db, 0, sizeof(*db));
	db->text = text;
	if (len > MODALIAS_DB_MAX)
		return -EFBIG;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *pat, *mod, *extra, *s2 = NULL;

		if (strncmp(line, "alias ", 6) != 0)
			continue;
		pat = strtok_r(line + 6, " \t", &s2);
		mod = strtok_r(NULL, " \t", &s2);
		extra = strtok_r(NULL, " \t", &s2);
		if (!pat || !mod || extra || strlen(mod) >= MODULE_NAME_MAX)
			continue;
		if (db->n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct modalias_entry *nv = realloc(db->v, nc * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			db->v = nv;
			cap = nc;
		}
		db->v[db->n].pattern = pat;
		db->v[db->n].module = mod;
		db->n++;
	}
	return 0;
}

void modalias_db_free(struct modalias_db *db)
{
	if (!db)
		return;
	free(db->v);
	free(db->text);
	memset(db, 0, sizeof(*db));
}

/* The bus part ("pci:", "virtio:", "acpi*:") must agree before fnmatch runs:
 * cheap, and most patterns fail here. */
static bool same_bus(const char *pattern, const char *alias)
{
	for (; *pattern && *alias; pattern++, alias++) {
		if (*pattern == '*' || *pattern == '?' || *pattern == '[')
			return true;
		if (*pattern != *alias)
			return false;
		if (*pattern == ':')
			return true;
	}
	return true;
}

size_t modalias_db_match(const struct modalias_db *db, const char *alias,
			 void (*fn)(const char *module, void *data), void *data)
{
	const char *seen[32];
	size_t n_seen = 0, matched = 0;

	for (size_t i = 0; i < db->n; i++) {
		const struct modalias_entry *e = &db->v[i];
		bool dup = false;

		if (!same_bus(e->pattern, alias) || fnmatch(e->pattern, alias, 0) != 0)
			continue;
		for (size_t j = 0; j < n_seen && !dup; j++)
			dup = strcmp(seen[j], e->module) == 0;
		if (dup)
			continue;
		if (n_seen < sizeof(seen) / sizeof(seen[0]))
			seen[n_seen++] = e->module;
		matched++;
		fn(e->module, data);
	}
	return matched;
}

int modalias_module_name(const char *name, char *buf, size_t n)
{
	size_t len = strlen(name);

	if (len >= n || len >= MODULE_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= len; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	return 0;
}
