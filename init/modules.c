/* modules.c — load drivers by modalias: coldplug walk and uevent hotplug. */
#include "modules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"
#include "loop.h"
#include "modalias.h"
#include "uevent.h"
#include "util.h"

#define SYSFS_DEPTH_MAX 32
#define PENDING_MAX 4096
#define ROUND_SETTLE_MS 250     /* quiet time before a rescan */

static struct alias_set seen;           /* device aliases looked at */
static struct alias_set requested;      /* modules asked for */
static struct modalias_db db;
static bool db_loaded;
static char *pending[PENDING_MAX];      /* module names waiting for modprobe */
static size_t n_pending;
static pid_t modprobe_pid;
static char modprobe_module[MODULE_NAME_MAX];
static int uevent_fd = -1;
static int available = -1;
static bool coldplug_done;              /* after it, every load is logged */
static char release[65];

bool modules_available(void)
{
	struct utsname u;
	char path[PATH_MAX];
	struct stat st;

	if (available < 0) {
		available = uname(&u) == 0 &&
			    snprintf(path, sizeof(path), "/lib/modules/%s", u.release) <
				    (int)sizeof(path) &&
			    stat(path, &st) == 0 && S_ISDIR(st.st_mode);
		if (available)
			snprintf(release, sizeof(release), "%s", u.release);
	}
	return available;
}

bool modules_idle(void)
{
	return modprobe_pid == 0 && n_pending == 0;
}

static void load_db(void)
{
	char path[PATH_MAX], *text = NULL;
	size_t len;
	int r;

	db_loaded = true;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.alias", release);
	r = read_file(path, MODALIAS_DB_MAX, &text, &len);
	if (r < 0) {
		log_warn("modules: cannot read %s: %s", path, strerror(-r));
		return;
	}
	r = modalias_db_parse(&db, text, len);
	if (r < 0)
		log_warn("modules: %s: %s", path, strerror(-r));
	log_debug("modules: %zu aliases in %s", db.n, path);
}

static bool module_loaded(const char *name)
{
	char path[PATH_MAX], kname[MODULE_NAME_MAX];
	struct stat st;

	if (modalias_module_name(name, kname, sizeof(kname)) < 0)
		return false;
	snprintf(path, sizeof(path), "/sys/module/%s", kname);
	return stat(path, &st) == 0;
}

static void want_module(const char *module, void *data)
{
	char kname[MODULE_NAME_MAX];

	if (modalias_module_name(module, kname, sizeof(kname)) < 0 ||
	    alias_set_add(&requested, kname) <= 0 || module_loaded(kname))
		return;
	if (n_pending == PENDING_MAX)
		return;
	pending[n_pending] = strdup(kname);
	if (pending[n_pending]) {
		log_debug("modules: %s for %s", kname, (const char *)data);
		n_pending++;
	}
}

static void enqueue(const char *alias)
{
	int r = alias_set_add(&seen, alias);

	if (r <= 0) {
		if (r == -E2BIG)
			log_debug("more than %d device aliases; ignoring %s", ALIAS_SET_MAX, alias);
		return;
	}
	if (!db_loaded)
		load_db();
	modalias_db_match(&db, alias, want_module, (void *)alias);
}

static void kick(void);

static void modprobe_exited(pid_t pid, int status, void *data)
{
	modprobe_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("modules: modprobe %s failed (status %d)", modprobe_module, status);
	else if (coldplug_done)
		log_info("modules: loaded %s", modprobe_module);
	kick();
}

/* Starts modprobe for the next queued module, one at a time. */
static void kick(void)
{
	char *argv[] = { MODPROBE_PATH, "-q", modprobe_module, NULL };
	struct spawn sp = { .argv = argv };
	int r;

	while (!modprobe_pid && n_pending > 0) {
		snprintf(modprobe_module, sizeof(modprobe_module), "%s", pending[0]);
		free(pending[0]);
		memmove(pending, pending + 1, (n_pending - 1) * sizeof(*pending));
		n_pending--;
		if (module_loaded(modprobe_module))
			continue;       /* pulled in as a dependency meanwhile */
		r = loop_spawn(&sp, modprobe_exited, NULL, &modprobe_pid);
		if (r < 0) {
			log_warn("modules: cannot run %s: %s", MODPROBE_PATH, strerror(-r));
			modprobe_pid = 0;
			return;
		}
	}
}

static void uevent_read(int fd, short revents, void *data)
{
	char buf[8192], alias[MODALIAS_MAX];

	for (int i = 0; i < 64; i++) {
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k <= 0)
			break;
		if (uevent_modalias(buf, (size_t)k, alias, sizeof(alias)) == 1)
			enqueue(alias);
	}
	kick();
}

int modules_listen(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int bufsz = 4 << 20;
	int fd, r;

	if (!modules_available() || uevent_fd >= 0)
		return 0;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* A burst of events (a SCSI HBA with many disks) must not overflow. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = loop_watch(fd, uevent_read, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	uevent_fd = fd;
	return 0;
}

/* Queues the modalias of every device below dir. */
static void walk(int dirfd, int depth)
{
	DIR *d;
	struct dirent *de;

	if (depth > SYSFS_DEPTH_MAX) {
		close(dirfd);
		return;
	}
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR) {
			/* d_type from sysfs is exact; symlinks (subsystem, driver) are
			 * DT_LNK and not followed, so every device is seen once. */
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				walk(sub, depth + 1);
		} else if (de->d_type == DT_REG && strcmp(de->d_name, "modalias") == 0) {
			char alias[MODALIAS_MAX];
			int fd = openat(dirfd, "modalias", O_RDONLY | O_CLOEXEC);
			ssize_t k;
			if (fd < 0)
				continue;
			k = read(fd, alias, sizeof(alias) - 1);
			close(fd);
			if (k <= 0)
				continue;
			alias[k] = '\0';
			alias[strcspn(alias, "\n")] = '\0';
			if (alias[0] && !strpbrk(alias, " \t"))
				enqueue(alias);
		}
	}
	closedir(d);
}

static size_t scan(void)
{
	size_t before = seen.n;
	int fd = open("/sys/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		walk(fd, 0);
	kick();
	return seen.n - before;
}

/* Names of loaded modules, one per line, as /proc/modules lists them. */
static char *loaded_modules(void)
{
	char *text = NULL, *out;
	size_t len, w = 0;

	if (read_file("/proc/modules", 1 << 20, &text, &len) < 0)
		return NULL;
	out = malloc(len + 2);
	if (!out) {
		free(text);
		return NULL;
	}
	out[w++] = '\n';
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strcspn(line, " ");
		memcpy(out + w, line, n);
		w += n;
		out[w++] = '\n';
	}
	out[w] = '\0';
	free(text);
	return out;
}

static void log_new_modules(const char *before)
{
	char *after = loaded_modules(), line[1024];
	size_t w = 0, count = 0;

	if (!after)
		return;
	/* /proc/modules lists the newest first; report in loading order. */
	for (char *p = after + strlen(after) - 1; p > after;) {
		char *start = p, name[128];
		size_t n;

		while (start > after && start[-1] != '\n')
			start--;
		n = (size_t)(p - start);
		p = start - 1;
		if (n == 0 || n >= sizeof(name) - 2)
			continue;
		name[0] = '\n';
		memcpy(name + 1, start, n);
		name[n + 1] = '\n';
		name[n + 2] = '\0';
		if (before && strstr(before, name))
			continue;
		count++;
		if (w + n + 2 >= sizeof(line)) {
			log_info("modules: %s", line);
			w = 0;
		}
		w += (size_t)snprintf(line + w, sizeof(line) - w, "%s%.*s", w ? " " : "",
				      (int)n, start);
	}
	if (w)
		log_info("modules: %s", line);
	if (!count)
		log_info("modules: no new modules loaded");
	free(after);
}

static bool idle(void *data)
{
	return modules_idle();
}

int modules_coldplug(unsigned budget_ms)
{
	uint64_t deadline = now_ms() + budget_ms;
	char *before;
	size_t round;

	if (!modules_available()) {
		log_info("modules: none for this kernel (drivers are built in)");
		return 0;
	}
	before = loaded_modules();
	for (round = 1; round <= 8; round++) {
		size_t found = scan();

		log_debug("modules: round %zu, %zu new device aliases", round, found);
		if (!found && round > 1)
			break;
		/* Wait for modprobe, then a quiet moment for new devices. */
		if (loop_wait_until(idle, NULL, deadline) < 0)
			break;
		loop_wait_until(NULL, NULL, now_ms() + ROUND_SETTLE_MS);
		if (loop_stopped() || now_ms() >= deadline)
			break;
	}
	if (!modules_idle())
		log_warn("modules: still loading after %u ms; carrying on", budget_ms);
	coldplug_done = true;
	log_new_modules(before);
	free(before);
	return 0;
}
