/* libFuzzer target: sector 0 and GPT header parsing (pure, on bytes). */
#include "bootsect.h"
#include "gpt.h"

#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_bootsect b;
	struct mig_gpt_header h;

	if (mig_bootsect_parse(data, size, &b) == 0)
		(void)mig_bootsect_is_hybrid(&b);
	(void)mig_gpt_header_parse(data, size, &h);
	if (size > 512)
		(void)mig_gpt_header_parse(data + 512, size - 512, &h);
	return 0;
}
