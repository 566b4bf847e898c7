/* test-init-parsers.c — the small pure parsers of init: console=, EFI
 * variables, lockdown, uevents, the alias set, modules.alias matching,
 * /proc/self/mounts escapes, base64 user-data. */
#include <errno.h>
#include <stdlib.h>

#include "tap.h"
#include "console.h"
#include "firmware.h"
#include "metadata.h"
#include "modalias.h"
#include "mounts.h"
#include "uevent.h"

TEST(console_params)
{
	char name[CONSOLE_NAME_MAX];
	unsigned baud;

	CHECK_INT(console_parse("ttyS0,115200n8", name, sizeof(name), &baud), 0);
	CHECK_STR(name, "ttyS0");
	CHECK_INT(baud, 115200);
	CHECK_INT(console_parse("tty0", name, sizeof(name), &baud), 0);
	CHECK_STR(name, "tty0");
	CHECK_INT(baud, 0);
	CHECK_INT(console_parse("hvc0", name, sizeof(name), &baud), 0);
	CHECK_INT(console_parse("ttyAMA0,38400", name, sizeof(name), &baud), 0);
	CHECK_INT(baud, 38400);
	CHECK_INT(console_parse("ttyS1,bogus", name, sizeof(name), &baud), 0);
	CHECK_INT(baud, 0);
	CHECK_INT(console_parse("uart8250,io,0x3f8,115200", name, sizeof(name), &baud), -EINVAL);
	CHECK_INT(console_parse("null", name, sizeof(name), &baud), -EINVAL);
	CHECK_INT(console_parse("lp0", name, sizeof(name), &baud), -EINVAL);
	CHECK_INT(console_parse("../x0", name, sizeof(name), &baud), -EINVAL);
	CHECK_INT(console_parse("", name, sizeof(name), &baud), -EINVAL);
	CHECK_INT(console_parse("ttyS0", name, 3, &baud), -EINVAL);
}

TEST(efi_bool)
{
	const uint8_t on[] = { 0x06, 0, 0, 0, 1 }, off[] = { 0x06, 0, 0, 0, 0 };
	const uint8_t bad[] = { 0x06, 0, 0, 0, 2 }, shortv[] = { 0x06, 0, 0, 0 };

	CHECK_INT(firmware_parse_efi_bool(on, sizeof(on)), 1);
	CHECK_INT(firmware_parse_efi_bool(off, sizeof(off)), 0);
	CHECK_INT(firmware_parse_efi_bool(bad, sizeof(bad)), -EINVAL);
	CHECK_INT(firmware_parse_efi_bool(shortv, sizeof(shortv)), -EINVAL);
}

TEST(lockdown_and_describe)
{
	struct firmware_info fi = { .uefi = true, .platform_bits = 64, .secure_boot = 1,
				    .setup_mode = 0 };
	char buf[128];

	CHECK_INT(firmware_parse_lockdown("none [integrity] confidentiality", fi.lockdown,
					  sizeof(fi.lockdown)), 0);
	CHECK_STR(fi.lockdown, "integrity");
	CHECK_INT(firmware_parse_lockdown("none integrity", buf, sizeof(buf)), -EINVAL);
	CHECK_INT(firmware_parse_lockdown("[]", buf, sizeof(buf)), -EINVAL);
	firmware_describe(&fi, buf, sizeof(buf));
	CHECK_STR(buf, "UEFI 64-bit, Secure Boot enabled, kernel lockdown integrity");
	fi.secure_boot = 0;
	fi.setup_mode = 1;
	fi.lockdown[0] = '\0';
	firmware_describe(&fi, buf, sizeof(buf));
	CHECK_STR(buf, "UEFI 64-bit, Secure Boot disabled (setup mode)");
	fi = (struct firmware_info){ .secure_boot = -1, .setup_mode = -1 };
	firmware_describe(&fi, buf, sizeof(buf));
	CHECK_STR(buf, "BIOS (legacy boot)");
}

TEST(uevents)
{
	static const char add[] = "add@/devices/pci0000:00/0000:00:03.0\0ACTION=add\0"
				  "DEVPATH=/devices/pci0000:00/0000:00:03.0\0SUBSYSTEM=pci\0"
				  "MODALIAS=pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\0SEQNUM=5";
	static const char bind[] = "bind@/devices/x\0ACTION=bind\0MODALIAS=pci:v1\0";
	static const char noalias[] = "add@/devices/x\0ACTION=add\0SUBSYSTEM=block\0";
	static const char udev[] = "libudev\0\xfe\xed\xca\xfe";
	static const char blank[] = "add@/x\0ACTION=add\0MODALIAS=a b\0";
	char alias[MODALIAS_MAX];

	CHECK_INT(uevent_modalias(add, sizeof(add) - 1, alias, sizeof(alias)), 1);
	CHECK_STR(alias, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00");
	CHECK_INT(uevent_modalias(bind, sizeof(bind) - 1, alias, sizeof(alias)), 0);
	CHECK_INT(uevent_modalias(noalias, sizeof(noalias) - 1, alias, sizeof(alias)), 0);
	CHECK_INT(uevent_modalias(udev, sizeof(udev) - 1, alias, sizeof(alias)), -EINVAL);
	CHECK_INT(uevent_modalias(blank, sizeof(blank) - 1, alias, sizeof(alias)), -EINVAL);
	CHECK_INT(uevent_modalias("", 0, alias, sizeof(alias)), -EINVAL);
	CHECK_INT(uevent_modalias(add, sizeof(add) - 1, alias, 8), -EINVAL);
}

TEST(alias_set)
{
	struct alias_set s = { 0 };
	char buf[16];

	CHECK_INT(alias_set_add(&s, "b"), 1);
	CHECK_INT(alias_set_add(&s, "a"), 1);
	CHECK_INT(alias_set_add(&s, "c"), 1);
	CHECK_INT(alias_set_add(&s, "b"), 0);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.v[0], "a");
	CHECK_STR(s.v[2], "c");
	for (int i = 0; i < ALIAS_SET_MAX; i++) {
		snprintf(buf, sizeof(buf), "x%d", i);
		if (alias_set_add(&s, buf) < 0)
			break;
	}
	CHECK_INT(s.n, ALIAS_SET_MAX);
	CHECK_INT(alias_set_add(&s, "zz-new"), -E2BIG);
	CHECK_INT(alias_set_add(&s, "a"), 0);
	alias_set_free(&s);
}

static char matched[256];

static void collect(const char *module, void *data)
{
	size_t l = strlen(matched);
	snprintf(matched + l, sizeof(matched) - l, "%s ", module);
}

TEST(modules_alias)
{
	static const char text[] =
		"# Aliases extracted from modules themselves.\n"
		"alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci\n"
		"alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
		"alias virtio:d00000001v* virtio_net\n"
		"alias virtio:d00000002v* virtio_blk\n"
		"alias pci:v*d*sv*sd*bc01sc06i01* ahci\n"
		"alias fs-ext4 ext4\n"
		"alias *:acpi-bad trailing extra\n"
		"alias nomodule\n"
		"softdep ext4 pre: crc32c\n";
	struct modalias_db db;
	char name[MODULE_NAME_MAX];
	char *copy = strdup(text);

	CHECK_INT(modalias_db_parse(&db, copy, strlen(copy)), 0);
	CHECK_INT(db.n, 6);
	matched[0] = '\0';
	CHECK_INT(modalias_db_match(&db, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
				    collect, NULL), 1);
	CHECK_STR(matched, "virtio_pci ");
	matched[0] = '\0';
	CHECK_INT(modalias_db_match(&db, "virtio:d00000002v00001AF4", collect, NULL), 1);
	CHECK_STR(matched, "virtio_blk ");
	matched[0] = '\0';
	CHECK_INT(modalias_db_match(&db, "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
				    collect, NULL), 1);
	CHECK_STR(matched, "ahci ");
	CHECK_INT(modalias_db_match(&db, "acpi:PNP0303:", collect, NULL), 0);
	CHECK_INT(modalias_db_match(&db, "fs-ext4", collect, NULL), 1);
	modalias_db_free(&db);

	CHECK_INT(modalias_module_name("usb-storage", name, sizeof(name)), 0);
	CHECK_STR(name, "usb_storage");
	CHECK_INT(modalias_module_name("a-b", name, 3), -ENAMETOOLONG);
}

TEST(mounts_escapes)
{
	char s[] = "/mnt/with\\040space\\011tab\\134back\\12no";

	mounts_unescape(s);
	CHECK_STR(s, "/mnt/with space\ttab\\back\\12no");
}

TEST(base64)
{
	char a[] = "bW9kZT1yZWNlaXZlCmV4aXQ9cG93ZXJvZmYK";
	char b[] = "YQ==\n";
	char c[] = "YWI=";
	char bad1[] = "YQ=x", bad2[] = "Y", bad3[] = "Y$==";

	CHECK_INT(metadata_base64_decode(a, strlen(a)), 27);
	CHECK_STR(a, "mode=receive\nexit=poweroff\n");
	CHECK_INT(metadata_base64_decode(b, strlen(b)), 1);
	CHECK_STR(b, "a");
	CHECK_INT(metadata_base64_decode(c, strlen(c)), 2);
	CHECK_STR(c, "ab");
	CHECK_INT(metadata_base64_decode(bad1, strlen(bad1)), -EINVAL);
	CHECK_INT(metadata_base64_decode(bad2, strlen(bad2)), -EINVAL);
	CHECK_INT(metadata_base64_decode(bad3, strlen(bad3)), -EINVAL);
}

int main(void)
{
	RUN(console_params);
	RUN(efi_bool);
	RUN(lockdown_and_describe);
	RUN(uevents);
	RUN(alias_set);
	RUN(modules_alias);
	RUN(mounts_escapes);
	RUN(base64);
	return tap_done();
}
