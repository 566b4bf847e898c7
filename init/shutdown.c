/* shutdown.c — stop, sync, unmount, reboot(2). */
#include "shutdown.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"
#include "mounts.h"
#include "util.h"

/* Reaps until no child is left or the time is up. Returns true when none is. */
static bool reap_all(unsigned ms)
{
	uint64_t deadline = now_ms() + ms;

	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			return true;
		if (pid > 0)
			continue;
		if (now_ms() >= deadline)
			return false;
		sleep_ms(50);
	}
}

int shutdown_system(int how)
{
	const char *what = how == RB_POWER_OFF ? "power off" :
			   how == RB_AUTOBOOT ? "reboot" : "halt";

	log_info("%s: stopping all processes", what);
	/* kill(-1) reaches every process but us (and kernel threads ignore it). */
	kill(-1, SIGTERM);
	kill(-1, SIGHUP);       /* interactive shells ignore SIGTERM */
	kill(-1, SIGCONT);
	if (!reap_all(SHUTDOWN_TERM_WAIT_MS)) {
		log_warn("%s: processes still running after %d s; killing them", what,
			 SHUTDOWN_TERM_WAIT_MS / 1000);
		kill(-1, SIGKILL);
		reap_all(2000);
	}
	sync();
	if (mounts_teardown() > 0)
		log_warn("%s: some filesystems could not be unmounted (synced anyway)", what);
	sync();
	log_info("%s: now", what);
	log_close();
	console_drain(2000);    /* the last lines must reach the serial port */
	if (reboot(how) == 0)
		return 0;       /* RB_HALT_SYSTEM may come back on some kernels */
	{
		int err = errno;
		log_warn("%s failed: %s", what, strerror(err));
		return -err;
	}
}
