/* tap.h — the tiny assertion harness of the host unit tests.
 *
 * One test program = one process; it prints TAP lines and exits non-zero when
 * anything failed. tests/run.sh collects them. Use:
 *
 *   TEST(json_escapes) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(json_escapes); return tap_done(); }
 */
#ifndef MIGRATOR_TESTS_TAP_H
#define MIGRATOR_TESTS_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_cur_failed;

#define TEST(name) static void test_##name(void)
#define RUN(name) do { \
	tap_cur_failed = 0; test_##name(); tap_n++; \
	if (tap_cur_failed) tap_failed++; \
	printf("%s %d - %s\n", tap_cur_failed ? "not ok" : "ok", tap_n, #name); \
	fflush(stdout); } while (0)
#define CHECK(cond) do { if (!(cond)) { tap_cur_failed = 1; \
	printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { tap_cur_failed = 1; \
	printf("# %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) { tap_cur_failed = 1; \
	printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
	       _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif
