/* Unit tests of the chroot runner (chroot.h) on a tiny static root: the
 * host's static busybox (Debian's busybox-static, deps/host-setup.sh test group) in a
 * temporary directory. Needs root (mount namespaces); skipped otherwise. */
#include "tap.h"
#include "chroot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static int copy(const char *from, const char *to)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	return system(cmd);
}

static bool host_mounts_have(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[4096];
	bool found = false;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, path))
			found = true;
	if (f)
		fclose(f);
	return found;
}

static int run(char *const argv[], unsigned timeout, int *status, char **out)
{
	size_t len;
	static char boot[300];
	struct mig_chroot_bind b = { boot, "/boot" };

	snprintf(boot, sizeof(boot), "%s.boot", root);
	return mig_chroot_run(root, &b, 1, NULL, 0, argv, timeout, status, out, &len);
}

TEST(runs_inside_with_mounts)
{
	char *const argv[] = { "/bin/busybox", "sh", "-c",
		"echo hi; test -e /proc/self/status && echo proc; test -d /sys/block && echo sys; "
		"test -e /dev/null && echo dev; cat /boot/marker; test -e /etc/hostname-of-host || echo jailed; exit 3",
		NULL };
	int status = 0;
	char *out = NULL;

	CHECK_INT(run(argv, 10, &status, &out), 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	CHECK_STR(out, "hi\nproc\nsys\ndev\nbootfs\njailed\n");
	free(out);
	/* the child's mounts died with its namespace */
	CHECK(!host_mounts_have(root));
}

TEST(exec_failure_is_127)
{
	char *const argv[] = { "/usr/sbin/update-grub", NULL };
	int status = 0;
	char *out = NULL;

	CHECK_INT(run(argv, 10, &status, &out), 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
	CHECK(out && strstr(out, "exec /usr/sbin/update-grub"));
	free(out);
	CHECK_INT(run((char *const[]){ "relative", NULL }, 1, &status, &out), -EINVAL);
}

TEST(timeout_kills_the_group)
{
	char *const argv[] = { "/bin/busybox", "sh", "-c", "echo start; busybox sleep 30 & busybox sleep 30", NULL };
	int status = 0;
	char *out = NULL;
	time_t t0 = time(NULL);

	CHECK_INT(run(argv, 1, &status, &out), -ETIMEDOUT);
	CHECK(time(NULL) - t0 <= 3);
	CHECK(WIFSIGNALED(status));
	CHECK_STR(out, "start\n");
	free(out);
	CHECK(!host_mounts_have(root));
}

TEST(output_is_bounded)
{
	char *const argv[] = { "/bin/busybox", "sh", "-c", "busybox yes | busybox head -c 200000", NULL };
	int status = 0;
	char *out = NULL;
	size_t len = 0;

	CHECK_INT(mig_chroot_run(root, NULL, 0, NULL, 0, argv, 10, &status, &out, &len), 0);
	CHECK_INT(len, MIG_CHROOT_OUTPUT_MAX);
	free(out);
}

TEST(private_dev_with_links)
{
	struct mig_chroot_dev devs[2] = {
		{ "vdz", 252, 0, { NULL } },
		{ "vdz2", 252, 2, { "disk/by-uuid/1234-abcd", "disk/by-label/my\\x20root", "disk/by-partuuid/ab-02" } },
	};
	char *const argv[] = { "/bin/busybox", "sh", "-c",
		"busybox test -b /dev/vdz2 && echo blk; busybox readlink /dev/disk/by-uuid/1234-abcd; "
		"busybox readlink '/dev/disk/by-label/my\\x20root'; busybox test -e /dev/disk/by-partuuid/ab-02 && echo pu; "
		"echo x >/dev/null && echo null; busybox test -e /dev/loop-control || echo private; "
		"busybox stat -c %t:%T /dev/vdz2", NULL };
	int status = 0;
	char *out = NULL;
	size_t len;

	CHECK_INT(mig_chroot_run(root, NULL, 0, devs, 2, argv, 10, &status, &out, &len), 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_STR(out, "blk\n../../vdz2\n../../vdz2\npu\nnull\nprivate\nfc:2\n");
	free(out);
	CHECK(!host_mounts_have(root));
	/* a link that would leave /dev, a node name with a slash */
	devs[1].links[1] = "disk/../../etc/passwd";
	CHECK_INT(mig_chroot_run(root, NULL, 0, devs, 2, argv, 10, &status, &out, &len), -EINVAL);
	devs[1].links[1] = NULL;
	snprintf(devs[0].name, sizeof(devs[0].name), "../vdz");
	CHECK_INT(mig_chroot_run(root, NULL, 0, devs, 2, argv, 10, &status, &out, &len), -EINVAL);
}

int main(void)
{
	const char *bb = "/bin/busybox";
	char p[1024];

	if (geteuid() != 0 || access(bb, X_OK) != 0) {
		printf("ok 1 # SKIP needs root and a static %s\n1..1\n", bb);
		return 0;
	}
	snprintf(root, sizeof(root), "%s/migrator-chroot.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		return 1;
	const char *dirs[] = { "bin", "dev", "proc", "sys", "run", "tmp", "boot", "etc" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		mkdir(p, 0755);
	}
	snprintf(p, sizeof(p), "%s/bin/busybox", root);
	copy(bb, p);
	snprintf(p, sizeof(p), "%s.boot", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s.boot/marker", root);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("bootfs\n", f);
		fclose(f);
	}
	RUN(runs_inside_with_mounts);
	RUN(exec_failure_is_127);
	RUN(timeout_kills_the_group);
	RUN(output_is_bounded);
	RUN(private_dev_with_links);
	snprintf(p, sizeof(p), "rm -rf '%s' '%s.boot'", root, root);
	system(p);
	return tap_done();
}
