/* udiff.h — a unified diff of two texts, as `diff -u` prints it.
 *
 * Made for showing the planned edits of `migrator patch --dry-run`: the
 * rewriters change lines in place or comment them out, so the diff is
 * exact when both texts have the same number of lines (changed runs become
 * -/+ blocks with 3 lines of context); otherwise it is one hunk spanning
 * from the first to the last differing line (correct for `patch`, not
 * minimal). A text missing its final newline gets the
 * "\ No newline at end of file" marker. Pure; no I/O.
 */
#ifndef MIGRATOR_UDIFF_H
#define MIGRATOR_UDIFF_H

#include <stddef.h>

#define MIG_UDIFF_TEXT_MAX (4u << 20)
#define MIG_UDIFF_LINES_MAX 200000

/* Diffs a (old, label_a) against b (new, label_b). b == NULL means the
 * file is removed (label_b is printed as given, normally "/dev/null").
 * Returns 0 and a new NUL-terminated text in *ret (caller frees; "" when
 * equal), -EFBIG above the limits, -ENOMEM. */
int mig_udiff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
	      const char *label_b, char **ret, size_t *ret_len);

#endif
