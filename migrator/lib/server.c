/* server.c — see server.h. */
#include "server.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PLAN_BODY (16u << 20)
#define FATAL_LINGER_S 30

enum req_kind { R_PLAN, R_STREAM, R_STATUS, R_REFUSED };

struct req {
	enum req_kind kind;
	bool holds_busy, failed, ended, tells_fatal;
	uint8_t *body;
	size_t len;
};

struct mig_server {
	struct mig_server_opts o;
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy, done, fatal_told;
	time_t fatal_at;
};

static void slog(struct mig_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(struct mig_server *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!s->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->o.log(s->o.ud, buf);
}

static void peer(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)n);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	/* One request per connection: a connection cannot be used to send
	 * request after request (limits, and every request is a fresh TLS
	 * handshake after a refusal). */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return r;
}

/* The receiver's error as the answer; once it has been sent (completed()),
 * the sender knows and the receiver may stop. */
static enum MHD_Result reply_error(struct mig_server *s, struct req *q, struct MHD_Connection *c)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s\n", mig_receiver_error(s->o.rx));
	q->tells_fatal = true;
	return reply(c, MHD_HTTP_CONFLICT, msg);
}

static void note_fatal(struct mig_server *s)
{
	pthread_mutex_lock(&s->lock);
	if (!s->fatal_at)
		s->fatal_at = time(NULL);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static bool authorized(struct mig_server *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return false;
	return mig_token_equal(h + 7, s->o.token);
}

static enum MHD_Result first_call(struct mig_server *s, struct MHD_Connection *c, const char *url,
				  const char *method, void **con_cls)
{
	struct req *q = calloc(1, sizeof(*q));
	char who[64];

	if (!q)
		return MHD_NO;
	*con_cls = q;
	q->kind = R_REFUSED;
	peer(c, who, sizeof(who));
	if (!authorized(s, c)) {
		slog(s, "refused a request from %s: wrong or missing token", who);
		sleep(1);       /* one guess a second per connection */
		return reply(c, MHD_HTTP_UNAUTHORIZED, "wrong or missing token\n");
	}
	bool post = !strcmp(method, MHD_HTTP_METHOD_POST), get = !strcmp(method, MHD_HTTP_METHOD_GET);
	if (!strcmp(url, "/v1/status"))
		q->kind = get ? R_STATUS : R_REFUSED;
	else if (!strcmp(url, "/v1/plan"))
		q->kind = post ? R_PLAN : R_REFUSED;
	else if (!strcmp(url, "/v1/stream"))
		q->kind = post ? R_STREAM : R_REFUSED;
	else
		return reply(c, MHD_HTTP_NOT_FOUND, "no such endpoint\n");
	if (q->kind == R_REFUSED)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (q->kind == R_STATUS)
		return MHD_YES;

	pthread_mutex_lock(&s->lock);
	if (s->busy) {
		pthread_mutex_unlock(&s->lock);
		q->kind = R_REFUSED;
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy with another request; retry\n");
	}
	s->busy = q->holds_busy = true;
	pthread_mutex_unlock(&s->lock);
	if (q->kind == R_STREAM) {
		slog(s, "stream from %s", who);
		mig_receiver_begin(s->o.rx);
	}
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct mig_server *s = cls;
	struct req *q = *con_cls;
	int k;

	if (!q)
		return first_call(s, c, url, method, con_cls);
	if (q->kind == R_REFUSED) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (q->failed)
			return MHD_NO;
		if (q->kind == R_PLAN) {
			if (n > MAX_PLAN_BODY - q->len) {
				q->failed = true;
				return MHD_NO;
			}
			uint8_t *nb = realloc(q->body, q->len + n);
			if (!nb)
				return MHD_NO;
			q->body = nb;
			memcpy(q->body + q->len, upload, n);
			q->len += n;
		} else if (q->kind == R_STREAM) {
			k = mig_receiver_feed(s->o.rx, (const uint8_t *)upload, n);
			if (k < 0) {
				/* Refused: drop the connection; the sender's next plan
				 * request hears why. */
				q->failed = true;
				slog(s, "%s", mig_receiver_error(s->o.rx));
				if (k != -EALREADY)
					note_fatal(s);
				return MHD_NO;
			}
		}
		return MHD_YES;
	}

	/* The whole request is in. */
	switch (q->kind) {
	case R_STATUS: {
		char msg[1024];
		snprintf(msg, sizeof(msg), "finished %d\nerror %s\n", mig_receiver_finished(s->o.rx),
			 mig_receiver_error(s->o.rx));
		return reply(c, MHD_HTTP_OK, msg);
	}
	case R_PLAN: {
		char *text = NULL;
		k = mig_receiver_plan(s->o.rx, q->body ? q->body : (const uint8_t *)"", q->len, &text);
		if (k < 0) {
			if (k != -EALREADY) {
				slog(s, "%s", mig_receiver_error(s->o.rx));
				note_fatal(s);
			}
			return reply_error(s, q, c);
		}
		enum MHD_Result r = reply(c, MHD_HTTP_OK, text);
		free(text);
		return r;
	}
	case R_STREAM:
		q->ended = true;
		k = mig_receiver_end(s->o.rx, true);
		if (k < 0) {
			slog(s, "%s", mig_receiver_error(s->o.rx));
			note_fatal(s);
			return reply_error(s, q, c);
		}
		return reply(c, MHD_HTTP_OK, "complete\n");
	default:
		return MHD_NO;
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct mig_server *s = cls;
	struct req *q = *con_cls;

	if (!q)
		return;
	if (q->kind == R_STREAM && !q->ended) {
		int k = mig_receiver_end(s->o.rx, false);
		if (k == -EPIPE)
			slog(s, "connection lost; committed, waiting for the sender to resume");
		else if (k < 0 && k != -EALREADY)
			note_fatal(s);
	}
	pthread_mutex_lock(&s->lock);
	if (q->holds_busy)
		s->busy = false;
	if (q->kind == R_STREAM && mig_receiver_finished(s->o.rx) && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		s->done = true;
	if (q->tells_fatal && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		s->fatal_told = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	free(q->body);
	free(q);
	*con_cls = NULL;
}

int mig_parse_listen(const char *spec, struct sockaddr_storage *ret, unsigned *ret_len)
{
	char host[128] = "";
	const char *port_s = spec, *colon;
	char *end;
	long port;

	memset(ret, 0, sizeof(*ret));
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		port_s = rb + 2;
	} else if ((colon = strrchr(spec, ':'))) {
		if ((size_t)(colon - spec) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 0 || port > 65535)
		return -EINVAL;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
	if (!host[0] || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (!host[0])
			in4->sin_addr.s_addr = htonl(INADDR_ANY);
		*ret_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int mig_server_start(const struct mig_server_opts *o, struct mig_server **ret, char *why, size_t whylen)
{
	struct sockaddr_storage sa;
	unsigned salen;
	struct mig_server *s;
	unsigned flags = MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;

	if (mig_parse_listen(o->listen, &sa, &salen) < 0) {
		snprintf(why, whylen, "cannot parse the listen address '%s' ([ADDR:]PORT)", o->listen);
		return -EINVAL;
	}
	if (!o->token || !o->token[0] || !o->rx || !o->cert_pem || !o->key_pem) {
		snprintf(why, whylen, "a token, a receiver and a TLS identity are required");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
				MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
				MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
				MHD_OPTION_CONNECTION_LIMIT, 8u,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, 2u,
				MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s ? o->idle_timeout_s : 60u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 << 10),
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		snprintf(why, whylen, "cannot listen on %s (address in use, or not an address of this machine)", o->listen);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return -EADDRNOTAVAIL;
	}
	*ret = s;
	return 0;
}

uint16_t mig_server_port(const struct mig_server *s)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

int mig_server_wait(struct mig_server *s)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->done)
			break;
		if (s->fatal_at && (s->fatal_told || time(NULL) - s->fatal_at >= FATAL_LINGER_S)) {
			r = -EIO;
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void mig_server_stop(struct mig_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
