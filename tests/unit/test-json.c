/* Unit tests of the one JSON writer. */
#include "tap.h"
#include "json.h"

#include <errno.h>
#include <stdlib.h>

/* Runs fn on a compact writer; returns the text (caller frees) and *ret_rc. */
static char *render(void (*fn)(struct json_writer *), bool pretty, int *ret_rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer *w = json_new(f, pretty);

	fn(w);
	*ret_rc = json_finish(w);
	fclose(f);
	return buf;
}

static void doc_nested(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_string(w, "name", "vda");
	json_uint(w, "size", 18446744073709551615ULL);
	json_int(w, "neg", -5);
	json_bool(w, "rm", false);
	json_null(w, "label");
	json_array_begin(w, "children");
	json_object_begin(w, NULL);
	json_uint(w, "partn", 1);
	json_object_end(w);
	json_string(w, NULL, NULL);
	json_array_end(w);
	json_array_begin(w, "empty");
	json_array_end(w);
	json_object_end(w);
}

TEST(nesting_and_commas)
{
	int rc;
	char *s = render(doc_nested, false, &rc);

	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"name\":\"vda\",\"size\":18446744073709551615,\"neg\":-5,\"rm\":false,"
		     "\"label\":null,\"children\":[{\"partn\":1},null],\"empty\":[]}");
	free(s);
}

TEST(pretty_form)
{
	int rc;
	char *s = render(doc_nested, true, &rc);

	CHECK_INT(rc, 0);
	CHECK(strstr(s, "{\n  \"name\": \"vda\",\n") == s);
	CHECK(strstr(s, "\"empty\": []\n}\n") != NULL);
	free(s);
}

static void doc_escapes(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_string(w, "q", "a\"b\\c\nd\te\r\x01\x1f\x7f/");
	json_string(w, "utf8", "Größe €");
	json_string(w, "bad", "\xff\xc3(\xe2\x82\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80");
	json_string_len(w, "nul", "a\0b", 3);
	json_string(w, "k\"ey", "v");
	json_object_end(w);
}

TEST(string_escaping)
{
	int rc;
	char *s = render(doc_escapes, false, &rc);

	CHECK_INT(rc, 0);
	CHECK_STR(s, "{\"q\":\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u001f\\u007f/\","
		     "\"utf8\":\"Größe €\","
		     /* 0xff; 0xc3 then '(' ; truncated 3-byte seq (2 bytes taken as one bad lead + continuation);
		      * surrogate; overlong; > U+10FFFF: each replaced, never passed through */
		     "\"bad\":\"\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\","
		     "\"nul\":\"a\\u0000b\",\"k\\\"ey\":\"v\"}");
	free(s);
}

static void doc_value_without_key(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_string(w, NULL, "x");
	json_object_end(w);
}

static void doc_key_in_array(struct json_writer *w)
{
	json_array_begin(w, NULL);
	json_string(w, "k", "x");
	json_array_end(w);
}

static void doc_unbalanced(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_array_begin(w, "a");
	json_object_end(w);
}

static void doc_open(struct json_writer *w)
{
	json_object_begin(w, NULL);
}

static void doc_two_roots(struct json_writer *w)
{
	json_null(w, NULL);
	json_null(w, NULL);
}

static void doc_too_deep(struct json_writer *w)
{
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_array_begin(w, NULL);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_array_end(w);
}

TEST(misuse_is_reported)
{
	int rc;

	free(render(doc_value_without_key, false, &rc));
	CHECK_INT(rc, -EINVAL);
	free(render(doc_key_in_array, false, &rc));
	CHECK_INT(rc, -EINVAL);
	free(render(doc_unbalanced, false, &rc));
	CHECK_INT(rc, -EINVAL);
	free(render(doc_open, false, &rc));
	CHECK_INT(rc, -EINVAL);
	free(render(doc_two_roots, false, &rc));
	CHECK_INT(rc, -EINVAL);
	free(render(doc_too_deep, false, &rc));
	CHECK_INT(rc, -E2BIG);
	CHECK_INT(json_finish(NULL), 0);
}

TEST(write_error_is_reported)
{
	FILE *f = fopen("/dev/full", "w");
	struct json_writer *w;

	if (!f) {
		CHECK(f != NULL);
		return;
	}
	setvbuf(f, NULL, _IONBF, 0);
	w = json_new(f, false);
	doc_nested(w);
	CHECK(json_finish(w) < 0);
	fclose(f);
}

int main(void)
{
	RUN(nesting_and_commas);
	RUN(pretty_form);
	RUN(string_escaping);
	RUN(misuse_is_reported);
	RUN(write_error_is_reported);
	return tap_done();
}
