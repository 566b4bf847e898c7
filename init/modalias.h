/* modalias.h — modules.alias (as depmod writes it) and matching a device's
 * modalias against it, the way modprobe resolves "pci:v00001AF4d...".
 * Pure: text in, module names out. Done in init rather than by handing every
 * alias to modprobe so that only matching modules cost an exec, and so that
 * both BusyBox modprobe flavours (full and "small") work.
 */
#ifndef MIGRATOR_INIT_MODALIAS_H
#define MIGRATOR_INIT_MODALIAS_H

#include <stddef.h>

#define MODALIAS_DB_MAX (16u << 20)     /* bytes of modules.alias accepted */
#define MODULE_NAME_MAX 64              /* the kernel's MODULE_NAME_LEN */

struct modalias_entry {
	const char *pattern;    /* fnmatch pattern: "virtio:d00000002v*" */
	const char *module;     /* "virtio_blk" */
};

struct modalias_db {
	char *text;             /* owned; entries point into it */
	struct modalias_entry *v;
	size_t n;
};

/* Parses "alias PATTERN MODULE" lines ('#' comments and other lines are
 * skipped). Takes ownership of text (malloc'd, len bytes, NUL-terminated) even
 * on failure. Returns 0, -EFBIG beyond MODALIAS_DB_MAX, -ENOMEM. */
int modalias_db_parse(struct modalias_db *db, char *text, size_t len);

void modalias_db_free(struct modalias_db *db);

/* Calls fn once per distinct module whose pattern matches alias, in file
 * order. Returns how many modules matched. */
size_t modalias_db_match(const struct modalias_db *db, const char *alias,
			 void (*fn)(const char *module, void *data), void *data);

/* Pure: the kernel's spelling of a module name ('-' → '_'), into buf.
 * Returns 0 or -ENAMETOOLONG. */
int modalias_module_name(const char *name, char *buf, size_t n);

#endif
