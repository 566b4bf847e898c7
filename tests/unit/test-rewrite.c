/* Unit tests of the text rewriters (rewrite.h): fixture files as Debian,
 * Ubuntu (netplan), RHEL 8/9 (BLS, ifcfg, NM keyfile, media repos) and SUSE
 * write them, against golden outputs in tests/fixtures/patch/NAME.out.
 * MIGRATOR_UPDATE_GOLDEN=1 rewrites the .out files (review the diff!). */
#include "tap.h"
#include "fileio.h"
#include "rewrite.h"

#include <errno.h>
#include <stdlib.h>

#define DIR "tests/fixtures/patch/"

/* the disk layout the fixtures were written on */
static const char *const table[][2] = {
	{ "/dev/sda1", "UUID=0b7c1d2e-1111-4a4a-9b9b-000000000001" },
	{ "/dev/sda3", "UUID=0b7c1d2e-1111-4a4a-9b9b-00000000000c" },   /* LUKS header */
	{ "/dev/sda5", "UUID=0b7c1d2e-1111-4a4a-9b9b-000000000005" },   /* swap */
	{ "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2", "UUID=0b7c1d2e-1111-4a4a-9b9b-000000000002" },
	{ "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi0-part2", "UUID=5e5e5e5e-2222-4b4b-8c8c-000000000002" },
	{ "/dev/vda2", "UUID=7d7d7d7d-3333-4c4c-8d8d-000000000002" },
	{ "/dev/vda3", "PARTUUID=1a2b3c4d-03" },   /* no filesystem UUID */
};

static int map(const char *spec, char **ret, void *data)
{
	unsigned *calls = data;

	if (calls)
		(*calls)++;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(spec, table[i][0]))
			return (*ret = strdup(table[i][1])) ? 1 : -ENOMEM;
	return 0;
}

enum kind { FSTAB, CRYPTTAB, DEFGRUB, GRUBCFG, BLS, RESUME, SOURCES, YUM, IFCFG, IFCFG_DHCP,
	    NETWORKD, NM, NM_DHCP, NETPLAN, INTERFACES };

static int run(enum kind k, const char *t, size_t n, struct mig_rewrite *rw)
{
	switch (k) {
	case FSTAB: return mig_rewrite_fstab(t, n, map, NULL, rw);
	case CRYPTTAB: return mig_rewrite_crypttab(t, n, map, NULL, rw);
	case DEFGRUB: return mig_rewrite_default_grub(t, n, map, NULL, rw);
	case GRUBCFG: return mig_rewrite_grub_cfg(t, n, map, NULL, rw);
	case BLS: return mig_rewrite_bls(t, n, map, NULL, rw);
	case RESUME: return mig_rewrite_resume_conf(t, n, map, NULL, rw);
	case SOURCES: return mig_rewrite_sources_list(t, n, rw);
	case YUM: return mig_rewrite_yum_repo(t, n, rw);
	case IFCFG: return mig_rewrite_ifcfg(t, n, false, rw);
	case IFCFG_DHCP: return mig_rewrite_ifcfg(t, n, true, rw);
	case NETWORKD: return mig_rewrite_networkd_match(t, n, rw);
	case NM: return mig_rewrite_nm_keyfile(t, n, false, rw);
	case NM_DHCP: return mig_rewrite_nm_keyfile(t, n, true, rw);
	case NETPLAN: return mig_rewrite_netplan(t, n, rw);
	case INTERFACES: return mig_rewrite_interfaces_dhcp(t, n, rw);
	}
	return -EINVAL;
}

/* in: fixture NAME.in; golden: NAME.out (or OUT.out); expected change count */
static void golden(const char *in, const char *out, enum kind k, unsigned changes)
{
	char p[256], *t = NULL, *want = NULL;
	size_t n, wn;
	struct mig_rewrite rw = { 0 }, again = { 0 };

	snprintf(p, sizeof(p), DIR "%s.in", in);
	CHECK_INT(mig_read_file(p, 1 << 20, &t, &n), 0);
	if (!t)
		return;
	CHECK_INT(run(k, t, n, &rw), 0);
	CHECK_INT(rw.changes, changes);
	snprintf(p, sizeof(p), DIR "%s.out", out ? out : in);
	if (getenv("MIGRATOR_UPDATE_GOLDEN") && rw.text)
		mig_write_file_atomic(p, rw.text, rw.len, 0644);
	CHECK_INT(mig_read_file(p, 1 << 20, &want, &wn), 0);
	if (rw.text && want) {
		CHECK_INT(rw.len, wn);
		CHECK_STR(rw.text, want);
		/* idempotent: the output rewritten again changes nothing */
		CHECK_INT(run(k, rw.text, rw.len, &again), 0);
		CHECK_INT(again.changes, 0);
		CHECK(again.text && again.len == rw.len && !memcmp(again.text, rw.text, rw.len));
	}
	mig_rewrite_free(&again);
	mig_rewrite_free(&rw);
	free(want);
	free(t);
}

TEST(debian_fstab) { golden("debian.fstab", NULL, FSTAB, 3); }
TEST(debian_crypttab) { golden("debian.crypttab", NULL, CRYPTTAB, 1); }
TEST(debian_default_grub) { golden("debian.default-grub", NULL, DEFGRUB, 2); }
TEST(debian_grub_cfg) { golden("debian.grub.cfg", NULL, GRUBCFG, 2); }
TEST(debian_resume) { golden("debian.resume", NULL, RESUME, 1); }
TEST(debian_sources_list) { golden("debian.sources.list", NULL, SOURCES, 2); }
TEST(debian_interfaces_dhcp) { golden("debian.interfaces", NULL, INTERFACES, 3); }
TEST(ubuntu_netplan) { golden("ubuntu.netplan", NULL, NETPLAN, 4); }
TEST(rhel9_bls) { golden("rhel9.bls", NULL, BLS, 1); }
TEST(rhel8_ifcfg) { golden("rhel8.ifcfg", NULL, IFCFG, 1); }
TEST(rhel8_ifcfg_dhcp) { golden("rhel8.ifcfg", "rhel8.ifcfg-dhcp", IFCFG_DHCP, 5); }
TEST(rhel9_nm_keyfile) { golden("rhel9.nmconnection", NULL, NM, 1); }
TEST(rhel9_nm_keyfile_dhcp) { golden("rhel9.nmconnection", "rhel9.nmconnection-dhcp", NM_DHCP, 3); }
TEST(rhel9_media_repo) { golden("rhel9.media.repo", NULL, YUM, 2); }
TEST(suse_fstab) { golden("suse.fstab", NULL, FSTAB, 2); }
TEST(suse_ifcfg_dhcp) { golden("suse.ifcfg", NULL, IFCFG_DHCP, 4); }
TEST(systemd_link) { golden("systemd.link", NULL, NETWORKD, 1); }

/* what the rewriters must keep byte for byte */
TEST(preserves_bytes)
{
	static const char t[] = "/dev/sda1\t/ ext4 defaults 0 1\r\n\n# /dev/sda1 comment\n/dev/sda5 none swap sw";
	struct mig_rewrite rw = { 0 };

	CHECK_INT(mig_rewrite_fstab(t, sizeof(t) - 1, map, NULL, &rw), 0);
	CHECK_STR(rw.text, "UUID=0b7c1d2e-1111-4a4a-9b9b-000000000001\t/ ext4 defaults 0 1\r\n\n"
			   "# /dev/sda1 comment\nUUID=0b7c1d2e-1111-4a4a-9b9b-000000000005 none swap sw");
	CHECK_INT(rw.changes, 2);
	mig_rewrite_free(&rw);
	CHECK_INT(mig_rewrite_fstab("", 0, map, NULL, &rw), 0);
	CHECK_STR(rw.text, "");
	CHECK_INT(rw.changes, 0);
	mig_rewrite_free(&rw);
}

static int map_fail(const char *spec, char **ret, void *data)
{
	return -EIO;
}

static int map_huge(const char *spec, char **ret, void *data)
{
	char *s = malloc(MIG_REWRITE_SPEC_MAX + 2);

	if (!s)
		return -ENOMEM;
	memset(s, 'x', MIG_REWRITE_SPEC_MAX + 1);
	s[MIG_REWRITE_SPEC_MAX + 1] = 0;
	*ret = s;
	return 1;
}

TEST(limits_and_errors)
{
	struct mig_rewrite rw = { .text = NULL, .changes = 99 };
	unsigned calls = 0;

	CHECK_INT(mig_rewrite_fstab("/dev/sda1 / ext4", 16, map_fail, NULL, &rw), -EIO);
	CHECK_INT(rw.changes, 99);   /* untouched on failure */
	CHECK_INT(mig_rewrite_fstab("/dev/sda1 / ext4", 16, map_huge, NULL, &rw), -E2BIG);
	CHECK_INT(mig_rewrite_fstab("x", MIG_REWRITE_TEXT_MAX + 1, map, NULL, &rw), -EFBIG);
	/* a line over the limit is copied, not parsed */
	size_t n = MIG_REWRITE_LINE_MAX + 100;
	char *t = malloc(n + 1);
	if (!t)
		return;
	memset(t, ' ', n);
	memcpy(t, "/dev/sda1", 9);
	t[n] = 0;
	CHECK_INT(mig_rewrite_fstab(t, n, map, &calls, &rw), 0);
	CHECK_INT(calls, 0);
	CHECK_INT(rw.changes, 0);
	CHECK(rw.len == n && !memcmp(rw.text, t, n));
	mig_rewrite_free(&rw);
	free(t);
}

TEST(cmdline_words)
{
	static const char t[] = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro noroot=/dev/sda1 resume=/dev/sda5";
	struct mig_rewrite rw = { 0 };

	CHECK_INT(mig_rewrite_cmdline(t, sizeof(t) - 1, map, NULL, &rw), 0);
	CHECK_STR(rw.text, "BOOT_IMAGE=/vmlinuz root=UUID=0b7c1d2e-1111-4a4a-9b9b-000000000001 ro "
			   "noroot=/dev/sda1 resume=UUID=0b7c1d2e-1111-4a4a-9b9b-000000000005");
	mig_rewrite_free(&rw);
	/* unquoted and exported assignments in /etc/default/grub */
	static const char g[] = "export GRUB_CMDLINE_LINUX=root=/dev/sda1\nGRUB_CMDLINE_LINUX_DEFAULT='resume=/dev/sda5'\n";
	CHECK_INT(mig_rewrite_default_grub(g, sizeof(g) - 1, map, NULL, &rw), 0);
	CHECK_STR(rw.text, "export GRUB_CMDLINE_LINUX=root=UUID=0b7c1d2e-1111-4a4a-9b9b-000000000001\n"
			   "GRUB_CMDLINE_LINUX_DEFAULT='resume=UUID=0b7c1d2e-1111-4a4a-9b9b-000000000005'\n");
	CHECK_INT(rw.changes, 2);
	mig_rewrite_free(&rw);
}

TEST(add_modules)
{
	static const char t[] = "# List of modules\n#virtio_blk\nvirtio-pci\nloop max_loop=8";
	const char *const mods[] = { "virtio_blk", "virtio_scsi", "virtio_pci", "loop" };
	struct mig_rewrite rw = { 0 }, again = { 0 };

	CHECK_INT(mig_rewrite_add_modules(t, sizeof(t) - 1, mods, 4, &rw), 0);
	CHECK_STR(rw.text, "# List of modules\n#virtio_blk\nvirtio-pci\nloop max_loop=8\nvirtio_blk\nvirtio_scsi\n");
	CHECK_INT(rw.changes, 2);
	CHECK_INT(mig_rewrite_add_modules(rw.text, rw.len, mods, 4, &again), 0);
	CHECK_INT(again.changes, 0);
	mig_rewrite_free(&again);
	mig_rewrite_free(&rw);
}

int main(void)
{
	RUN(debian_fstab);
	RUN(debian_crypttab);
	RUN(debian_default_grub);
	RUN(debian_grub_cfg);
	RUN(debian_resume);
	RUN(debian_sources_list);
	RUN(debian_interfaces_dhcp);
	RUN(ubuntu_netplan);
	RUN(rhel9_bls);
	RUN(rhel8_ifcfg);
	RUN(rhel8_ifcfg_dhcp);
	RUN(rhel9_nm_keyfile);
	RUN(rhel9_nm_keyfile_dhcp);
	RUN(rhel9_media_repo);
	RUN(suse_fstab);
	RUN(suse_ifcfg_dhcp);
	RUN(systemd_link);
	RUN(preserves_bytes);
	RUN(limits_and_errors);
	RUN(cmdline_words);
	RUN(add_modules);
	return tap_done();
}
