/* json.c — see json.h. */
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct json_writer {
	FILE *out;
	bool pretty;
	int depth;
	int err;
	/* per level: is it an object, has it had a member yet */
	bool is_object[JSON_MAX_DEPTH + 1];
	bool has_member[JSON_MAX_DEPTH + 1];
};

struct json_writer *json_new(FILE *out, bool pretty)
{
	struct json_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->out = out;
	w->pretty = pretty;
	return w;
}

static void indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

static void put_escaped(struct json_writer *w, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	FILE *f = w->out;

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else if (c < 0x80) {
			fputc(c, f);
		} else {
			/* Validate one UTF-8 sequence; pass it through or emit U+FFFD. */
			size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
			bool ok = n > 0 && n <= len - i;
			uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

			for (size_t k = 1; ok && k < n; k++) {
				if ((s[i + k] & 0xc0) != 0x80)
					ok = false;
				cp = cp << 6 | (s[i + k] & 0x3f);
			}
			/* reject overlongs, surrogates, > U+10FFFF */
			if (ok && ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
				   (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
				ok = false;
			if (ok) {
				fwrite(s + i, 1, n, f);
				i += n - 1;
			} else {
				fputs("\\ufffd", f);
			}
		}
	}
	fputc('"', f);
}

/* Writes the separator and key for a new value; false if the call is misused. */
static bool begin_value(struct json_writer *w, const char *key)
{
	if (w->err)
		return false;
	bool in_object = w->depth > 0 && w->is_object[w->depth];

	if (in_object != (key != NULL) || (w->depth == 0 && w->has_member[0])) {
		w->err = -EINVAL;
		return false;
	}
	if (w->has_member[w->depth])
		fputc(',', w->out);
	w->has_member[w->depth] = true;
	if (w->depth > 0)
		indent(w);
	if (key) {
		put_escaped(w, (const unsigned char *)key, strlen(key));
		fputs(w->pretty ? ": " : ":", w->out);
	}
	return true;
}

static void open_level(struct json_writer *w, const char *key, bool object)
{
	if (!begin_value(w, key))
		return;
	if (w->depth >= JSON_MAX_DEPTH) {
		w->err = -E2BIG;
		return;
	}
	fputc(object ? '{' : '[', w->out);
	w->depth++;
	w->is_object[w->depth] = object;
	w->has_member[w->depth] = false;
}

static void close_level(struct json_writer *w, bool object)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->is_object[w->depth] != object) {
		w->err = -EINVAL;
		return;
	}
	bool had = w->has_member[w->depth];

	w->depth--;
	if (had)
		indent(w);
	fputc(object ? '}' : ']', w->out);
}

void json_object_begin(struct json_writer *w, const char *key) { open_level(w, key, true); }
void json_object_end(struct json_writer *w) { close_level(w, true); }
void json_array_begin(struct json_writer *w, const char *key) { open_level(w, key, false); }
void json_array_end(struct json_writer *w) { close_level(w, false); }

void json_string_len(struct json_writer *w, const char *key, const char *val, size_t len)
{
	if (begin_value(w, key))
		put_escaped(w, (const unsigned char *)val, len);
}

void json_string(struct json_writer *w, const char *key, const char *val)
{
	if (!val)
		json_null(w, key);
	else
		json_string_len(w, key, val, strlen(val));
}

void json_uint(struct json_writer *w, const char *key, uint64_t val)
{
	if (begin_value(w, key))
		fprintf(w->out, "%llu", (unsigned long long)val);
}

void json_int(struct json_writer *w, const char *key, int64_t val)
{
	if (begin_value(w, key))
		fprintf(w->out, "%lld", (long long)val);
}

void json_bool(struct json_writer *w, const char *key, bool val)
{
	if (begin_value(w, key))
		fputs(val ? "true" : "false", w->out);
}

void json_null(struct json_writer *w, const char *key)
{
	if (begin_value(w, key))
		fputs("null", w->out);
}

int json_finish(struct json_writer *w)
{
	int r;

	if (!w)
		return 0;
	r = w->err;
	if (!r && w->depth != 0)
		r = -EINVAL;
	if (w->pretty && w->has_member[0])
		fputc('\n', w->out);
	if (fflush(w->out) != 0 || ferror(w->out))
		r = r ? r : (errno ? -errno : -EIO);
	free(w);
	return r;
}
