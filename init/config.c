/* config.c — kernel command line, migrator.conf and migrator.args parsing. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATOR_PREFIX "migrator."

static void warnf(config_warn_fn warn, void *data, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(config_warn_fn warn, void *data, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn(data, msg);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* ---- kernel command line ------------------------------------------------ */

void cmdline_free(struct cmdline *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].key);     /* value points into the same allocation */
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* Mirrors lib/cmdline.c:next_arg() of Linux 6.1, so that what we read from
 * /proc/cmdline means what the kernel understood. word is modified in place. */
static void kernel_split_word(char *word, size_t len, char **ret_key, char **ret_val)
{
	size_t equals = 0, i = len;
	bool quoted = false;
	char *args = word;

	if (args[0] == '"') {
		args++;
		i--;
		quoted = true;
	}
	for (size_t j = 0; j < i; j++)
		if (equals == 0 && args[j] == '=')
			equals = j;     /* like the kernel: an '=' at 0 does not count */
	args[i] = '\0';
	*ret_key = args;
	if (!equals) {
		*ret_val = NULL;
	} else {
		args[equals] = '\0';
		*ret_val = args + equals + 1;
		if (**ret_val == '"') {
			(*ret_val)++;
			if (args[i - 1] == '"')
				args[i - 1] = '\0';
		}
	}
	if (quoted && i > 0 && args[i - 1] == '"')
		args[i - 1] = '\0';
}

int cmdline_parse(const char *text, struct cmdline *ret)
{
	struct cmdline c = { 0 };
	size_t len = strnlen(text, CMDLINE_MAX + 1);
	const char *p = text, *end;

	if (len > CMDLINE_MAX)
		return -E2BIG;
	end = text + len;
	c.v = calloc(CMDLINE_ITEMS_MAX, sizeof(*c.v));
	if (!c.v)
		return -ENOMEM;
	for (;;) {
		const char *start;
		bool in_quote = false;
		char *word;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		start = p;
		if (*p == '"') {
			in_quote = true;
			p++;
		}
		for (; p < end; p++) {
			if (is_blank(*p) && !in_quote)
				break;
			if (*p == '"')
				in_quote = !in_quote;
		}
		if (c.n == CMDLINE_ITEMS_MAX) {
			cmdline_free(&c);
			return -E2BIG;
		}
		word = strndup(start, (size_t)(p - start));
		if (!word) {
			cmdline_free(&c);
			return -ENOMEM;
		}
		kernel_split_word(word, (size_t)(p - start), &c.v[c.n].key, &c.v[c.n].value);
		/* key always points at word or word+1; remember the allocation */
		if (c.v[c.n].key != word) {
			memmove(word, word + 1, (size_t)(p - start));
			if (c.v[c.n].value)
				c.v[c.n].value--;
			c.v[c.n].key = word;
		}
		c.n++;
	}
	*ret = c;
	return 0;
}

const char *cmdline_get(const struct cmdline *c, const char *key, bool *ret_found)
{
	const char *val = NULL;
	bool found = false;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].key, key) == 0) {
			found = true;
			val = c->v[i].value;
		}
	}
	if (ret_found)
		*ret_found = found;
	return val;
}

/* ---- one configuration layer --------------------------------------------- */

bool config_key_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONF_KEY_MAX)
		return false;
	if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(islower(ch) || isdigit(ch) || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool mode_valid(const char *s)
{
	return config_key_valid(s) && strchr(s, '_') == NULL;
}

void config_free(struct init_config *c)
{
	if (!c)
		return;
	free(c->mode);
	free(c->args);
	free(c->config);
	free(c->debug);
	for (size_t i = 0; i < c->n_ip; i++)
		free(c->ip[i]);
	for (size_t i = 0; i < c->n_opts; i++) {
		free(c->opts[i].key);
		free(c->opts[i].value);
	}
	memset(c, 0, sizeof(*c));
}

const char *exit_action_name(enum exit_action a)
{
	switch (a) {
	case EXIT_POWEROFF: return "poweroff";
	case EXIT_REBOOT: return "reboot";
	case EXIT_SHELL: break;
	}
	return "shell";
}

static int set_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* A NULL value means "flag without =value". */
static int set_opt(struct init_config *cfg, const char *key, const char *value,
		   config_warn_fn warn, void *data, const char *origin)
{
	char k[CONF_KEY_MAX + 1];
	char *v = NULL;
	size_t i;

	snprintf(k, sizeof(k), "%s", key);
	for (char *p = k; *p; p++)
		if (*p == '_')
			*p = '-';
	if (value) {
		v = strdup(value);
		if (!v)
			return -ENOMEM;
	}
	for (i = 0; i < cfg->n_opts; i++) {
		if (strcmp(cfg->opts[i].key, k) == 0) {
			free(cfg->opts[i].value);
			cfg->opts[i].value = v;
			return 0;
		}
	}
	if (cfg->n_opts == CONF_OPTS_MAX) {
		free(v);
		warnf(warn, data, "%s: more than %d options, ignoring --%s", origin,
		      CONF_OPTS_MAX, k);
		return 0;
	}
	cfg->opts[i].key = strdup(k);
	if (!cfg->opts[i].key) {
		free(v);
		return -ENOMEM;
	}
	cfg->opts[i].value = v;
	cfg->n_opts++;
	return 0;
}

static int add_ip(struct init_config *cfg, const char *val, bool *replaced,
		  config_warn_fn warn, void *data, const char *origin)
{
	/* The first ip= of a layer starts its list afresh. */
	if (!*replaced) {
		for (size_t i = 0; i < cfg->n_ip; i++)
			free(cfg->ip[i]);
		cfg->n_ip = 0;
		*replaced = true;
	}
	if (cfg->n_ip == CONF_IP_MAX) {
		warnf(warn, data, "%s: more than %d ip= entries, ignoring ip=%s", origin,
		      CONF_IP_MAX, val);
		return 0;
	}
	cfg->ip[cfg->n_ip] = strdup(val);
	if (!cfg->ip[cfg->n_ip])
		return -ENOMEM;
	cfg->n_ip++;
	return 0;
}

/* Applies one key (without "migrator.") to cfg. value NULL: given without '='. */
static int config_set(struct init_config *cfg, const char *key, const char *value,
		      bool from_cmdline, bool *ip_replaced,
		      config_warn_fn warn, void *data, const char *origin)
{
	if (!config_key_valid(key)) {
		warnf(warn, data, "%s: invalid key '%.80s' ignored", origin, key);
		return 0;
	}
	if (value && strlen(value) > CONF_VALUE_MAX) {
		warnf(warn, data, "%s: value of %s longer than %d bytes, ignored", origin, key,
		      CONF_VALUE_MAX);
		return 0;
	}
	if (strcmp(key, "mode") == 0) {
		if (!value || !mode_valid(value)) {
			warnf(warn, data, "%s: invalid mode '%.80s' ignored", origin,
			      value ? value : "");
			return 0;
		}
		return set_str(&cfg->mode, value);
	}
	if (strcmp(key, "args") == 0)
		return set_str(&cfg->args, value ? value : "");
	if (strcmp(key, "exit") == 0) {
		static const struct { const char *name; enum exit_action a; } acts[] = {
			{ "shell", EXIT_SHELL }, { "poweroff", EXIT_POWEROFF },
			{ "reboot", EXIT_REBOOT },
		};
		for (size_t i = 0; value && i < sizeof(acts) / sizeof(acts[0]); i++) {
			if (strcmp(value, acts[i].name) == 0) {
				cfg->exit = acts[i].a;
				cfg->exit_set = true;
				return 0;
			}
		}
		warnf(warn, data, "%s: invalid exit action '%.80s' (poweroff, reboot or shell) "
		      "ignored", origin, value ? value : "");
		return 0;
	}
	if (strcmp(key, "config") == 0) {
		if (!from_cmdline) {
			warnf(warn, data, "%s: 'config' is only read from the kernel command line",
			      origin);
			return 0;
		}
		if (!value || !*value) {
			warnf(warn, data, "%s: empty migrator.config ignored", origin);
			return 0;
		}
		return set_str(&cfg->config, value);
	}
	if (strcmp(key, "debug") == 0)
		return set_str(&cfg->debug, value ? value : "1");
	if (strcmp(key, "ip") == 0) {
		if (from_cmdline) {
			warnf(warn, data, "%s: use the kernel's ip=, not migrator.ip=", origin);
			return 0;
		}
		if (!value) {
			warnf(warn, data, "%s: ip needs a value", origin);
			return 0;
		}
		return add_ip(cfg, value, ip_replaced, warn, data, origin);
	}
	return set_opt(cfg, key, value, warn, data, origin);
}

int config_from_cmdline(struct init_config *cfg, const struct cmdline *c,
			config_warn_fn warn, void *data)
{
	const size_t plen = strlen(MIGRATOR_PREFIX);
	bool ip_replaced = false;

	for (size_t i = 0; i < c->n; i++) {
		const char *key = c->v[i].key;
		int r;

		if (strcmp(key, "ip") == 0 && c->v[i].value) {
			r = add_ip(cfg, c->v[i].value, &ip_replaced, warn, data,
				   "kernel command line");
		} else if (strncmp(key, MIGRATOR_PREFIX, plen) == 0) {
			r = config_set(cfg, key + plen, c->v[i].value, true, &ip_replaced,
				       warn, data, "kernel command line");
		} else {
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

int config_from_conf(struct init_config *cfg, const char *text, size_t len,
		     const char *origin, config_warn_fn warn, void *data)
{
	const char *p = text, *end = text + len;
	bool ip_replaced = false;
	unsigned lineno = 0;

	if (len > CONF_FILE_MAX || memchr(text, '\0', len))
		return -EINVAL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ls = p, *le = nl ? nl : end;
		const char *eq, *ks, *ke, *vs, *ve;
		char key[CONF_KEY_MAX + 1], where[256];
		char *val = NULL;
		int r;

		p = nl ? nl + 1 : end;
		lineno++;
		snprintf(where, sizeof(where), "%s line %u", origin, lineno);
		if ((size_t)(le - ls) > CONF_LINE_MAX) {
			warnf(warn, data, "%s: longer than %d bytes, ignored", where, CONF_LINE_MAX);
			continue;
		}
		trim(&ls, &le);
		if (ls == le || *ls == '#')
			continue;
		eq = memchr(ls, '=', (size_t)(le - ls));
		ks = ls;
		ke = eq ? eq : le;
		trim(&ks, &ke);
		if (ke - ks >= (ptrdiff_t)strlen(MIGRATOR_PREFIX) &&
		    strncmp(ks, MIGRATOR_PREFIX, strlen(MIGRATOR_PREFIX)) == 0)
			ks += strlen(MIGRATOR_PREFIX);
		if (ke - ks > CONF_KEY_MAX || ke == ks) {
			warnf(warn, data, "%s: not a 'key = value' line, ignored", where);
			continue;
		}
		memcpy(key, ks, (size_t)(ke - ks));
		key[ke - ks] = '\0';
		if (eq) {
			vs = eq + 1;
			ve = le;
			trim(&vs, &ve);
			if (ve - vs >= 2 && (*vs == '"' || *vs == '\'') && ve[-1] == *vs &&
			    !memchr(vs + 1, *vs, (size_t)(ve - vs - 2))) {
				vs++;
				ve--;
			}
			val = strndup(vs, (size_t)(ve - vs));
			if (!val)
				return -ENOMEM;
		}
		r = config_set(cfg, key, val, false, &ip_replaced, warn, data, where);
		free(val);
		if (r < 0)
			return r;
	}
	return 0;
}

static int merge_str(char **dst, const char *src)
{
	return src ? set_str(dst, src) : 0;
}

int config_merge(struct init_config *dst, const struct init_config *src)
{
	int r;

	if ((r = merge_str(&dst->mode, src->mode)) < 0 ||
	    (r = merge_str(&dst->args, src->args)) < 0 ||
	    (r = merge_str(&dst->config, src->config)) < 0 ||
	    (r = merge_str(&dst->debug, src->debug)) < 0)
		return r;
	if (src->exit_set) {
		dst->exit = src->exit;
		dst->exit_set = true;
	}
	if (src->n_ip) {
		bool replaced = false;
		for (size_t i = 0; i < src->n_ip; i++)
			if ((r = add_ip(dst, src->ip[i], &replaced, NULL, NULL, "")) < 0)
				return r;
	}
	for (size_t i = 0; i < src->n_opts; i++)
		if ((r = set_opt(dst, src->opts[i].key, src->opts[i].value, NULL, NULL, "")) < 0)
			return r;
	return 0;
}

/* ---- shell-like splitting --------------------------------------------- */

void config_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int config_split_args(const char *s, char ***ret_argv, size_t *ret_argc)
{
	size_t len = strnlen(s, CONF_VALUE_MAX + 1);
	char **argv = NULL, *word = NULL;
	size_t argc = 0, wl = 0;
	int r = -ENOMEM;

	if (len > CONF_VALUE_MAX)
		return -E2BIG;
	argv = calloc(ARGS_WORDS_MAX + 1, sizeof(*argv));
	word = malloc(len + 1);         /* no word is longer than the input */
	if (!argv || !word)
		goto fail;

	for (size_t i = 0; i < len;) {
		bool in_word = false;

		while (i < len && is_blank(s[i]))
			i++;
		if (i == len)
			break;
		wl = 0;
		while (i < len && !is_blank(s[i])) {
			char c = s[i++];
			in_word = true;
			if (c == '\'') {
				const char *q = memchr(s + i, '\'', len - i);
				if (!q) {
					r = -EINVAL;
					goto fail;
				}
				memcpy(word + wl, s + i, (size_t)(q - (s + i)));
				wl += (size_t)(q - (s + i));
				i = (size_t)(q - s) + 1;
			} else if (c == '"') {
				for (;;) {
					if (i == len) {
						r = -EINVAL;
						goto fail;
					}
					c = s[i++];
					if (c == '"')
						break;
					if (c == '\\' && i < len && strchr("\\\"$`\n", s[i])) {
						c = s[i++];
						if (c == '\n')
							continue;  /* line continuation */
					}
					word[wl++] = c;
				}
			} else if (c == '\\') {
				if (i == len) {
					r = -EINVAL;
					goto fail;
				}
				c = s[i++];
				if (c != '\n')
					word[wl++] = c;
			} else {
				word[wl++] = c;
			}
		}
		if (!in_word)
			continue;
		if (argc == ARGS_WORDS_MAX) {
			r = -E2BIG;
			goto fail;
		}
		argv[argc] = strndup(word, wl);
		if (!argv[argc])
			goto fail;
		argc++;
	}
	free(word);
	*ret_argv = argv;
	*ret_argc = argc;
	return 0;
fail:
	free(word);
	config_argv_free(argv);
	return r;
}

int config_job_argv(const struct init_config *cfg, const char *binary, char ***ret_argv,
		    const char **ret_why)
{
	char **words = NULL, **argv;
	size_t nw = 0, n = 0;
	int r;

	*ret_why = NULL;
	if (!cfg->mode) {
		*ret_why = "no mode";
		return -EINVAL;
	}
	if (cfg->args) {
		r = config_split_args(cfg->args, &words, &nw);
		if (r < 0) {
			*ret_why = r == -EINVAL ? "unterminated quote or trailing backslash in args"
				 : r == -E2BIG ? "args too long" : "out of memory";
			return r;
		}
	}
	argv = calloc(2 + cfg->n_opts + nw + 1, sizeof(*argv));
	if (!argv) {
		config_argv_free(words);
		return -ENOMEM;
	}
	if (!(argv[n++] = strdup(binary)) || !(argv[n++] = strdup(cfg->mode)))
		goto oom;
	for (size_t i = 0; i < cfg->n_opts; i++) {
		const struct config_opt *o = &cfg->opts[i];
		size_t len = strlen(o->key) + (o->value ? strlen(o->value) + 1 : 0) + 3;
		argv[n] = malloc(len);
		if (!argv[n])
			goto oom;
		if (o->value)
			snprintf(argv[n], len, "--%s=%s", o->key, o->value);
		else
			snprintf(argv[n], len, "--%s", o->key);
		n++;
	}
	for (size_t i = 0; i < nw; i++) {
		argv[n++] = words[i];   /* moved */
		words[i] = NULL;
	}
	free(words);
	*ret_argv = argv;
	return 0;
oom:
	config_argv_free(argv);
	config_argv_free(words);
	*ret_why = "out of memory";
	return -ENOMEM;
}

bool config_key_secret(const char *key)
{
	static const char *const words[] = {
		"token", "password", "passwd", "passphrase", "secret", "credential", "auth",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]))
			return true;
	return false;
}

void cmdline_format_redacted(const struct cmdline *c, char *buf, size_t n)
{
	size_t w = 0, plen = strlen(MIGRATOR_PREFIX);

	if (n == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < c->n && w < n; i++) {
		const char *k = c->v[i].key, *v = c->v[i].value;
		bool secret = strncmp(k, MIGRATOR_PREFIX, plen) == 0 && config_key_secret(k + plen);
		bool quote = v && !secret && (strpbrk(v, " \t") || !*v);

		w += (size_t)snprintf(buf + w, n - w, "%s%s%s%s%s%s", w ? " " : "", k, v ? "=" : "",
				      quote ? "\"" : "", v ? (secret ? "***" : v) : "",
				      quote ? "\"" : "");
	}
}
