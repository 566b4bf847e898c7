/* main.c — init_main(): the boot sequence and the loop that follows. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "confsrc.h"
#include "console.h"
#include "firmware.h"
#include "job.h"
#include "loop.h"
#include "modules.h"
#include "mounts.h"
#include "net.h"
#include "shell.h"
#include "shutdown.h"
#include "util.h"

#ifndef MIGRATOR_VERSION
#define MIGRATOR_VERSION "unknown"
#endif

#define LOG_FILE "/run/migrator.log"
#define MODULES_BUDGET_MS 30000
#define RC_CONFIG_FAILED 2      /* MIGRATOR-DONE when the job could not be set up */

static int pending_reboot;      /* RB_* asked for by a signal, 0 = none */
static struct init_config cfg;  /* the merged configuration */

static char *const base_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"SHELL=/bin/sh",
	"USER=root",
	"LOGNAME=root",
	"TZ=UTC",
	NULL,
};

static void on_signal(int sig, void *data)
{
	switch (sig) {
	case SIGTERM:           /* busybox reboot */
	case SIGINT:            /* Ctrl-Alt-Del */
		pending_reboot = RB_AUTOBOOT;
		break;
	case SIGUSR2:           /* busybox poweroff */
	case SIGPWR:
		pending_reboot = RB_POWER_OFF;
		break;
	case SIGUSR1:           /* busybox halt */
		pending_reboot = RB_HALT_SYSTEM;
		break;
	default:
		log_debug("signal %d ignored", sig);
		return;
	}
	loop_stop();
}

/* fds 0-2 must be taken, or the first file we open becomes someone's stdout. */
static void std_fds(const char *path)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open(path, O_RDWR | O_NOCTTY);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

static char *read_cmdline(void)
{
	char *text = NULL;

	if (read_file("/proc/cmdline", CMDLINE_MAX, &text, NULL) < 0)
		return strdup("");
	text[strcspn(text, "\n")] = '\0';
	return text;
}

static void log_config(const struct init_config *c)
{
	char opts[1024] = "";
	size_t w = 0;

	for (size_t i = 0; i < c->n_opts && w < sizeof(opts); i++)
		w += (size_t)snprintf(opts + w, sizeof(opts) - w, " --%s%s%s", c->opts[i].key,
				      c->opts[i].value ? "=" : "",
				      !c->opts[i].value ? "" :
				      config_key_secret(c->opts[i].key) ? "***" : c->opts[i].value);
	log_info("config: mode=%s exit=%s%s%s%s%s", c->mode ? c->mode : "shell",
		 exit_action_name(c->exit), w ? " options:" : "", opts,
		 c->args ? " args: " : "", c->args ? c->args : "");
}

/* The job could not even start: say so once, in the same shape as a failure. */
static void setup_failed_summary(const char *what)
{
	log_marker("MIGRATOR-DONE rc=%d", RC_CONFIG_FAILED);
	log_marker("==================================================================");
	log_marker("migrator: %s, so no job was started.", what);
	log_marker("  See the warnings above and /run/migrator.log. This system will not");
	log_marker("  reboot or power off by itself. A shell follows; type 'poweroff' or");
	log_marker("  'reboot' when you are done.");
	log_marker("==================================================================");
}

static void job_done(int rc, void *data)
{
	if (rc != 0) {
		job_report_failure(rc);
		shells_start();
		return;
	}
	switch (cfg.exit) {
	case EXIT_POWEROFF:
		pending_reboot = RB_POWER_OFF;
		break;
	case EXIT_REBOOT:
		pending_reboot = RB_AUTOBOOT;
		break;
	case EXIT_SHELL:
		shells_start();
		break;
	}
}

/* Reads the configuration layers: file (or drive) under command line. Returns
 * false when a source asked for by name failed. */
static bool configure(const struct cmdline *cl, struct init_config *cmd)
{
	struct init_config file = { 0 };
	bool ok = true;
	int r;

	config_from_cmdline(cmd, cl, confsrc_warn, NULL);
	if (cmd->debug)
		log_set_debug(true);
	r = confsrc_local(cmd->config, &file);
	if (r < 0)
		ok = false;
	config_merge(&cfg, &file);
	config_merge(&cfg, cmd);
	config_free(&file);
	return ok;
}

static bool configure_metadata(const struct init_config *cmd)
{
	struct init_config md = { 0 }, merged = { 0 };
	int r;

	r = confsrc_metadata(&md);
	if (r < 0)
		return false;
	if (md.n_ip)
		log_warn("config: ip= from user-data comes too late (the network is up); ignored");
	for (size_t i = 0; i < md.n_ip; i++)
		free(md.ip[i]);
	md.n_ip = 0;
	/* user-data over what is there, the command line over everything. */
	config_merge(&merged, &cfg);
	config_merge(&merged, &md);
	config_merge(&merged, cmd);
	config_free(&cfg);
	cfg = merged;
	config_free(&md);
	if (cfg.debug)
		log_set_debug(true);
	return true;
}

static bool has_vt_console(void)
{
	for (size_t i = 0; i < console_count(); i++) {
		const char *n = console_name(i);
		if (strncmp(n, "tty", 3) == 0 && n[3] >= '0' && n[3] <= '9')
			return true;
	}
	return false;
}

static void firmware_report(void)
{
	struct firmware_info fi;
	char line[256];

	firmware_probe(&fi);
	firmware_describe(&fi, line, sizeof(line));
	log_info("firmware: %s", line);
}

static void __attribute__((noreturn)) main_loop(void)
{
	for (;;) {
		if (pending_reboot) {
			int how = pending_reboot;
			pending_reboot = 0;
			shutdown_system(how);
			/* reboot(2) failed: stay up. */
			loop_resume();
			shells_start();
		}
		if (loop_iterate(shells_timeout()) < 0)
			sleep_ms(100);
		shells_tick();
	}
}

/* The job's output is read by people and by machines (JSON lines on a
 * serial console): kernel messages in the middle of a line break both. So
 * the console gets errors and worse only (levels 0-3; every message stays in
 * dmesg), unless the command line chose a level itself (loglevel=, debug,
 * ignore_loglevel) or asked for migrator.debug. */
static void quiet_console(const struct cmdline *cl)
{
	static const char *const own[] = { "loglevel", "debug", "ignore_loglevel", "migrator.debug" };
	bool found;
	int r;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		found = false;
		(void)cmdline_get(cl, own[i], &found);
		if (found)
			return;
	}
	if ((r = write_string("/proc/sys/kernel/printk", "4")) < 0)
		log_debug("console log level: %s", strerror(-r));
}

int init_main(int argc, char **argv)
{
	struct init_config cmd = { 0 };
	struct cmdline cl = { 0 };
	struct utsname u;
	bool config_ok;
	char *text;
	int r;

	if (getpid() != 1) {
		fprintf(stderr, "init: must run as PID 1 (it is the rescue system's init)\n");
		return 1;
	}
	umask(022);
	setsid();
	r = mounts_early();
	std_fds("/dev/null");

	text = read_cmdline();
	if (!text || cmdline_parse(text, &cl) < 0)
		memset(&cl, 0, sizeof(cl));
	if (console_open_all(&cl) > 0) {
		/* Our output goes through the consoles now; stdio must never block. */
		int fd = open("/dev/null", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	if ((r = log_open_file(LOG_FILE)) < 0)
		log_warn("cannot open %s: %s", LOG_FILE, strerror(-r));
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	log_info("migrator %s starting, kernel %s", MIGRATOR_VERSION, u.release);
	{
		char shown[4096];
		cmdline_format_redacted(&cl, shown, sizeof(shown));
		log_info("kernel command line: %s", shown);
	}
	free(text);

	if ((r = loop_setup(on_signal, NULL)) < 0)
		log_warn("event loop: %s (children may not be reaped)", strerror(-r));
	loop_set_env(base_env);
	if (sethostname("migrator", 8) < 0)
		log_debug("sethostname: %s", strerror(errno));
	if (cmdline_get(&cl, "migrator.debug", NULL))
		log_set_debug(true);
	quiet_console(&cl);

	if (modules_available()) {
		if ((r = modules_listen()) < 0)
			log_warn("modules: no hotplug events (%s); coldplug only", strerror(-r));
	}
	modules_coldplug(MODULES_BUDGET_MS);
	mounts_efivarfs();      /* its module may only now be loaded */
	firmware_report();

	config_ok = configure(&cl, &cmd);
	net_setup(cfg.ip, cfg.n_ip);
	if (config_ok && cfg.config && strcmp(cfg.config, "metadata") == 0)
		config_ok = configure_metadata(&cmd);
	cmdline_free(&cl);
	config_free(&cmd);

	log_config(&cfg);
	log_marker("MIGRATOR-READY %s", MIGRATOR_VERSION);

	if (pending_reboot) {
		log_info("shutdown requested during start-up; no job");
		main_loop();
	}
	if (!config_ok) {
		setup_failed_summary("the configuration asked for by migrator.config could not be read");
		shells_start();
	} else if (cfg.mode && strcmp(cfg.mode, "shell") != 0) {
		if (job_start(&cfg, job_done, NULL) < 0) {
			setup_failed_summary("the job's command line could not be built");
			shells_start();
		} else if (has_vt_console() && shell_start_on("tty2") == 0) {
			log_info("a shell is on tty2 (Alt-F2) while the job runs");
		}
	} else {
		shells_start();
	}
	main_loop();
}
