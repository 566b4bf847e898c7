/* json.h — the one JSON writer of the code base.
 *
 * A streaming writer onto a caller-owned FILE*. It tracks nesting, inserts
 * commas, escapes strings (RFC 8259: quote, backslash, control characters;
 * invalid UTF-8 is replaced by U+FFFD so the output always parses), and
 * limits depth to JSON_MAX_DEPTH. Calls after an error are no-ops; the first
 * error is returned by json_finish().
 *
 * Inside an object every value needs a key; inside an array (or at top level)
 * key must be NULL.
 */
#ifndef MIGRATOR_JSON_H
#define MIGRATOR_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

struct json_writer;

/* Returns a new writer onto out (not owned, not closed), or NULL on ENOMEM.
 * pretty: two-space indentation and newlines (the CLI's -J); else compact
 * (JSON lines). */
struct json_writer *json_new(FILE *out, bool pretty);

void json_object_begin(struct json_writer *w, const char *key);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w, const char *key);
void json_array_end(struct json_writer *w);

/* val NULL writes null. */
void json_string(struct json_writer *w, const char *key, const char *val);
/* Writes at most len bytes of val (which may hold NULs, written as \u0000). */
void json_string_len(struct json_writer *w, const char *key, const char *val, size_t len);
void json_uint(struct json_writer *w, const char *key, uint64_t val);
void json_int(struct json_writer *w, const char *key, int64_t val);
void json_bool(struct json_writer *w, const char *key, bool val);
void json_null(struct json_writer *w, const char *key);

/* Ends the document (newline when pretty), flushes, frees w. Returns 0, or
 * -EINVAL if nesting was left open or misused, -E2BIG past JSON_MAX_DEPTH,
 * -EIO (or the stream's errno) if a write failed. Accepts NULL (returns 0). */
int json_finish(struct json_writer *w);

#endif
