/* metadata.c — cloud user-data over HTTP with libcurl's easy API. */
#include "metadata.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "console.h"
#include "loop.h"
#include "util.h"

#define BASE "http://" METADATA_HOST

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

struct source {
	const char *url;
	const char *header;     /* NULL or "Name: value" */
	bool aws_token;         /* fetch an IMDSv2 token first */
	bool base64;
};

static const struct source sources[] = {
	{ BASE "/latest/user-data", NULL, true, false },
	{ BASE "/openstack/latest/user_data", NULL, false, false },
	{ BASE "/computeMetadata/v1/instance/attributes/user-data", "Metadata-Flavor: Google",
	  false, false },
	{ BASE "/metadata/instance/compute/userData?api-version=2021-01-01&format=text",
	  "Metadata: true", false, true },
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct body *b = data;
	size_t n = size * nmemb;
	char *nb;

	if (b->len + n > CONF_FILE_MAX) {
		b->too_big = true;
		return 0;       /* curl aborts with CURLE_WRITE_ERROR */
	}
	nb = realloc(b->buf, b->len + n + 1);
	if (!nb)
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, ptr, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

/* One request. Returns the HTTP status (> 0), or -EHOSTUNREACH when nothing
 * answered, -EFBIG, -ENOMEM. */
static int request(const char *url, const char *method, struct curl_slist *headers,
		   struct body *b)
{
	CURL *c = curl_easy_init();
	CURLcode cc;
	long code = 0;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)METADATA_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)CONF_FILE_MAX);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "migrator-init");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (headers)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK || cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (b->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return -EFBIG;
	if (cc == CURLE_WRITE_ERROR)
		return -ENOMEM;
	if (cc != CURLE_OK) {
		log_debug("metadata: %s: %s", url, curl_easy_strerror(cc));
		return -EHOSTUNREACH;
	}
	return (int)code;
}

static void body_free(struct body *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = 0;
	b->too_big = false;
}

/* IMDSv2 session token, or NULL (IMDSv1 then). */
static char *aws_token(void)
{
	struct curl_slist *h = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 300");
	struct body b = { 0 };
	char *hdr = NULL;
	int r;

	if (!h)
		return NULL;
	r = request(BASE "/latest/api/token", "PUT", h, &b);
	curl_slist_free_all(h);
	if (r == 200 && b.buf && b.len < 256 && !strpbrk(b.buf, "\r\n")) {
		size_t n = strlen("X-aws-ec2-metadata-token: ") + b.len + 1;
		hdr = malloc(n);
		if (hdr)
			snprintf(hdr, n, "X-aws-ec2-metadata-token: %s", b.buf);
	}
	body_free(&b);
	return hdr;
}

int metadata_base64_decode(char *s, size_t len)
{
	unsigned acc = 0, bits = 0;
	size_t w = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL;         /* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[w++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	s[w] = '\0';
	return (int)w;
}

int metadata_fetch(char **ret_buf, size_t *ret_len, const char **ret_source)
{
	static bool curl_ready;
	int result = -EHOSTUNREACH;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		curl_ready = true;
	}
	for (int attempt = 1; attempt <= METADATA_ATTEMPTS; attempt++) {
		bool answered = false;

		for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
			const struct source *s = &sources[i];
			struct curl_slist *h = NULL;
			struct body b = { 0 };
			char *token = NULL;
			int r;

			if (s->aws_token && (token = aws_token()))
				h = curl_slist_append(h, token);
			if (s->header)
				h = curl_slist_append(h, s->header);
			r = request(s->url, NULL, h, &b);
			curl_slist_free_all(h);
			free(token);
			if (r == -EFBIG || r == -ENOMEM) {
				body_free(&b);
				return r;
			}
			log_debug("metadata: %s: %d", s->url, r);
			if (r == -EHOSTUNREACH && !answered) {
				body_free(&b);
				break;  /* one host for all: no point asking it again now */
			}
			if (r > 0)
				answered = true;
			if (r == 200 && b.buf && b.len > 0) {
				if (s->base64) {
					int n = metadata_base64_decode(b.buf, b.len);
					if (n < 0) {
						log_warn("metadata: %s: not base64", s->url);
						body_free(&b);
						continue;
					}
					b.len = (size_t)n;
				}
				*ret_buf = b.buf;
				*ret_len = b.len;
				*ret_source = s->url;
				return 0;
			}
			body_free(&b);
		}
		if (answered) {
			result = -ENOENT;
			break;
		}
		if (attempt < METADATA_ATTEMPTS) {
			log_info("metadata: no answer from " METADATA_HOST " (attempt %d of %d)",
				 attempt, METADATA_ATTEMPTS);
			/* Keep reaping and logging children meanwhile. */
			loop_wait_until(NULL, NULL, now_ms() + 2000);
			if (loop_stopped())
				break;
		}
	}
	return result;
}
