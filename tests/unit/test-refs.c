/* Unit tests of the reference parsers (refs.h) on fixture text as Debian,
 * RHEL (BLS + grubenv) and hand-edited systems write it. */
#include "tap.h"
#include "refs.h"

#include <errno.h>
#include <stdlib.h>

#define T(s) s, sizeof(s) - 1

/* "KIND value what line" of refs->v[i], for compact comparisons */
static const char *fmt(const struct mig_refs *refs, size_t i)
{
	static char buf[512];

	if (i >= refs->n)
		return "(none)";
	snprintf(buf, sizeof(buf), "%s %s | %s | %u", mig_ref_kind_name(refs->v[i].kind),
		 refs->v[i].value, refs->v[i].what, refs->v[i].line);
	return buf;
}

TEST(spec_kinds)
{
	enum mig_ref_kind k;
	char *v;

	CHECK_INT(mig_ref_parse_spec("UUID=0a1b-2c3d", &k, &v), 0);
	CHECK_INT(k, MIG_REF_UUID);
	CHECK_STR(v, "0a1b-2c3d");
	free(v);
	CHECK_INT(mig_ref_parse_spec("UUID=\"5f0c\"", &k, &v), 0);
	CHECK_STR(v, "5f0c");
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/disk/by-label/my\\x20root", &k, &v), 0);
	CHECK_INT(k, MIG_REF_LABEL);
	CHECK_STR(v, "my root");
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/disk/by-partuuid/abc-01", &k, &v), 0);
	CHECK_INT(k, MIG_REF_PARTUUID);
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/disk/by-id/ata-Samsung_SSD-part1", &k, &v), 0);
	CHECK_INT(k, MIG_REF_MACHINE);
	CHECK_STR(v, "/dev/disk/by-id/ata-Samsung_SSD-part1");
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/sda1", &k, &v), 0);
	CHECK_INT(k, MIG_REF_DEVNAME);
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/nvme0n1p2", &k, &v), 0);
	CHECK_INT(k, MIG_REF_DEVNAME);
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/mapper/vg0-root", &k, &v), 0);
	CHECK_INT(k, MIG_REF_ASSEMBLED);
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/vg0/root", &k, &v), 0);
	CHECK_INT(k, MIG_REF_ASSEMBLED);
	free(v);
	CHECK_INT(mig_ref_parse_spec("/dev/md127", &k, &v), 0);
	CHECK_INT(k, MIG_REF_ASSEMBLED);
	free(v);
	CHECK_INT(mig_ref_parse_spec("PARTLABEL=EFI system", &k, &v), 0);
	CHECK_INT(k, MIG_REF_PARTLABEL);
	free(v);
	CHECK_INT(mig_ref_parse_spec("tmpfs", &k, &v), -ENOENT);
	CHECK_INT(mig_ref_parse_spec("server:/export", &k, &v), -ENOENT);
	CHECK_INT(mig_ref_parse_spec("UUID=", &k, &v), -ENOENT);
	CHECK_INT(mig_ref_parse_spec("", &k, &v), -ENOENT);
}

TEST(fstab_debian)
{
	static const char fstab[] =
		"# /etc/fstab: static file system information.\n"
		"#\n"
		"# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
		"# / was on /dev/sda1 during installation\n"
		"UUID=3b1c2e4f-0000-4000-8000-000000000001 /               ext4    errors=remount-ro 0       1\n"
		"# swap was on /dev/sda5 during installation\n"
		"UUID=3b1c2e4f-0000-4000-8000-000000000002 none            swap    sw              0       0\n"
		"/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n"
		"proc /proc proc defaults 0 0\n"
		"tmpfs\t/tmp\ttmpfs\tdefaults\t0\t0\n"
		"\t  LABEL=my\\040data\t/srv/my\\040data  ext4 defaults,nofail 0 2\n"
		"PARTUUID=0a0b0c0d-02 /boot/efi vfat umask=0077 0 1\r\n"
		"/dev/disk/by-id/wwn-0x5000-part3 /backup xfs defaults 0 0";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_fstab(&refs, T(fstab), "etc/fstab"), 0);
	CHECK_INT(refs.n, 6);
	CHECK_STR(fmt(&refs, 0), "UUID 3b1c2e4f-0000-4000-8000-000000000001 | fstab / | 5");
	CHECK_STR(fmt(&refs, 1), "UUID 3b1c2e4f-0000-4000-8000-000000000002 | fstab swap | 7");
	CHECK_STR(fmt(&refs, 2), "DEVNAME /dev/sr0 | fstab /media/cdrom0 (noauto/nofail) | 8");
	CHECK_STR(fmt(&refs, 3), "LABEL my data | fstab /srv/my data (noauto/nofail) | 11");
	CHECK_STR(fmt(&refs, 4), "PARTUUID 0a0b0c0d-02 | fstab /boot/efi | 12");
	CHECK_STR(fmt(&refs, 5), "MACHINE /dev/disk/by-id/wwn-0x5000-part3 | fstab /backup | 13");
	CHECK_STR(refs.v[0].source, "etc/fstab");
	mig_refs_clear(&refs);
}

TEST(crypttab)
{
	static const char ct[] =
		"# <target name> <source device> <key file> <options>\n"
		"sda3_crypt UUID=11111111-2222-3333-4444-555555555555 none luks,discard\n"
		"swap /dev/sda2 /dev/urandom swap,cipher=aes-xts-plain64\n";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_crypttab(&refs, T(ct), "etc/crypttab"), 0);
	CHECK_INT(refs.n, 2);
	CHECK_STR(fmt(&refs, 0), "UUID 11111111-2222-3333-4444-555555555555 | crypttab sda3_crypt | 2");
	CHECK_STR(fmt(&refs, 1), "DEVNAME /dev/sda2 | crypttab swap | 3");
	mig_refs_clear(&refs);
}

TEST(grub_cfg_debian)
{
	/* what grub-mkconfig writes on Debian 12, shortened */
	static const char cfg[] =
		"insmod part_gpt\n"
		"insmod ext2\n"
		"set root='hd0,gpt2'\n"
		"if [ x$feature_platform_search_hint = xy ]; then\n"
		"  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint-efi=hd0,gpt2 --hint-baremetal=ahci0,gpt2  4f3b-aa\n"
		"else\n"
		"  search --no-floppy --fs-uuid --set=root 4f3b-aa\n"
		"fi\n"
		"menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-4f3b' {\n"
		"\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=4f3b-aa ro resume=UUID=55-66 quiet\n"
		"\tinitrd\t/boot/initrd.img-6.1.0-18-amd64\n"
		"}\n"
		"search --label \"my boot\" ; search -f /boot/grub/x\n"
		"search.fs_uuid 01-02 root hd0,msdos1\n"
		"cryptomount -u 0123456789abcdef0123456789abcdef\n"
		"linux /vmlinuz root=$root_dev ro\n"
		"linuxefi /vmlinuz root=PARTUUID=abcd-01 rd.luks.uuid=luks-9999 rd.md.uuid=aa:bb:cc:dd\n";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_grub_cfg(&refs, T(cfg), "boot/grub/grub.cfg"), 0);
	CHECK_INT(refs.n, 10);
	CHECK_STR(fmt(&refs, 0), "UUID 4f3b-aa | search --fs-uuid | 5");
	CHECK_STR(fmt(&refs, 1), "UUID 4f3b-aa | search --fs-uuid | 7");
	CHECK_STR(fmt(&refs, 2), "UUID 4f3b-aa | linux root= | 10");
	CHECK_STR(fmt(&refs, 3), "UUID 55-66 | linux resume= | 10");
	CHECK_STR(fmt(&refs, 4), "LABEL my boot | search --label | 13");
	CHECK_STR(fmt(&refs, 5), "UUID 01-02 | search --fs-uuid | 14");
	CHECK_STR(fmt(&refs, 6), "LUKS-UUID 0123456789abcdef0123456789abcdef | cryptomount -u | 15");
	CHECK_STR(fmt(&refs, 7), "PARTUUID abcd-01 | linux root= | 17");
	CHECK_STR(fmt(&refs, 8), "LUKS-UUID 9999 | linux rd.luks.uuid= | 17");
	CHECK_STR(fmt(&refs, 9), "MD-UUID aa:bb:cc:dd | linux rd.md.uuid= | 17");
	mig_refs_clear(&refs);
}

TEST(grub_cfg_embedded)
{
	/* the load.cfg grub-install embeds in core.img */
	static const char cfg[] = "search.fs_uuid 6d1d5c56-7dc3-4b0e-a0d8-1f6f3b5f1c11 root hd0,msdos1 \n"
				  "set prefix=($root)'/boot/grub'\n";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_grub_cfg(&refs, T(cfg), "core.img"), 0);
	CHECK_INT(refs.n, 1);
	CHECK_STR(fmt(&refs, 0), "UUID 6d1d5c56-7dc3-4b0e-a0d8-1f6f3b5f1c11 | search --fs-uuid | 1");
	mig_refs_clear(&refs);
}

TEST(default_grub)
{
	static const char dg[] =
		"GRUB_DEFAULT=0\n"
		"GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=UUID=aaaa-bbbb\"\n"
		"# GRUB_CMDLINE_LINUX=\"root=/dev/sdz9\"\n"
		"GRUB_CMDLINE_LINUX='crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root'\n"
		"export GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX root=LABEL=rootfs\"\n"
		"GRUB_CMDLINE_LINUX_DEFAULTS=\"root=/dev/sda1\"\n";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_default_grub(&refs, T(dg), "etc/default/grub"), 0);
	CHECK_INT(refs.n, 3);
	CHECK_STR(fmt(&refs, 0), "UUID aaaa-bbbb | GRUB_CMDLINE_LINUX_DEFAULT resume= | 2");
	CHECK_STR(fmt(&refs, 1), "ASSEMBLED /dev/mapper/rhel-swap | GRUB_CMDLINE_LINUX resume= | 4");
	CHECK_STR(fmt(&refs, 2), "LABEL rootfs | GRUB_CMDLINE_LINUX root= | 5");
	mig_refs_clear(&refs);
}

TEST(rhel_bls_grubenv)
{
	static const char env[] =
		"# GRUB Environment Block\n"
		"saved_entry=abc-4.18.0-513.el8.x86_64\n"
		"kernelopts=root=UUID=77-88 ro crashkernel=auto resume=UUID=99-00 rhgb quiet\n"
		"boot_success=0\n"
		"##########################################################\n";
	static const char bls[] =
		"title Red Hat Enterprise Linux (4.18.0-513.el8.x86_64) 8.9 (Ootpa)\n"
		"version 4.18.0-513.el8.x86_64\n"
		"linux /vmlinuz-4.18.0-513.el8.x86_64\n"
		"initrd /initramfs-4.18.0-513.el8.x86_64.img $tuned_initrd\n"
		"options $kernelopts $tuned_params\n"
		"id rhel-20231010-4.18.0-513.el8.x86_64\n"
		"grub_users $grub_users\n";
	static const char bls9[] = "options root=UUID=77-88 ro resume=PARTLABEL=swap\n";
	struct mig_refs refs = { 0 };
	char *ko = NULL;

	CHECK_INT(mig_grubenv_get(T(env), "kernelopts", &ko), 0);
	CHECK_STR(ko, "root=UUID=77-88 ro crashkernel=auto resume=UUID=99-00 rhgb quiet");
	CHECK_INT(mig_grubenv_get(T(env), "nothere", &ko) == -ENOENT, 1);
	CHECK_INT(mig_refs_from_bls(&refs, T(bls), "boot/loader/entries/x.conf", ko), 0);
	CHECK_INT(refs.n, 2);
	CHECK_STR(fmt(&refs, 0), "UUID 77-88 | options/kernelopts root= | 5");
	CHECK_STR(fmt(&refs, 1), "UUID 99-00 | options/kernelopts resume= | 5");
	CHECK_INT(mig_refs_from_bls(&refs, T(bls), "x.conf", NULL), 0);
	CHECK_INT(refs.n, 2);      /* $kernelopts unset: nothing */
	CHECK_INT(mig_refs_from_bls(&refs, T(bls9), "y.conf", ko), 0);
	CHECK_INT(refs.n, 4);
	CHECK_STR(fmt(&refs, 3), "PARTLABEL swap | options resume= | 1");
	free(ko);
	mig_refs_clear(&refs);
}

TEST(mdadm_and_resume)
{
	static const char md[] =
		"# mdadm.conf\n"
		"DEVICE partitions\n"
		"HOMEHOST <system>\n"
		"ARRAY /dev/md/0  metadata=1.2 UUID=5a1d0e3e:4c394b2d:9a530e6f:1b2c3d4e name=host:0\n"
		"ARRAY /dev/md1 level=raid1 num-devices=2\n"
		"   uuid=01234567:89abcdef:01234567:89abcdef devices=/dev/sda2,/dev/sdb2\n"
		"MAILADDR root\n";
	static const char res[] = "# resume\nRESUME=UUID=12ab-34cd\n";
	static const char none[] = "RESUME=none\n";
	struct mig_refs refs = { 0 };

	CHECK_INT(mig_refs_from_mdadm_conf(&refs, T(md), "etc/mdadm/mdadm.conf"), 0);
	CHECK_INT(refs.n, 4);
	CHECK_STR(fmt(&refs, 0), "MD-UUID 5a1d0e3e:4c394b2d:9a530e6f:1b2c3d4e | ARRAY UUID= | 4");
	CHECK_STR(fmt(&refs, 1), "MD-UUID 01234567:89abcdef:01234567:89abcdef | ARRAY UUID= | 6");
	CHECK_STR(fmt(&refs, 2), "DEVNAME /dev/sda2 | ARRAY devices= | 6");
	mig_refs_clear(&refs);
	CHECK_INT(mig_refs_from_resume_conf(&refs, T(res), "etc/initramfs-tools/conf.d/resume"), 0);
	CHECK_INT(refs.n, 1);
	CHECK_STR(fmt(&refs, 0), "UUID 12ab-34cd | RESUME= | 2");
	CHECK_INT(mig_refs_from_resume_conf(&refs, T(none), "r"), 0);
	CHECK_INT(refs.n, 1);
	mig_refs_clear(&refs);
}

TEST(limits)
{
	struct mig_refs refs = { 0 };
	size_t big = MIG_REFS_LINE_MAX + 100;
	char *s = malloc(big + 64);

	/* an over-long line is skipped, the next one still read */
	memset(s, 'x', big);
	strcpy(s + big, "\nUUID=1 / ext4 defaults 0 1\n");
	CHECK_INT(mig_refs_from_fstab(&refs, s, strlen(s), "f"), 0);
	CHECK_INT(refs.n, 1);
	CHECK_INT(refs.v[0].line, 2);
	mig_refs_clear(&refs);
	CHECK_INT(mig_refs_from_fstab(&refs, s, MIG_REFS_TEXT_MAX + 1, "f"), -EFBIG);
	free(s);

	/* NUL bytes end lines rather than the text */
	static const char nul[] = "UUID=a / ext4 d 0 1\0UUID=b /x ext4 d 0 2\n";
	CHECK_INT(mig_refs_from_fstab(&refs, nul, sizeof(nul) - 1, "f"), 0);
	CHECK_INT(refs.n, 2);
	mig_refs_clear(&refs);
}

TEST(boot_files_grub_cfg)
{
	static const char cfg[] =
		"set root='hd0,msdos1'\n"
		"linux /ignored-after-set-root\n"
		"if [ x$feature_platform_search_hint = xy ]; then\n"
		"  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 1111-aaaa\n"
		"fi\n"
		"menuentry 'Debian' {\n"
		"\tlinux\t/boot/vmlinuz-6.1 root=UUID=x ro quiet\n"
		"\tinitrd\t/boot/intel-ucode.img ($root)/boot/initrd.img-6.1\n"
		"\tlinux $kernel\n"
		"\tsearch.fs_uuid 2222-bbbb root\n"
		"\tlinuxefi (hd1,gpt2)/vmlinuz\n"
		"\tinitrdefi '/initramfs-5.14.img'\n"
		"\tsearch --label boot\n"
		"\tlinux16 /unknown-root\n"
		"}\n";
	struct mig_boot_files f = { 0 };

	CHECK_INT(mig_boot_files_parse(&f, cfg, sizeof(cfg) - 1, false), 0);
	CHECK_INT(f.n, 4);
	if (f.n != 4)
		return;
	CHECK_STR(f.v[0].path, "/boot/vmlinuz-6.1");
	CHECK_STR(f.v[0].what, "linux");
	CHECK_STR(f.v[0].search_uuid, "1111-aaaa");
	CHECK_INT(f.v[0].line, 7);
	CHECK_STR(f.v[1].path, "/boot/intel-ucode.img");
	CHECK_STR(f.v[2].path, "/boot/initrd.img-6.1");
	CHECK_STR(f.v[2].what, "initrd");
	CHECK_STR(f.v[3].path, "/initramfs-5.14.img");
	CHECK_STR(f.v[3].search_uuid, "2222-bbbb");
	mig_boot_files_clear(&f);
}

TEST(boot_files_bls)
{
	static const char bls[] = "title Red Hat\nversion 5.14\nlinux /vmlinuz-5.14\n"
		"initrd /initramfs-5.14.img $tuned_initrd\noptions $kernelopts\n";
	struct mig_boot_files f = { 0 };

	CHECK_INT(mig_boot_files_parse(&f, bls, sizeof(bls) - 1, true), 0);
	CHECK_INT(f.n, 2);
	if (f.n == 2) {
		CHECK_STR(f.v[0].path, "/vmlinuz-5.14");
		CHECK(f.v[0].search_uuid == NULL);
		CHECK_STR(f.v[1].path, "/initramfs-5.14.img");
	}
	mig_boot_files_clear(&f);
}

int main(void)
{
	RUN(boot_files_grub_cfg);
	RUN(boot_files_bls);
	RUN(spec_kinds);
	RUN(fstab_debian);
	RUN(crypttab);
	RUN(grub_cfg_debian);
	RUN(grub_cfg_embedded);
	RUN(default_grub);
	RUN(rhel_bls_grubenv);
	RUN(mdadm_and_resume);
	RUN(limits);
	return tap_done();
}
