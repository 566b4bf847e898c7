/* firmware.c — UEFI/BIOS, Secure Boot and lockdown state. */
#include "firmware.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#define EFIVARS "/sys/firmware/efi/efivars"

int firmware_parse_efi_bool(const uint8_t *buf, size_t n)
{
	if (n != 5 || buf[4] > 1)
		return -EINVAL;
	return buf[4];
}

int firmware_parse_lockdown(const char *text, char *ret, size_t n)
{
	const char *l = strchr(text, '['), *r;

	if (!l || !(r = strchr(l, ']')) || r == l + 1 || (size_t)(r - l - 1) >= n)
		return -EINVAL;
	memcpy(ret, l + 1, (size_t)(r - l - 1));
	ret[r - l - 1] = '\0';
	return 0;
}

void firmware_describe(const struct firmware_info *fi, char *buf, size_t n)
{
	const char *sb = fi->secure_boot == 1 ? "enabled" :
			 fi->secure_boot == 0 ? "disabled" : "unknown";
	size_t k;

	if (!fi->uefi)
		k = (size_t)snprintf(buf, n, "BIOS (legacy boot)");
	else if (fi->platform_bits)
		k = (size_t)snprintf(buf, n, "UEFI %d-bit, Secure Boot %s%s", fi->platform_bits,
				     sb, fi->setup_mode == 1 ? " (setup mode)" : "");
	else
		k = (size_t)snprintf(buf, n, "UEFI, Secure Boot %s%s", sb,
				     fi->setup_mode == 1 ? " (setup mode)" : "");
	if (k < n && fi->lockdown[0])
		snprintf(buf + k, n - k, ", kernel lockdown %s", fi->lockdown);
}

static int efi_bool(const char *name)
{
	char path[256], *buf = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), EFIVARS "/%s-" EFI_GLOBAL_GUID, name);
	r = read_file(path, 64, &buf, &len);
	if (r < 0)
		return -1;
	r = firmware_parse_efi_bool((const uint8_t *)buf, len);
	free(buf);
	return r < 0 ? -1 : r;
}

int firmware_probe(struct firmware_info *ret)
{
	struct firmware_info fi = { .secure_boot = -1, .setup_mode = -1 };
	char line[128];
	struct stat st;

	fi.uefi = stat("/sys/firmware/efi", &st) == 0;
	if (fi.uefi) {
		if (read_line("/sys/firmware/efi/fw_platform_size", line, sizeof(line)) > 0)
			fi.platform_bits = atoi(line);
		fi.secure_boot = efi_bool("SecureBoot");
		fi.setup_mode = efi_bool("SetupMode");
		/* No SecureBoot variable at all: firmware without Secure Boot. */
		if (fi.secure_boot < 0 && stat(EFIVARS, &st) == 0 &&
		    stat(EFIVARS "/SecureBoot-" EFI_GLOBAL_GUID, &st) < 0 && errno == ENOENT) {
			/* efivarfs mounted and readable, variable absent */
			if (stat(EFIVARS "/SetupMode-" EFI_GLOBAL_GUID, &st) == 0 ||
			    stat(EFIVARS "/BootOrder-" EFI_GLOBAL_GUID, &st) == 0)
				fi.secure_boot = 0;
		}
	}
	if (read_line("/sys/kernel/security/lockdown", line, sizeof(line)) > 0)
		firmware_parse_lockdown(line, fi.lockdown, sizeof(fi.lockdown));
	*ret = fi;
	return 0;
}
