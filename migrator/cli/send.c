/* send.c — `migrator send`: stream source disks to a receiver over TLS, to a
 * .mig stream file, to a raw image file, or to a local disk. */
#include "cli.h"
#include "copyutil.h"
#include "../lib/client.h"
#include "../lib/fileio.h"
#include "../lib/filesend.h"
#include "../lib/json.h"
#include "../lib/inventory.h"
#include "../lib/receiver.h"
#include "../lib/source.h"
#include "../lib/usedmap.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	fputs("Usage: migrator send --to TARGET [OPTIONS] [DISK ...]\n\n"
	      "Copies source disks block by block, or with --mode=file file by file onto\n"
	      "a target of another size (partitions re-laid out, filesystems recreated\n"
	      "with the same UUIDs and labels, every file attribute kept).\n"
	      "Source disks are opened read-only.\n"
	      "Without DISK: every disk of this machine that is neither removable nor\n"
	      "read-only nor the rescue medium.\n\n"
	      "TARGET:\n"
	      "  https://HOST:PORT         a `migrator receive --listen` (needs --pin, --token-file)\n"
	      "  file:///path/disk.mig     the stream itself, for `migrator receive --from`\n"
	      "  file:///path/disk.img     a raw image file (sparse)\n"
	      "  /dev/DISK                 a local disk (one source disk)\n\n"
	      "Options:\n"
	      "  -t, --to TARGET           where to copy to (required)\n"
	      "  -p, --pin sha256//...     the receiver's public-key pin, as it printed it\n"
	      "  -T, --token-file FILE     the token, as the receiver printed it\n"
	      "      --mode block|file     block-level copy (default), or file-level: layout\n"
	      "                            and a pax archive per filesystem (a cut link\n"
	      "                            resends the partition it cut, from its start)\n"
	      "      --dry-run             file mode, local target: print the target's plan\n"
	      "                            (JSON) and write nothing\n"
	      "      --skip-unknown        file mode: keep partitions of unknown content\n"
	      "                            empty instead of refusing the copy\n"
	      "  -u, --used-only           skip blocks ext2/3/4 or XFS marks free\n"
	      "  -r, --rate-limit BYTES/s  e.g. 50M; suffixes K, M, G (powers of 1024)\n"
	      "      --retries N           failed reconnects in a row before giving up (20)\n"
	      "      --stall-timeout SECONDS  a connection that moves no data for this\n"
	      "                            long counts as broken: reconnect (60; 5 to 3600)\n"
	      "      --chunk-size BYTES    chunk size, 64K to 16M (4M)\n"
	      "      --allow-overwrite     a local target may hold data (it is replaced)\n"
	      "  -q, --quiet               no progress\n"
	      "  -h, --help                this help\n\n"
	      "Progress: a bar on a terminal, JSON lines on stderr otherwise.\n"
	      "Exit status: 0 the copy is complete and verified; 1 failure; 2 usage.\n", stdout);
}

struct send_ctx {
	struct progress pg;
	struct mig_source *src;
	uint64_t moved;
	bool dry_run, skip_unknown;
};

static void show_progress(void *ud, const struct mig_source *src)
{
	struct send_ctx *c = ud;
	size_t i = src->cur < src->ndisks ? src->cur : src->ndisks - 1;
	const struct mig_src_disk *d = &src->disks[i];
	uint64_t moved = 0;

	for (size_t k = 0; k < src->ndisks; k++)
		moved += src->disks[k].wire_bytes;
	if (src->fs) {
		struct mig_fsend_stats st;
		mig_fsend_stats(src->fs, &st);
		c->pg.file_mode = true;
		c->pg.files = st.files;
	}
	progress_update(&c->pg, (int)i, d->path, d->pos, d->size, moved, false);
}

static void show_log(void *ud, const char *msg)
{
	progress_log(&((struct send_ctx *)ud)->pg, msg);
}

static void summary(struct send_ctx *c, uint64_t ns)
{
	char msg[512], a[32], b[32], z[32], w[32];

	for (size_t i = 0; i < c->src->ndisks; i++) {
		const struct mig_src_disk *d = &c->src->disks[i];
		progress_update(&c->pg, (int)i, d->path, d->size, d->size, d->wire_bytes, true);
		mig_human_bytes(d->size, a, sizeof(a));
		mig_human_bytes(d->data_bytes, b, sizeof(b));
		mig_human_bytes(d->zero_bytes + d->unused_bytes, z, sizeof(z));
		mig_human_bytes(d->wire_bytes, w, sizeof(w));
		if (c->src->fs) {
			struct mig_fsend_stats st;
			mig_fsend_stats(c->src->fs, &st);
			snprintf(msg, sizeof(msg), "%s: file-level copy in %.1f s: %llu entries, %llu files, "
				 "%s of file data, %s on the wire; %llu sockets skipped", d->path, (double)ns / 1e9,
				 (unsigned long long)st.entries, (unsigned long long)st.files, b, w,
				 (unsigned long long)st.sockets_skipped);
		} else {
			snprintf(msg, sizeof(msg), "%s: %s copied in %.1f s: %s data, %s zero or unused, %s on the wire",
				 d->path, a, (double)ns / 1e9, b, z, w);
		}
		progress_log(&c->pg, msg);
	}
}

/* file:///x.mig — the stream into a file, renamed into place when complete. */
static int send_to_mig(struct send_ctx *c, const char *path, bool overwrite, char *why, size_t whylen)
{
	char tmp[1024];
	const uint8_t *buf;
	size_t len;
	struct stat st;
	int fd, r;

	if (!overwrite && stat(path, &st) == 0) {
		snprintf(why, whylen, "%s exists; pass --allow-overwrite to replace it", path);
		return -EEXIST;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.partial", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(errno));
		return r;
	}
	while ((r = mig_source_next(c->src, &buf, &len, why, whylen)) == 0) {
		r = mig_write_all(fd, buf, len);
		if (r < 0) {
			snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(-r));
			break;
		}
		show_progress(c, c->src);
	}
	if (r == 1)
		r = fsync(fd) < 0 ? -errno : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		if (!why[0])
			snprintf(why, whylen, "cannot write %s: %s", path, strerror(-r));
		unlink(tmp);
	}
	return r;
}

static int resolve_local(void *ud, const struct mig_rx_disk *d, char **ret_path, char *why, size_t whylen)
{
	*ret_path = strdup(ud);
	return *ret_path ? 0 : -ENOMEM;
}

/* A raw image file or a local disk: the receiver in this process. */
static int send_local(struct send_ctx *c, const char *path, bool overwrite, char *why, size_t whylen)
{
	dev_t forbidden[64];
	struct mig_receiver_opts ro = {
		.resolve = resolve_local, .ud = (void *)path, .allow_overwrite = overwrite,
		.forbidden = forbidden, .state_dir = getenv("MIGRATOR_STATE_DIR"),
		.skip_unknown = c->skip_unknown,
	};
	struct mig_receiver *rx;
	const uint8_t *buf;
	size_t len;
	int r;

	if (c->src->ndisks != 1) {
		snprintf(why, whylen, "a local target takes exactly one source disk (%zu given)", c->src->ndisks);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->src->ndisks; i++)
		if (!c->src->disks[i].is_file)
			forbidden[ro.nforbidden++] = c->src->disks[i].rdev;
	r = mig_receiver_new(&ro, &rx);
	if (r < 0)
		return r;
	if (c->dry_run) {
		/* The receiver's own plan step: every check, nothing written. */
		uint8_t *plan;
		size_t plen;
		char *text = NULL;
		r = mig_source_plan(c->src, &plan, &plen);
		if (r == 0) {
			r = mig_receiver_plan(rx, plan, plen, &text);
			free(plan);
			free(text);
		}
		if (r < 0) {
			snprintf(why, whylen, "%s", mig_receiver_error(rx)[0] ? mig_receiver_error(rx) : strerror(-r));
		} else {
			struct json_writer *w = json_new(stdout, true);
			json_object_begin(w, NULL);
			mig_receiver_plans_json(rx, w, "plans");
			json_object_end(w);
			r = json_finish(w);
		}
		mig_receiver_free(rx);
		return r;
	}
	mig_receiver_begin(rx);
	while ((r = mig_source_next(c->src, &buf, &len, why, whylen)) == 0) {
		r = mig_receiver_feed(rx, buf, len);
		if (r < 0) {
			snprintf(why, whylen, "%s", mig_receiver_error(rx));
			break;
		}
		show_progress(c, c->src);
	}
	if (r == 1) {
		r = mig_receiver_end(rx, true);
		if (r < 0)
			snprintf(why, whylen, "%s", mig_receiver_error(rx));
	}
	mig_receiver_free(rx);
	return r;
}

int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "pin", required_argument, NULL, 'p' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "mode", required_argument, NULL, 'm' },
		{ "used-only", no_argument, NULL, 'u' },
		{ "rate-limit", required_argument, NULL, 'r' },
		{ "retries", required_argument, NULL, 'R' },
		{ "stall-timeout", required_argument, NULL, 'W' },
		{ "chunk-size", required_argument, NULL, 'C' },
		{ "allow-overwrite", no_argument, NULL, 'O' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "skip-unknown", no_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL, *pin = NULL, *token_file = NULL;
	struct mig_source_opts so = { .tool_version = MIGRATOR_VERSION };
	struct mig_client_opts co = { 0 };
	bool overwrite = false, quiet = false;
	char token[300], why[2048] = "";
	char **disks = NULL, **owned = NULL;
	struct send_ctx c = { 0 };
	uint64_t v, t0;
	size_t ndisks;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "t:p:T:ur:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'p': pin = optarg; break;
		case 'T': token_file = optarg; break;
		case 'm':
			if (!strcmp(optarg, "file"))
				so.file_mode = true;
			else if (strcmp(optarg, "block"))
				return cli_usage_error("--mode %s: 'block' or 'file'", optarg);
			break;
		case 'D': c.dry_run = true; break;
		case 'K': c.skip_unknown = true; break;
		case 'u': so.used_only = true; break;
		case 'r':
			if (parse_bytes(optarg, &co.rate_limit) < 0 || co.rate_limit == 0)
				return cli_usage_error("--rate-limit '%s' is not a byte rate (e.g. 50M)", optarg);
			break;
		case 'R':
			if (parse_bytes(optarg, &v) < 0 || v < 1 || v > 1000)
				return cli_usage_error("--retries '%s': a number from 1 to 1000", optarg);
			co.max_tries = (unsigned)v;
			break;
		case 'W': {
			char *end;
			unsigned long s = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || s < 5 || s > 3600)
				return cli_usage_error("--stall-timeout '%s': seconds from 5 to 3600", optarg);
			co.stall_timeout_s = (unsigned)s;
			break;
		}
		case 'C':
			if (parse_bytes(optarg, &v) < 0 || v < 65536 || v > (16u << 20) || v % 65536)
				return cli_usage_error("--chunk-size '%s': a multiple of 64K up to 16M", optarg);
			so.chunk_size = (uint32_t)v;
			break;
		case 'O': overwrite = true; break;
		case 'q': quiet = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("unknown option");
		}
	}
	if (!to)
		return cli_usage_error("--to is required");
	if ((c.dry_run || c.skip_unknown) && !so.file_mode)
		return cli_usage_error("--dry-run and --skip-unknown go with --mode=file");
	if (so.file_mode && so.used_only)
		return cli_usage_error("--used-only is for --mode=block (a file-level copy sends only files)");
	if (c.dry_run && (!strncmp(to, "https://", 8) || strstr(to, ".mig")))
		return cli_usage_error("--dry-run needs a local target (a disk or an image file); "
				       "a receiver prints its plan itself");
	bool https = !strncmp(to, "https://", 8);
	if (https && (!pin || !token_file))
		return cli_usage_error("sending to %s needs --pin and --token-file", to);
	if (https && strncmp(pin, "sha256//", 8))
		return cli_usage_error("--pin must look like sha256//BASE64, as the receiver printed it");
	if (!https && strncmp(to, "file://", 7) && strncmp(to, "/dev/", 5))
		return cli_usage_error("--to %s: expected https://HOST:PORT, file:///PATH or /dev/DISK", to);
	if (https && read_token_file(token_file, token, sizeof(token)) < 0)
		return 1;

	if (optind < argc) {
		disks = argv + optind;
		ndisks = (size_t)(argc - optind);
	} else {
		r = default_disks(&owned);
		if (r <= 0) {
			cli_errorx(r < 0 ? "cannot list the disks of this machine" : "no disks to send (name them)");
			mig_strv_free(owned);
			return 1;
		}
		disks = owned;
		ndisks = (size_t)r;
	}

	r = mig_source_open(disks, ndisks, &so, &c.src, why, sizeof(why));
	if (r < 0) {
		cli_errorx("%s", why[0] ? why : strerror(-r));
		mig_strv_free(owned);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	progress_init(&c.pg, "send", quiet);
	for (size_t i = 0; so.used_only && i < c.src->ndisks; i++) {
		size_t na;
		const struct mig_usedmap_area *a = mig_usedmap_areas(c.src->disks[i].used, &na);
		char msg[512], fb[32];
		for (size_t k = 0; k < na; k++) {
			if (a[k].status == MIG_USEDMAP_OTHER)
				continue;
			mig_human_bytes(a[k].free_bytes, fb, sizeof(fb));
			if (a[k].status == MIG_USEDMAP_MAPPED)
				snprintf(msg, sizeof(msg), "%s partition %zu (%s): %s free, not sent%s%s", c.src->disks[i].path,
					 a[k].partno, a[k].fstype, fb, a[k].reason[0] ? "; " : "", a[k].reason);
			else
				snprintf(msg, sizeof(msg), "%s partition %zu (%s): sent whole: %s", c.src->disks[i].path,
					 a[k].partno, a[k].fstype, a[k].reason);
			progress_log(&c.pg, msg);
		}
	}
	t0 = mono_ns();
	if (https) {
		co.url = to;
		co.pin = pin;
		co.token = token;
		co.log = show_log;
		co.progress = show_progress;
		co.ud = &c;
		r = mig_client_send(&co, c.src, why, sizeof(why));
	} else {
		const char *path = !strncmp(to, "file://", 7) ? to + 7 : to;
		size_t n = strlen(path);
		if (path[0] != '/') {
			r = -EINVAL;
			snprintf(why, sizeof(why), "--to %s: file:// needs an absolute path (file:///path)", to);
		} else if (n > 4 && !strcmp(path + n - 4, ".mig")) {
			r = send_to_mig(&c, path, overwrite, why, sizeof(why));
		} else {
			r = send_local(&c, path, overwrite, why, sizeof(why));
		}
	}
	if (r < 0)
		cli_errorx("%s", why[0] ? why : strerror(-r));
	else if (!c.dry_run)
		summary(&c, mono_ns() - t0);
	mig_source_free(c.src);
	mig_strv_free(owned);
	explicit_bzero(token, sizeof(token));
	return r < 0 ? 1 : 0;
}
