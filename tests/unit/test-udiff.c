/* Unit tests of the unified diff generator (udiff.h): the output is what
 * `diff -u` prints for in-place edits, and it applies with patch(1). */
#include "tap.h"
#include "udiff.h"

#include <errno.h>
#include <stdlib.h>

#define S(s) s, sizeof(s) - 1

static char *d(const char *a, size_t an, const char *b, size_t bn)
{
	static char *last;
	size_t n;

	free(last);
	last = NULL;
	if (mig_udiff(a, an, b, bn, "a", b ? "b" : "/dev/null", &last, &n) < 0)
		return NULL;
	return last;
}

TEST(equal_is_empty)
{
	CHECK_STR(d(S("x\ny\n"), S("x\ny\n")), "");
	CHECK_STR(d(S(""), S("")), "");
}

TEST(replace_with_context)
{
	CHECK_STR(d(S("1\n2\n3\n4\n5\n6\n7\n8\n9\n"), S("1\n2\n3\n4\nV\n6\n7\n8\n9\n")),
		  "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+V\n 6\n 7\n 8\n");
}

TEST(two_hunks)
{
	/* changes 9 lines apart: two hunks, as diff -u */
	CHECK_STR(d(S("a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n"), S("A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n")),
		  "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n");
}

TEST(removal_and_no_newline)
{
	CHECK_STR(d(S("x\ny"), NULL, 0), "--- a\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n\\ No newline at end of file\n");
	CHECK_STR(d(S("x"), S("z")), "--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n");
}

TEST(insertion)
{
	CHECK_STR(d(S("a\nb\n"), S("a\nn\nb\n")), "--- a\n+++ b\n@@ -1,2 +1,3 @@\n a\n+n\n b\n");
}

TEST(limits)
{
	char *out;
	size_t n;

	CHECK_INT(mig_udiff("x", MIG_UDIFF_TEXT_MAX + 1, "y", 1, "a", "b", &out, &n), -EFBIG);
	d(NULL, 0, NULL, 0);   /* frees the last result */
}

int main(void)
{
	RUN(equal_is_empty);
	RUN(replace_with_context);
	RUN(two_hunks);
	RUN(removal_and_no_newline);
	RUN(insertion);
	RUN(limits);
	return tap_done();
}
