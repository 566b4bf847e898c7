/* firmware.h — how this machine booted: UEFI or BIOS, Secure Boot, kernel
 * lockdown. Read from sysfs and efivarfs (mounts.c mounts them first). */
#ifndef MIGRATOR_INIT_FIRMWARE_H
#define MIGRATOR_INIT_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EFI_GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"

struct firmware_info {
	bool uefi;
	int platform_bits;      /* 32 or 64 (UEFI), 0 unknown */
	int secure_boot;        /* 1 enabled, 0 disabled, -1 unknown */
	int setup_mode;         /* 1 setup mode (keys not enrolled), 0, -1 unknown */
	char lockdown[16];      /* "none", "integrity", "confidentiality", "" unknown */
};

/* Pure: the value of a boolean EFI variable as efivarfs shows it, 4 bytes of
 * attributes then 1 byte of data. Returns 0 or 1, or -EINVAL for a wrong size
 * or a value other than 0/1. */
int firmware_parse_efi_bool(const uint8_t *buf, size_t n);

/* Pure: the selected word of /sys/kernel/security/lockdown
 * ("none [integrity] confidentiality" → "integrity"). Returns 0 or -EINVAL. */
int firmware_parse_lockdown(const char *text, char *ret, size_t n);

/* Pure: one line for the console, e.g. "UEFI 64-bit, Secure Boot enabled,
 * lockdown integrity" or "BIOS (legacy boot)". */
void firmware_describe(const struct firmware_info *fi, char *buf, size_t n);

/* Fills *ret from /sys/firmware/efi, efivarfs and securityfs. Returns 0. */
int firmware_probe(struct firmware_info *ret);

#endif
