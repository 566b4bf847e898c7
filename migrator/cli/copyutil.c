/* copyutil.c — see copyutil.h. */
#include "copyutil.h"
#include "cli.h"
#include "../lib/inventory.h"
#include "../lib/human.h"
#include "../lib/json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void progress_init(struct progress *p, const char *side, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->side = side;
	p->quiet = quiet;
	p->tty = isatty(STDERR_FILENO);
	p->start_ns = mono_ns();
	p->last_disk = -1;
}

void progress_update(struct progress *p, int disk, const char *name, uint64_t done, uint64_t total,
		     uint64_t moved, bool final)
{
	uint64_t now = mono_ns(), interval = p->tty ? 200000000ull : 1000000000ull;
	double secs = (double)(now - p->start_ns) / 1e9;
	double rate = secs > 0 ? (double)moved / secs : 0;
	double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;

	if (p->quiet || (!final && now - p->last_ns < interval && disk == p->last_disk))
		return;
	p->last_ns = now;
	p->last_disk = disk;
	if (p->tty) {
		char d[32], t[32], r[32];
		int pct = total ? (int)(done * 100 / total) : 100, fill = pct / 5;
		mig_human_bytes(done, d, sizeof(d));
		mig_human_bytes(total, t, sizeof(t));
		mig_human_bytes((uint64_t)rate, r, sizeof(r));
		if (p->file_mode)
			fprintf(stderr, "\r%s %-12.12s %s, %llu files  %s/s ", p->side, name, d,
				(unsigned long long)p->files, r);
		else
			fprintf(stderr, "\r%s %-12.12s [%.*s%*s] %3d%%  %s / %s  %s/s  ETA %d:%02d ", p->side,
				name, fill, "####################", 20 - fill, "", pct, d, t, r,
				(int)eta / 60, (int)eta % 60);
		p->drawn = true;
		if (final) {
			fputc('\n', stderr);
			p->drawn = false;
		}
		fflush(stderr);
		return;
	}
	struct json_writer *w = json_new(stderr, false);
	if (!w)
		return;
	json_object_begin(w, NULL);
	json_string(w, "event", final ? "disk-done" : "progress");
	json_string(w, "side", p->side);
	json_uint(w, "disk", (uint64_t)disk);
	json_string(w, "name", name);
	json_uint(w, "bytes", done);
	json_uint(w, "total", total);
	json_uint(w, "moved", moved);
	if (p->file_mode)
		json_uint(w, "files", p->files);
	json_uint(w, "rate", (uint64_t)rate);
	json_uint(w, "eta", (uint64_t)eta);
	json_object_end(w);
	json_finish(w);
	fputc('\n', stderr);
}

void progress_log(struct progress *p, const char *msg)
{
	if (p->tty || p->quiet) {
		if (p->drawn)
			fputc('\n', stderr);
		p->drawn = false;
		fprintf(stderr, "%s: %s\n", program_name, msg);
		return;
	}
	struct json_writer *w = json_new(stderr, false);
	if (!w)
		return;
	json_object_begin(w, NULL);
	json_string(w, "event", "log");
	json_string(w, "side", p->side);
	json_string(w, "message", msg);
	json_object_end(w);
	json_finish(w);
	fputc('\n', stderr);
}

int read_token_file(const char *path, char *token, size_t cap)
{
	FILE *f = fopen(path, "re");
	char buf[512];
	size_t n;

	if (!f) {
		int e = errno;
		cli_errorx("cannot read the token file %s: %s", path, strerror(e));
		return -e;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		fclose(f);
		cli_errorx("cannot read the token file %s: %s", path, strerror(e));
		return -e;
	}
	fclose(f);
	buf[n] = '\0';
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (n == 0) {
		cli_errorx("the token file %s is empty", path);
		return -ENODATA;
	}
	if (n < 8 || n > 256 || n >= cap) {
		cli_errorx("the token in %s must be 8 to 256 characters long", path);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)buf[i])) {
			cli_errorx("the token in %s must be one line of printable characters without spaces", path);
			return -EINVAL;
		}
	memcpy(token, buf, n + 1);
	return 0;
}

int parse_bytes(const char *s, uint64_t *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': v *= 1024; end++; break;
	case 'M': v *= 1024 * 1024; end++; break;
	case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	case 'T': v *= 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v > 1e18)
		return -EINVAL;
	*ret = (uint64_t)v;
	return 0;
}

int default_disks(char ***ret)
{
	char **all = NULL, **out;
	size_t n = 0;
	int k = mig_list_disks("/sys/block", &all);

	if (k < 0)
		return k;
	out = calloc((size_t)k + 1, sizeof(*out));
	if (!out) {
		mig_strv_free(all);
		return -ENOMEM;
	}
	for (int i = 0; i < k; i++) {
		struct mig_disk *d;
		if (mig_disk_probe(all[i], &d) < 0)
			continue;
		if (d->removable != 1 && d->read_only != 1 && !d->rescue_medium)
			out[n++] = strdup(all[i]);
		mig_disk_free(d);
	}
	mig_strv_free(all);
	*ret = out;
	return (int)n;
}
