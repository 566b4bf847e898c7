/*
 * Stand-in PID 1 for the media smoke tests: proves that a medium brought a
 * kernel and an initramfs up, then powers off. Not the real init (init/).
 *
 * Prints, on /dev/console (the last console= on the command line):
 *   MIGRATOR-INFO firmware=bios|uefi secureboot=enabled|disabled|unknown lockdown=... cmdline=...
 *   MIGRATOR-READY test
 * and powers off, so `qemu -no-reboot` exits as soon as the marker is out.
 *
 * Debian's kernel has efivarfs as a module: when /efivarfs.ko is in the
 * initramfs it is loaded first (under Secure Boot that also shows that signed
 * modules load under lockdown).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SECUREBOOT_VAR "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

static int console = 2;

static void say(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(console, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Reads up to size-1 bytes of a small file; returns the length or -errno. */
static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static void load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* ENOSYS: a kernel without module support (the custom one) has it built in. */
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST && errno != ENOSYS) {
		char msg[160];
		snprintf(msg, sizeof msg, "smoke-init: cannot load %s: %s\n", path, strerror(errno));
		say(msg);
	}
	close(fd);
}

/* "enabled"/"disabled" from the SecureBoot variable (4 attribute bytes, then the value). */
static const char *secureboot_state(void)
{
	unsigned char v[8];
	int fd, n;

	load_module("/efivarfs.ko");
	mount("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", 0, NULL);
	fd = open(SECUREBOOT_VAR, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "unknown";
	n = (int)read(fd, v, sizeof v);
	close(fd);
	if (n < 5)
		return "unknown";
	return v[4] ? "enabled" : "disabled";
}

int main(void)
{
	static char cmdline[4096], lockdown[128], line[4500];
	const char *firmware = "bios", *sb = "n/a";
	char *p;
	int fd;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		console = fd;

	if (slurp("/proc/cmdline", cmdline, sizeof cmdline) < 0)
		strcpy(cmdline, "?");
	chomp(cmdline);

	if (access("/sys/firmware/efi", F_OK) == 0) {
		firmware = "uefi";
		sb = secureboot_state();
	}

	mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
	if (slurp("/sys/kernel/security/lockdown", lockdown, sizeof lockdown) < 0)
		strcpy(lockdown, "unknown");
	chomp(lockdown);
	/* "none [integrity] confidentiality" -> "integrity" */
	p = strchr(lockdown, '[');
	if (p) {
		memmove(lockdown, p + 1, strlen(p + 1) + 1);
		p = strchr(lockdown, ']');
		if (p)
			*p = '\0';
	}

	snprintf(line, sizeof line,
		 "\nMIGRATOR-INFO firmware=%s secureboot=%s lockdown=%s cmdline=%s\n",
		 firmware, sb, lockdown, cmdline);
	say(line);
	say("MIGRATOR-READY test\n");

	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
