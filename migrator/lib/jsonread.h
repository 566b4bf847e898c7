/* jsonread.h — a small JSON reader for untrusted text (RFC 8259), the
 * counterpart of json.h's writer.
 *
 * Parses a whole document into a tree of values with limits on the text
 * length, nesting depth, number of values and string length, so a peer
 * cannot make it allocate without bound. Numbers are kept as unsigned 64-bit
 * integers when they are one (no sign, fraction or exponent); any other
 * number is accepted by the syntax but has is_uint false. Strings are
 * decoded (escapes, surrogate pairs) into NUL-terminated UTF-8; a string
 * holding U+0000 is refused (-EINVAL), so C strings stay whole.
 *
 * Ownership: the tree returned is freed with mig_jv_free().
 */
#ifndef MIGRATOR_JSONREAD_H
#define MIGRATOR_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mig_jv_type { MIG_JV_NULL, MIG_JV_BOOL, MIG_JV_NUMBER, MIG_JV_STRING, MIG_JV_ARRAY, MIG_JV_OBJECT };

struct mig_jv {
	enum mig_jv_type type;
	bool b;                 /* BOOL */
	bool is_uint;           /* NUMBER: a non-negative integer that fits u64 */
	uint64_t u;             /* NUMBER when is_uint */
	char *s;                /* STRING */
	size_t slen;
	struct mig_jv *items;   /* ARRAY elements, OBJECT values */
	char **keys;            /* OBJECT keys, parallel to items */
	size_t n;
};

struct mig_jv_limits {
	size_t max_len;         /* bytes of text */
	unsigned max_depth;     /* nesting of arrays and objects */
	size_t max_values;      /* every value, keys included */
	size_t max_string;      /* decoded bytes of one string or key */
};

/* Parses len bytes of text (whitespace around one value, nothing else).
 * Returns 0 and the tree in *ret, -EINVAL for bad syntax, -E2BIG past a
 * limit, -ENOMEM. */
int mig_json_parse(const char *text, size_t len, const struct mig_jv_limits *lim,
		   struct mig_jv **ret);

/* The value of key in an object (the first one if repeated), or NULL when
 * obj is not an object or has no such key. */
const struct mig_jv *mig_jv_get(const struct mig_jv *obj, const char *key);

void mig_jv_free(struct mig_jv *v);

#endif
