/* client.c — see client.h. */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RESPONSE (64u << 10)

struct xfer {
	const struct mig_client_opts *o;
	struct mig_source *src;
	/* request body: a fixed buffer (plan) or the source (stream) */
	const uint8_t *buf;
	size_t len, pos;
	bool from_source;
	int src_err;
	char src_why[512];
	/* response */
	char resp[MAX_RESPONSE];
	size_t resp_len;
};

static void clog_(const struct mig_client_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void clog_(const struct mig_client_opts *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->log(o->ud, buf);
}

static size_t on_read(char *out, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t cap = size * nitems, done = 0;

	while (done < cap) {
		if (x->pos == x->len) {
			if (!x->from_source)
				break;
			int r = mig_source_next(x->src, &x->buf, &x->len, x->src_why, sizeof(x->src_why));
			x->pos = 0;
			if (r == 1) {
				x->len = 0;
				x->from_source = false;
				break;
			}
			if (r < 0) {
				x->src_err = r;
				x->len = 0;
				return CURL_READFUNC_ABORT;
			}
			if (x->o->progress)
				x->o->progress(x->o->ud, x->src);
		}
		size_t n = x->len - x->pos < cap - done ? x->len - x->pos : cap - done;
		memcpy(out + done, x->buf + x->pos, n);
		x->pos += n;
		done += n;
	}
	return done;
}

static size_t on_write(char *in, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb, room = sizeof(x->resp) - 1 - x->resp_len;

	memcpy(x->resp + x->resp_len, in, n < room ? n : room);
	x->resp_len += n < room ? n : room;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* One POST. Returns the CURLcode; *ret_http the status (0 without one). */
static CURLcode post(const struct mig_client_opts *o, const char *path, struct xfer *x, long *ret_http)
{
	char url[1024], auth[1100];
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	*ret_http = 0;
	if (!c)
		return CURLE_OUT_OF_MEMORY;
	snprintf(url, sizeof(url), "%s%s", o->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/x-migrator-stream");
	if (x->from_source)
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, x);
	if (!x->from_source)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(o->connect_timeout_s ? o->connect_timeout_s : 10));
	/* A stalled link (under 1 byte/s for the stall timeout) counts as broken. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(o->stall_timeout_s ? o->stall_timeout_s : 60));
	/* Trust the pin and nothing else: no CA store, no host name. */
	curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, o->pin);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (o->rate_limit)
		curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)o->rate_limit);
	x->resp_len = 0;
	x->resp[0] = '\0';
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_http);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* A final answer from the receiver, or 0 to go on (transient). */
static int judge(const struct mig_client_opts *o, CURLcode rc, long http, struct xfer *x, char *why, size_t whylen)
{
	if (x->src_err) {
		snprintf(why, whylen, "%s", x->src_why);
		return x->src_err;
	}
	if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		snprintf(why, whylen, "the receiver's key does not match --pin %s: wrong pin, or not the receiver you think", o->pin);
		return -EPERM;
	}
	if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
		snprintf(why, whylen, "bad receiver URL %s: %s", o->url, curl_easy_strerror(rc));
		return -EINVAL;
	}
	if (http == 401) {
		snprintf(why, whylen, "the receiver refused the token (wrong token, or the receiver's token file differs)");
		return -EACCES;
	}
	if (http == 409 || http == 400 || http == 404 || http == 405 || http == 413) {
		chomp(x->resp);
		snprintf(why, whylen, "the receiver refused: %s", x->resp[0] ? x->resp : "(no reason given)");
		return -EPROTO;
	}
	return 0;
}

static int parse_plan(struct mig_source *src, const char *text, uint64_t *next, bool *done, char *why, size_t whylen)
{
	size_t seen = 0;
	const char *p = text;

	while (*p) {
		size_t i;
		uint64_t off;
		int d;
		if (sscanf(p, "disk %zu next %" SCNu64 " done %d", &i, &off, &d) != 3 || i >= src->ndisks) {
			snprintf(why, whylen, "the receiver's plan is garbled");
			return -EPROTO;
		}
		next[i] = off;
		done[i] = d != 0;
		seen++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	if (seen != src->ndisks) {
		snprintf(why, whylen, "the receiver's plan covers %zu of %zu disks", seen, src->ndisks);
		return -EPROTO;
	}
	return 0;
}

int mig_client_send(const struct mig_client_opts *o, struct mig_source *src, char *why, size_t whylen)
{
	unsigned max_tries = o->max_tries ? o->max_tries : 20, failures = 0, delay = 500;
	uint64_t next[64] = { 0 }, best = 0;
	bool done[64] = { 0 };
	uint8_t *plan = NULL;
	size_t plan_len;
	struct xfer *x;
	int r;

	why[0] = '\0';
	if (src->ndisks > 64)
		return -EINVAL;
	r = mig_source_plan(src, &plan, &plan_len);
	if (r < 0)
		return r;
	x = calloc(1, sizeof(*x));
	if (!x) {
		free(plan);
		return -ENOMEM;
	}
	x->o = o;
	x->src = src;
	curl_global_init(CURL_GLOBAL_DEFAULT);

	for (;;) {
		long http;
		CURLcode rc;

		/* 1. The plan: where does each disk resume? */
		x->buf = plan;
		x->len = plan_len;
		x->pos = 0;
		x->from_source = false;
		rc = post(o, "/v1/plan", x, &http);
		if ((r = judge(o, rc, http, x, why, whylen)) < 0)
			break;
		if (rc == CURLE_OK && http == 200) {
			uint64_t total = 0;
			if ((r = parse_plan(src, x->resp, next, done, why, whylen)) < 0)
				break;
			for (size_t i = 0; i < src->ndisks; i++)
				total += done[i] ? src->disks[i].size : next[i];
			if (total > best) {
				best = total;
				failures = 0;   /* progress since the last failure */
				delay = 500;
			}
			if (total > 0 && src->fs)
				clog_(o, "the receiver has %" PRIu64 " partitions complete; resuming with the next "
				      "(its archive from the start)", total);
			else if (total > 0)
				clog_(o, "the receiver has %" PRIu64 " bytes committed; resuming there", total);
			if (mig_source_seek(src, next, done) < 0) {
				snprintf(why, whylen, "the receiver wants to resume at a point this sender cannot continue from");
				r = -EPROTO;
				break;
			}
			/* 2. The stream from there. */
			x->buf = NULL;
			x->len = x->pos = 0;
			x->from_source = true;
			rc = post(o, "/v1/stream", x, &http);
			if ((r = judge(o, rc, http, x, why, whylen)) < 0)
				break;
			if (rc == CURLE_OK && http == 200) {
				r = 0;
				break;
			}
		}
		if (++failures >= max_tries) {
			snprintf(why, whylen, "giving up after %u failed attempts in a row: %s", failures,
				 rc != CURLE_OK ? curl_easy_strerror(rc) : x->resp);
			chomp(why);
			r = -ECONNREFUSED;
			break;
		}
		clog_(o, "%s; retrying in %u.%u s (attempt %u of %u)",
		      rc != CURLE_OK ? curl_easy_strerror(rc) : http == 503 ? "receiver busy" : "unexpected answer",
		      delay / 1000, delay % 1000 / 100, failures + 1, max_tries);
		sleep_ms(delay);
		delay = delay * 2 > 30000 ? 30000 : delay * 2;
	}
	curl_global_cleanup();
	free(x);
	free(plan);
	return r;
}
