/* confsrc.c — find and read migrator.conf: path, labelled drive, metadata. */
#include "confsrc.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "loop.h"
#include "metadata.h"
#include "mounts.h"
#include "util.h"

#define BLOCK_DEVS_MAX 256

static const char *const labels[] = { "MIGRATOR", "config-2", "cidata" };
#define N_LABELS (sizeof(labels) / sizeof(labels[0]))

struct candidate {
	char dev[64];
	char type[32];
	int rank;               /* index into labels */
};

void confsrc_warn(void *data, const char *msg)
{
	log_warn("%s", msg);
}

static int parse_text(struct init_config *ret, const char *text, size_t len, const char *origin)
{
	int r = config_from_conf(ret, text, len, origin, confsrc_warn, NULL);

	if (r == -EINVAL)
		log_warn("%s: not a configuration file (binary data or longer than %d bytes)",
			 origin, CONF_FILE_MAX);
	else if (r < 0)
		log_warn("%s: %s", origin, strerror(-r));
	else
		log_info("config: read %s", origin);
	return r < 0 ? r : 1;
}

static int read_conf_file(const char *path, const char *origin, struct init_config *ret)
{
	char *text = NULL;
	size_t len;
	int r;

	r = read_file(path, CONF_FILE_MAX, &text, &len);
	if (r < 0)
		return r;
	r = parse_text(ret, text, len, origin);
	free(text);
	return r;
}

static bool skip_device(const char *name)
{
	static const char *const prefixes[] = { "ram", "loop", "zram", "nbd" };
	char path[PATH_MAX], size[32];

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	/* An empty CD drive or card reader. */
	snprintf(path, sizeof(path), "/sys/class/block/%s/size", name);
	return read_line(path, size, sizeof(size)) <= 0 || strcmp(size, "0") == 0;
}

#define CANDIDATES_MAX 16

static int cmp_candidate(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	return a->rank != b->rank ? a->rank - b->rank : strcmp(a->dev, b->dev);
}

/* Every labelled filesystem, best first (MIGRATOR, config-2, cidata; then by
 * device name). Returns how many were stored in v (at most max). */
static size_t find_candidates(struct candidate *v, size_t max)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;
	unsigned seen = 0;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && seen < BLOCK_DEVS_MAX && n < max) {
		char dev[64];
		const char *label = NULL, *type = NULL;
		blkid_probe pr;

		if (de->d_name[0] == '.' || skip_device(de->d_name))
			continue;
		seen++;
		if (snprintf(dev, sizeof(dev), "/dev/%s", de->d_name) >= (int)sizeof(dev))
			continue;
		pr = blkid_new_probe_from_filename(dev);
		if (!pr)
			continue;
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
		if (blkid_do_safeprobe(pr) == 0 &&
		    blkid_probe_lookup_value(pr, "LABEL", &label, NULL) == 0 &&
		    blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0) {
			for (size_t i = 0; i < N_LABELS; i++) {
				if (strcasecmp(label, labels[i]) != 0)
					continue;
				log_debug("config: %s is %s labelled %s", dev, type, label);
				v[n].rank = (int)i;
				snprintf(v[n].dev, sizeof(v[n].dev), "%s", dev);
				snprintf(v[n].type, sizeof(v[n].type), "%s", type);
				n++;
				break;
			}
		}
		blkid_free_probe(pr);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_candidate);
	return n;
}

/* A USB mass-storage interface (class 08) is present: its disk may still be
 * on its way (usb-storage waits before scanning). */
static bool usb_storage_present(void)
{
	DIR *d = opendir("/sys/bus/usb/devices");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[PATH_MAX], cls[8];
		if (de->d_name[0] == '.' || !strchr(de->d_name, ':'))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/bInterfaceClass", de->d_name);
		found = read_line(path, cls, sizeof(cls)) > 0 && strcmp(cls, "08") == 0;
	}
	closedir(d);
	return found;
}

/* Reads migrator.conf from candidate c. Returns as read_conf_file(), with
 * -ENOENT when c has no migrator.conf. */
static int read_candidate(const struct candidate *c, struct init_config *ret)
{
	char origin[128];
	int r;

	if ((r = mkdir_p(CONFSRC_MOUNT, 0700)) < 0 ||
	    (r = mount_readonly(c->dev, CONFSRC_MOUNT, c->type)) < 0) {
		log_warn("config: cannot mount %s (%s): %s", c->dev, c->type, strerror(-r));
		return r;
	}
	snprintf(origin, sizeof(origin), "%.63s:/" CONF_FILE_NAME " (%s, %.31s)", c->dev,
		 labels[c->rank], c->type);
	r = read_conf_file(CONFSRC_MOUNT "/" CONF_FILE_NAME, origin, ret);
	if (r == -ENOENT)
		log_info("config: %s (%s) has no " CONF_FILE_NAME, c->dev, labels[c->rank]);
	else if (r < 0 && r != -EINVAL)
		log_warn("config: cannot read %s: %s", origin, strerror(-r));
	/* The drive that configured the job stays mounted (read-only) so that
	 * the job can name files on it: --token-file, --tls-cert, ... */
	if (r >= 0) {
		log_info("config: %s stays mounted read-only on " CONFSRC_MOUNT, c->dev);
		return r;
	}
	if (umount2(CONFSRC_MOUNT, 0) < 0)
		umount2(CONFSRC_MOUNT, MNT_DETACH);
	return r;
}

/* The first labelled filesystem, best first, that has a migrator.conf: the
 * rescue medium itself (labelled MIGRATOR) often has none, and must not hide
 * a config-2 or cidata drive attached beside it. */
static int from_drive(bool asked, struct init_config *ret)
{
	struct candidate c[CANDIDATES_MAX];
	uint64_t deadline = 0;
	size_t n;
	int r;

	for (;;) {
		n = find_candidates(c, CANDIDATES_MAX);
		if (n || loop_stopped())
			break;
		if (!deadline) {
			if (asked)
				deadline = now_ms() + CONFSRC_DRIVE_WAIT_MS;
			else if (usb_storage_present())
				deadline = now_ms() + CONFSRC_USB_WAIT_MS;
			else
				break;
			log_info("config: waiting for a drive labelled MIGRATOR, config-2 or cidata");
		}
		if (now_ms() >= deadline)
			break;
		loop_wait_until(NULL, NULL, now_ms() + 500);
	}
	if (!n) {
		if (asked)
			log_warn("config: no drive labelled MIGRATOR, config-2 or cidata");
		else
			log_debug("config: no configuration drive");
		return asked ? -ENOENT : 0;
	}
	for (size_t i = 0; i < n; i++) {
		r = read_candidate(&c[i], ret);
		if (r != -ENOENT)
			return r;
	}
	if (asked)
		log_warn("config: no drive labelled MIGRATOR, config-2 or cidata has a " CONF_FILE_NAME);
	return asked ? -ENOENT : 0;
}

int confsrc_local(const char *how, struct init_config *ret)
{
	int r;

	if (!how)
		return from_drive(false, ret);
	if (strcmp(how, "none") == 0 || strcmp(how, "metadata") == 0)
		return 0;
	if (strcmp(how, "drive") == 0)
		return from_drive(true, ret);
	if (how[0] != '/') {
		log_warn("config: migrator.config=%s: expected metadata, drive, none or an "
			 "absolute path", how);
		return -EINVAL;
	}
	r = read_conf_file(how, how, ret);
	if (r < 0 && r != -EINVAL)
		log_warn("config: cannot read %s: %s", how, strerror(-r));
	return r;
}

int confsrc_metadata(struct init_config *ret)
{
	const char *source = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	log_info("config: asking the metadata service at " METADATA_HOST " for user-data");
	r = metadata_fetch(&text, &len, &source);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		log_warn("config: the metadata service has no user-data");
		return r;
	case -EHOSTUNREACH:
		log_warn("config: no metadata service answered at " METADATA_HOST);
		return r;
	case -EFBIG:
		log_warn("config: user-data is longer than %d bytes", CONF_FILE_MAX);
		return r;
	default:
		log_warn("config: metadata: %s", strerror(-r));
		return r;
	}
	r = parse_text(ret, text, len, source);
	free(text);
	return r;
}
