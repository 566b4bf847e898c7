/* libFuzzer target: every rewriter of rewrite.h on the same text, with a
 * map that replaces every device name it is asked about; then the diff of
 * input and output (udiff.h). Checks the invariants the patch relies on:
 * a rewrite with no change is an identical copy, and rewriting the output
 * again changes nothing (idempotence). */
#include "rewrite.h"
#include "udiff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int map(const char *spec, char **ret, void *data)
{
	if (strncmp(spec, "/dev/", 5))
		return 0;
	*ret = strdup("UUID=0b7c1d2e-1111-4a4a-9b9b-000000000001");
	return *ret ? 1 : -12;
}

static void check(int r, const char *t, size_t n, struct mig_rewrite *rw)
{
	if (r < 0)
		return;
	if (!rw->changes && (rw->len != n || memcmp(rw->text, t, n)))
		abort();
	char *diff = NULL;
	size_t dn;
	if (mig_udiff(t, n, rw->text, rw->len, "a", "b", &diff, &dn) == 0) {
		if (!rw->changes && dn)
			abort();
		free(diff);
	}
	mig_rewrite_free(rw);
}

#define RUN_DEV(fn) do { struct mig_rewrite rw, again; \
	if (fn(t, size, map, NULL, &rw) == 0) { \
		if (fn(rw.text, rw.len, map, NULL, &again) == 0) { \
			if (again.changes) abort(); mig_rewrite_free(&again); } \
		check(0, t, size, &rw); } } while (0)
#define RUN_PLAIN(call) do { struct mig_rewrite rw; int r = call; check(r, t, size, &rw); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;

	RUN_DEV(mig_rewrite_fstab);
	RUN_DEV(mig_rewrite_crypttab);
	RUN_DEV(mig_rewrite_cmdline);
	RUN_DEV(mig_rewrite_default_grub);
	RUN_DEV(mig_rewrite_grub_cfg);
	RUN_DEV(mig_rewrite_bls);
	RUN_DEV(mig_rewrite_resume_conf);
	RUN_PLAIN(mig_rewrite_sources_list(t, size, &rw));
	RUN_PLAIN(mig_rewrite_yum_repo(t, size, &rw));
	RUN_PLAIN(mig_rewrite_ifcfg(t, size, size & 1, &rw));
	RUN_PLAIN(mig_rewrite_networkd_match(t, size, &rw));
	RUN_PLAIN(mig_rewrite_nm_keyfile(t, size, size & 1, &rw));
	RUN_PLAIN(mig_rewrite_netplan(t, size, &rw));
	RUN_PLAIN(mig_rewrite_interfaces_dhcp(t, size, &rw));
	static const char *const mods[] = { "virtio_blk", "virtio-pci", "nvme" };
	RUN_PLAIN(mig_rewrite_add_modules(t, size, mods, 3, &rw));
	return 0;
}
