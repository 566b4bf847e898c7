/* libFuzzer target: every reference parser of refs.h (and the kernel/initrd
 * path parser) on the same text. */
#include "refs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	struct mig_refs refs = { 0 };
	char *v = NULL;

	mig_refs_from_fstab(&refs, t, size, "f");
	mig_refs_from_crypttab(&refs, t, size, "c");
	mig_refs_from_grub_cfg(&refs, t, size, "g");
	mig_refs_from_default_grub(&refs, t, size, "d");
	mig_refs_from_mdadm_conf(&refs, t, size, "m");
	mig_refs_from_resume_conf(&refs, t, size, "r");
	if (mig_grubenv_get(t, size, "kernelopts", &v) == 0) {
		mig_refs_from_bls(&refs, t, size, "b", v);
		free(v);
	}
	if (size < 4096) {
		mig_refs_from_cmdline(&refs, t, size, "k", 1);
		char *s = strndup(t, size);
		enum mig_ref_kind k;
		if (s && mig_ref_parse_spec(s, &k, &v) == 0)
			free(v);
		free(s);
	}
	mig_refs_clear(&refs);
	struct mig_boot_files bf = { 0 };
	mig_boot_files_parse(&bf, t, size, false);
	mig_boot_files_parse(&bf, t, size, true);
	mig_boot_files_clear(&bf);
	return 0;
}
