/* receive.c — `migrator receive`: the target side, over HTTPS or from a
 * saved .mig stream file. */
#include "cli.h"
#include "copyutil.h"
#include "../lib/fileio.h"
#include "../lib/inventory.h"
#include "../lib/json.h"
#include "../lib/receiver.h"
#include "../lib/server.h"
#include "../lib/tls.h"
#include "../lib/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MAPS 64
#define MAX_STEPS 8

/* What --then may run on the received disks, in the order the user gives:
 * each is a subcommand called in-process as `migrator NAME DISK ...`. `patch`
 * joins this table (before verify in the documented order) when it lands. */
static const struct then_step {
	const char *name;
	int (*run)(int argc, char **argv);
} then_steps[] = {
	{ "patch", cmd_patch },
	{ "verify", cmd_verify },
};

static void usage(void)
{
	fputs("Usage: migrator receive --listen [ADDR:]PORT [OPTIONS]\n"
	      "       migrator receive --from FILE.mig [OPTIONS]\n\n"
	      "Writes the disks a `migrator send` streams to the disks of this machine.\n"
	      "Prints the TLS public-key pin and the token the sender needs. Before the\n"
	      "first byte is written, every target is checked: it must be at least as\n"
	      "large as its source, must not be the rescue medium or in use, and must be\n"
	      "empty unless --allow-overwrite. Chunks are checked before they are\n"
	      "written; a cut connection resumes where it stopped.\n"
	      "A file-level stream (send --mode=file) is planned onto each target instead:\n"
	      "partitions re-laid out for its size, refused before any write if the data\n"
	      "cannot fit; a cut link resends the partition it cut from its start.\n\n"
	      "Options:\n"
	      "  -l, --listen [ADDR:]PORT  serve HTTPS there (port 0: any free port)\n"
	      "  -f, --from FILE           read a stream saved by send --to file:///X.mig\n"
	      "  -T, --token-file FILE     the token senders must present (default: a\n"
	      "                            random one, printed)\n"
	      "      --tls-cert FILE       certificate (PEM) instead of a generated one\n"
	      "      --tls-key FILE        its private key (PEM)\n"
	      "  -m, --map SRC=DEST        write source disk SRC (its index, path or name)\n"
	      "                            to DEST (a disk or image file); repeatable.\n"
	      "                            Default: the i-th source disk to the i-th disk\n"
	      "                            of this machine that is not removable, read-only\n"
	      "                            or the rescue medium\n"
	      "      --allow-overwrite     a target may hold a partition table or data\n"
	      "      --skip-unknown        file-level: keep partitions of unknown content\n"
	      "                            empty instead of refusing\n"
	      "      --state-dir DIR       resume journals of block devices (/run/migrator)\n"
	      "      --info-file FILE      write {pin, token, port} as JSON there\n"
	      "      --then STEP[,STEP]    after every disk was received, run these\n"
	      "                            subcommands on the target disks, in order:\n"
	      "                            patch, verify (`migrator patch|verify DISK ...`,\n"
	      "                            e.g. --then patch,verify); the first\n"
	      "                            that fails makes receive fail\n"
	      "      --target-bus BUS      passed to the --then steps: the disk bus this\n"
	      "                            machine boots from (virtio, nvme, xen, hyperv,\n"
	      "                            scsi); patch adds its drivers to an initrd that\n"
	      "                            lacks them, verify checks for them\n"
	      "      --stall-timeout SECONDS  a connection that moves no data for this\n"
	      "                            long is dropped, so a sender can resume on a\n"
	      "                            new one (60; 5 to 3600)\n"
	      "  -q, --quiet               no progress\n"
	      "  -h, --help                this help\n\n"
	      "Exit status: 0 every disk was received and verified (and every --then step\n"
	      "succeeded); 1 failure; 2 usage.\n", stdout);
}

struct recv_ctx {
	struct progress pg;
	const char *map_src[MAX_MAPS], *map_dst[MAX_MAPS];
	size_t nmaps;
	char **candidates;
	size_t ncandidates;
	pthread_mutex_t lock;
};

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int resolve(void *ud, const struct mig_rx_disk *d, char **ret_path, char *why, size_t whylen)
{
	struct recv_ctx *c = ud;
	char idx[16];

	snprintf(idx, sizeof(idx), "%u", d->index);
	for (size_t i = 0; i < c->nmaps; i++)
		if (!strcmp(c->map_src[i], idx) || !strcmp(c->map_src[i], d->source_name) ||
		    !strcmp(c->map_src[i], base(d->source_name))) {
			*ret_path = strdup(c->map_dst[i]);
			return *ret_path ? 0 : -ENOMEM;
		}
	if (c->nmaps) {
		snprintf(why, whylen, "no --map names source disk %u (%s)", d->index, d->source_name);
		return -ENOENT;
	}
	if (!c->candidates) {
		int n = default_disks(&c->candidates);
		c->ncandidates = n > 0 ? (size_t)n : 0;
	}
	if (d->index >= c->ncandidates) {
		snprintf(why, whylen, "this machine has no disk for source disk %u (%s); name one with --map",
			 d->index, d->source_name);
		return -ENOENT;
	}
	*ret_path = strdup(c->candidates[d->index]);
	return *ret_path ? 0 : -ENOMEM;
}

/* Progress and the end of each disk. Runs on a server thread; the lock
 * keeps it apart from on_log() on another connection's thread. */
static void on_event(void *ud, enum mig_rx_event ev, const struct mig_rx_disk *d)
{
	struct recv_ctx *c = ud;
	char msg[1024];

	if (ev != MIG_RX_PROGRESS && ev != MIG_RX_DISK_DONE)
		return;
	pthread_mutex_lock(&c->lock);
	if (d->layout_json) {
		c->pg.file_mode = true;
		c->pg.files = d->files;
	}
	if (ev == MIG_RX_PROGRESS) {
		progress_update(&c->pg, (int)d->index, base(d->source_name), d->next_offset, d->size,
				d->written, false);
	} else {
		progress_update(&c->pg, (int)d->index, base(d->source_name), d->size, d->size, d->written, true);
		if (d->layout_json)
			snprintf(msg, sizeof(msg), "disk %u (%s) is complete on %s (file-level: %llu entries, "
				 "%llu files); every archive's digest matches the source's", d->index, d->source_name,
				 d->target_path, (unsigned long long)d->entries, (unsigned long long)d->files);
		else
			snprintf(msg, sizeof(msg), "disk %u (%s) is complete on %s; its digest matches the source's",
				 d->index, d->source_name, d->target_path);
		progress_log(&c->pg, msg);
	}
	pthread_mutex_unlock(&c->lock);
}

static void on_log(void *ud, const char *msg)
{
	struct recv_ctx *c = ud;

	pthread_mutex_lock(&c->lock);
	progress_log(&c->pg, msg);
	pthread_mutex_unlock(&c->lock);
}

static void report_targets(struct recv_ctx *c, struct mig_receiver *rx)
{
	const struct mig_rx_disk *d;
	size_t n = mig_receiver_disks(rx, &d);
	char msg[1024], at[32];

	for (size_t i = 0; i < n; i++) {
		if (!d[i].target_path)
			continue;
		mig_human_bytes(d[i].resumed_at, at, sizeof(at));
		snprintf(msg, sizeof(msg), "disk %zu (%s) -> %s%s%s", i, d[i].source_name, d[i].target_path,
			 d[i].resumed ? ", resumed at " : "", d[i].resumed ? at : "");
		progress_log(&c->pg, msg);
	}
}

static int receive_file(struct recv_ctx *c, struct mig_receiver *rx, const char *path)
{
	uint8_t *buf;
	int fd, r = 0;
	const size_t cap = 1 << 20;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0) {
		cli_errorx("cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return 1;
	}
	mig_receiver_begin(rx);
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_errorx("cannot read %s: %s", path, strerror(errno));
			r = -errno;
			break;
		}
		if (n == 0) {
			r = mig_receiver_end(rx, true);
			break;
		}
		r = mig_receiver_feed(rx, buf, (size_t)n);
		if (r < 0)
			break;
	}
	if (r < 0 && mig_receiver_error(rx)[0])
		cli_errorx("%s: %s", path, mig_receiver_error(rx));
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	report_targets(c, rx);
	return r < 0 ? 1 : 0;
}

/* Parses the --then list into v (at most MAX_STEPS). Returns how many, or
 * -EINVAL after a usage message. */
static int parse_then(const char *list, const struct then_step **v)
{
	char buf[256], *save = NULL;
	int n = 0;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return cli_usage_error("--then '%s': too long", list), -EINVAL;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		const struct then_step *st = NULL;

		for (size_t i = 0; i < sizeof(then_steps) / sizeof(then_steps[0]); i++)
			if (!strcmp(w, then_steps[i].name))
				st = &then_steps[i];
		if (!st)
			return cli_usage_error("--then: unknown step '%s' (patch, verify)", w), -EINVAL;
		if (n == MAX_STEPS)
			return cli_usage_error("--then: at most %d steps", MAX_STEPS), -EINVAL;
		v[n++] = st;
	}
	if (!n)
		return cli_usage_error("--then: no step given"), -EINVAL;
	return n;
}

/* Runs the --then steps on every received disk. Returns the exit status of
 * the first step that failed, else 0. */
static int run_then(struct mig_receiver *rx, const struct then_step **v, int nsteps, const char *bus)
{
	const struct mig_rx_disk *d;
	size_t n = mig_receiver_disks(rx, &d), k = 0;
	char **argv = calloc(n + 3, sizeof(*argv));
	char busopt[64];
	int rc = 0;

	if (!argv) {
		cli_error("--then", -ENOMEM);
		return 1;
	}
	/* The steps mount the targets' partitions: our exclusive opens go first. */
	mig_receiver_close_targets(rx);
	if (bus) {
		snprintf(busopt, sizeof(busopt), "--target-bus=%s", bus);
		argv[1 + k++] = busopt;
	}
	for (size_t i = 0; i < n; i++)
		if (d[i].target_path)
			argv[1 + k++] = (char *)d[i].target_path;
	for (int s = 0; s < nsteps && rc == 0; s++) {
		argv[0] = (char *)v[s]->name;
		printf("receive: then: migrator %s", v[s]->name);
		for (size_t i = 0; i < k; i++)
			printf(" %s", argv[1 + i]);
		putchar('\n');
		fflush(stdout);
		rc = v[s]->run((int)k + 1, argv);
		fflush(stdout);
		printf("receive: then: migrator %s: exit status %d\n", v[s]->name, rc);
		fflush(stdout);
	}
	free(argv);
	return rc;
}

static int write_info(const char *path, const char *pin, const char *token, unsigned port)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return -ENOMEM;
	struct json_writer *w = json_new(f, true);
	json_object_begin(w, NULL);
	json_string(w, "pin", pin);
	json_string(w, "token", token);
	json_uint(w, "port", port);
	json_object_end(w);
	r = json_finish(w);
	fclose(f);
	if (r == 0)
		r = mig_write_file_atomic(path, text, len, 0600);
	free(text);
	return r;
}

int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "from", required_argument, NULL, 'f' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "map", required_argument, NULL, 'm' },
		{ "allow-overwrite", no_argument, NULL, 'O' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "info-file", required_argument, NULL, 'I' },
		{ "then", required_argument, NULL, 'N' },
		{ "skip-unknown", no_argument, NULL, 'K' },
		{ "target-bus", required_argument, NULL, 'B' },
		{ "stall-timeout", required_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL, *from = NULL, *token_file = NULL, *cert = NULL, *key = NULL;
	const char *info = NULL, *bus = NULL;
	unsigned stall = 0;
	struct mig_receiver_opts ro = { 0 };
	struct mig_tls_identity id = { 0 };
	struct recv_ctx c = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mig_receiver *rx = NULL;
	struct mig_server *srv = NULL;
	char token[300], why[1024];
	const struct then_step *steps[MAX_STEPS];
	int nsteps = 0;
	bool quiet = false;
	int opt, r, rc = 1;

	ro.state_dir = getenv("MIGRATOR_STATE_DIR");
	while ((opt = getopt_long(argc, argv, "l:f:T:m:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen = optarg; break;
		case 'f': from = optarg; break;
		case 'T': token_file = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'm': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1])
				return cli_usage_error("--map '%s': expected SRC=DEST", optarg);
			if (c.nmaps == MAX_MAPS)
				return cli_usage_error("at most %d --map options", MAX_MAPS);
			*eq = '\0';
			c.map_src[c.nmaps] = optarg;
			c.map_dst[c.nmaps++] = eq + 1;
			break;
		}
		case 'O': ro.allow_overwrite = true; break;
		case 'K': ro.skip_unknown = true; break;
		case 'S': ro.state_dir = optarg; break;
		case 'I': info = optarg; break;
		case 'N':
			if ((nsteps = parse_then(optarg, steps)) < 0)
				return EXIT_USAGE;
			break;
		case 'B': {
			enum mig_bus b;
			if (mig_bus_from_name(optarg, &b) < 0)
				return cli_usage_error("--target-bus '%s': virtio, nvme, xen, hyperv or scsi", optarg);
			bus = mig_bus_name(b);
			break;
		}
		case 'W': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 5 || v > 3600)
				return cli_usage_error("--stall-timeout '%s': seconds from 5 to 3600", optarg);
			stall = (unsigned)v;
			break;
		}
		case 'q': quiet = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (bus && !nsteps)
		return cli_usage_error("--target-bus is for the --then steps");
	if (!listen == !from)
		return cli_usage_error("give exactly one of --listen and --from");
	if (!cert != !key)
		return cli_usage_error("--tls-cert and --tls-key go together");
	if (from && (token_file || cert))
		return cli_usage_error("--token-file and --tls-* are for --listen");

	ro.resolve = resolve;
	ro.event = on_event;
	ro.ud = &c;
	progress_init(&c.pg, "receive", quiet);
	if (!ro.state_dir)
		ro.state_dir = "/run/migrator";
	if (mkdir(ro.state_dir, 0700) < 0 && errno != EEXIST) {
		cli_errorx("cannot create the state directory %s: %s", ro.state_dir, strerror(errno));
		return 1;
	}
	r = mig_receiver_new(&ro, &rx);
	if (r < 0) {
		cli_error("receiver", r);
		return 1;
	}
	if (from) {
		rc = receive_file(&c, rx, from);
		if (rc == 0 && nsteps)
			rc = run_then(rx, steps, nsteps, bus);
		goto out;
	}

	if (token_file) {
		if (read_token_file(token_file, token, sizeof(token)) < 0)
			goto out;
	} else if (mig_random_hex(16, token) < 0) {
		cli_errorx("no random numbers for a token");
		goto out;
	}
	r = cert ? mig_tls_load(cert, key, &id) : mig_tls_generate("migrator receiver", &id);
	if (r < 0) {
		if (cert)
			cli_errorx("cannot use --tls-cert %s / --tls-key %s: %s", cert, key,
				   r == -EBADMSG ? "not a PEM certificate and its matching key" : strerror(-r));
		else
			cli_error("cannot generate a TLS key", r);
		goto out;
	}
	struct mig_server_opts so = {
		.listen = listen, .cert_pem = id.cert_pem, .key_pem = id.key_pem, .token = token,
		.rx = rx, .log = on_log, .ud = &c, .idle_timeout_s = stall,
	};
	signal(SIGPIPE, SIG_IGN);
	r = mig_server_start(&so, &srv, why, sizeof(why));
	if (r < 0) {
		cli_errorx("%s", why);
		goto out;
	}
	printf("listening on %s (port %u)\npin %s\n", listen, mig_server_port(srv), id.pin);
	if (token_file)
		printf("token from %s\n", token_file);
	else
		printf("token %s\n", token);
	printf("on the source: migrator send --to https://THIS-HOST:%u --pin %s --token-file FILE\n",
	       mig_server_port(srv), id.pin);
	fflush(stdout);
	if (info && (r = write_info(info, id.pin, token, mig_server_port(srv))) < 0) {
		cli_error(info, r);
		goto out;
	}
	r = mig_server_wait(srv);
	mig_server_stop(srv);
	srv = NULL;
	report_targets(&c, rx);
	if (r < 0) {
		cli_errorx("%s", mig_receiver_error(rx));
		goto out;
	}
	rc = nsteps ? run_then(rx, steps, nsteps, bus) : 0;
out:
	mig_server_stop(srv);
	mig_receiver_free(rx);
	mig_strv_free(c.candidates);
	mig_tls_identity_clear(&id);
	explicit_bzero(token, sizeof(token));
	return rc;
}
