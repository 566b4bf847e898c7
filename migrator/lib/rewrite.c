/* rewrite.c — see rewrite.h. */
#include "rewrite.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 65536   /* for the rewriters that look at more than one line */

/* --- an output buffer that remembers its first error ---------------------- */

struct buf {
	char *p;
	size_t n, cap;
	int err;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		if (cap > 2 * (size_t)MIG_REWRITE_TEXT_MAX + 4096) {
			b->err = -EFBIG;
			return;
		}
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static int finish(struct buf *b, unsigned changes, struct mig_rewrite *ret)
{
	if (!b->err && !b->p)
		put(b, "", 0);
	if (b->err) {
		free(b->p);
		return b->err;
	}
	ret->text = b->p;
	ret->len = b->n;
	ret->changes = changes;
	return 0;
}

void mig_rewrite_free(struct mig_rewrite *rw)
{
	if (!rw)
		return;
	free(rw->text);
	rw->text = NULL;
	rw->len = 0;
	rw->changes = 0;
}

/* --- lines ----------------------------------------------------------------- */

struct line {
	const char *s;
	size_t n;          /* without the line end */
	size_t eol;        /* bytes of line end: 0, 1 ("\n") */
};

/* Splits text into lines; *ret_v is malloc'd. -EFBIG past MAX_LINES. */
static int split(const char *text, size_t len, struct line **ret_v, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	struct line *v = NULL;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;

		if (n == cap) {
			if (n >= MAX_LINES) {
				free(v);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 64;
			struct line *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = (struct line){ text + i, e - i, nl ? 1 : 0 };
		i = e + (nl ? 1 : 0);
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static size_t skip_blank(const char *s, size_t i, size_t n)
{
	while (i < n && is_blank(s[i]))
		i++;
	return i;
}

/* Start and end of whitespace-separated field k (0-based) of s[0..n). */
static bool field(const char *s, size_t n, unsigned k, size_t *ret_b, size_t *ret_e)
{
	size_t i = 0;

	for (unsigned f = 0;; f++) {
		i = skip_blank(s, i, n);
		if (i >= n)
			return false;
		size_t b = i;
		while (i < n && !is_blank(s[i]))
			i++;
		if (f == k) {
			*ret_b = b;
			*ret_e = i;
			return true;
		}
	}
}

/* A comment or an empty line. */
static bool is_comment(const char *s, size_t n)
{
	size_t i = skip_blank(s, 0, n);
	return i >= n || s[i] == '#';
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(s, w, n);
}

static bool starts(const char *s, size_t n, const char *p)
{
	return n >= strlen(p) && !memcmp(s, p, strlen(p));
}

static void comment_out(struct buf *b, const struct line *l)
{
	puts_(b, "# ");
	put(b, l->s, l->n);
}

/* --- device specifications -------------------------------------------------- */

struct devctx {
	mig_devmap_fn map;
	void *data;
};

/* Calls map on s[0..n). Returns 1 with *ret (caller frees), 0, or -errno. */
static int map_spec(const struct devctx *d, const char *s, size_t n, char **ret)
{
	char spec[MIG_REWRITE_LINE_MAX + 1];
	char *out = NULL;

	if (n == 0 || n > MIG_REWRITE_LINE_MAX || memchr(s, 0, n))
		return 0;
	memcpy(spec, s, n);
	spec[n] = 0;
	int r = d->map(spec, &out, d->data);
	if (r <= 0)
		return r;
	if (!out)
		return -EINVAL;
	if (strlen(out) > MIG_REWRITE_SPEC_MAX || strlen(out) == 0) {
		free(out);
		return -E2BIG;
	}
	*ret = out;
	return 1;
}

/* Writes the line with s[b..e) replaced by map's answer, if any. */
static int put_mapped(struct buf *out, const struct devctx *d, const char *s, size_t n, size_t b,
		      size_t e)
{
	char *rep = NULL;
	int r = map_spec(d, s + b, e - b, &rep);

	if (r < 0)
		return r;
	if (r == 0) {
		put(out, s, n);
		return 0;
	}
	put(out, s, b);
	puts_(out, rep);
	put(out, s + e, n - e);
	free(rep);
	return 1;
}

/* One line -> out; returns 1 if changed, 0 if copied, -errno. */
typedef int (*line_fn)(struct buf *out, const struct line *l, void *ctx);

static int each_line(const char *text, size_t len, line_fn fn, void *ctx, struct mig_rewrite *ret)
{
	struct buf out = { 0 };
	unsigned changes = 0;

	if (len > MIG_REWRITE_TEXT_MAX)
		return -EFBIG;
	for (size_t i = 0; i < len && !out.err;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		struct line l = { text + i, e - i, nl ? 1 : 0 };
		int r = 0;

		if (l.n > MIG_REWRITE_LINE_MAX)
			put(&out, l.s, l.n);
		else if ((r = fn(&out, &l, ctx)) < 0)
			out.err = r;
		if (r > 0)
			changes++;
		put(&out, "\n", l.eol);
		i = e + l.eol;
	}
	return finish(&out, changes, ret);
}

static int fstab_line(struct buf *out, const struct line *l, void *ctx, unsigned k)
{
	size_t b, e;

	if (is_comment(l->s, l->n) || !field(l->s, l->n, k, &b, &e) || memchr(l->s + b, '\\', e - b)) {
		put(out, l->s, l->n);
		return 0;
	}
	return put_mapped(out, ctx, l->s, l->n, b, e);
}

static int fstab_fn(struct buf *out, const struct line *l, void *ctx)
{
	return fstab_line(out, l, ctx, 0);
}

static int crypttab_fn(struct buf *out, const struct line *l, void *ctx)
{
	return fstab_line(out, l, ctx, 1);
}

int mig_rewrite_fstab(const char *text, size_t len, mig_devmap_fn map, void *data,
		      struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, fstab_fn, &d, ret);
}

int mig_rewrite_crypttab(const char *text, size_t len, mig_devmap_fn map, void *data,
			 struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, crypttab_fn, &d, ret);
}

/* root= and resume= in s[0..n): words separated by blanks and quotes. */
static int cmdline_span(struct buf *out, const struct devctx *d, const char *s, size_t n)
{
	static const char *const keys[] = { "root=", "resume=" };
	size_t i = 0, done = 0;
	int changed = 0;

	while (i < n) {
		while (i < n && (is_blank(s[i]) || s[i] == '"' || s[i] == '\''))
			i++;
		size_t b = i;
		while (i < n && !(is_blank(s[i]) || s[i] == '"' || s[i] == '\''))
			i++;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t kl = strlen(keys[k]);
			char *rep = NULL;

			if (i - b <= kl || memcmp(s + b, keys[k], kl))
				continue;
			int r = map_spec(d, s + b + kl, i - b - kl, &rep);
			if (r < 0)
				return r;
			if (r > 0) {
				put(out, s + done, b + kl - done);
				puts_(out, rep);
				free(rep);
				done = i;
				changed = 1;
			}
		}
	}
	put(out, s + done, n - done);
	return changed;
}

static int cmdline_fn(struct buf *out, const struct line *l, void *ctx)
{
	return cmdline_span(out, ctx, l->s, l->n);
}

int mig_rewrite_cmdline(const char *text, size_t len, mig_devmap_fn map, void *data,
			struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, cmdline_fn, &d, ret);
}

/* The part of the line after "PREFIX" (and optional "export "), or the
 * whole line copied and 0 returned. */
static int after_prefix(struct buf *out, const struct devctx *d, const struct line *l,
			const char *const *prefixes, size_t np)
{
	size_t i = skip_blank(l->s, 0, l->n);

	if (starts(l->s + i, l->n - i, "export "))
		i = skip_blank(l->s, i + 7, l->n);
	for (size_t k = 0; k < np; k++) {
		size_t pl = strlen(prefixes[k]);

		if (!starts(l->s + i, l->n - i, prefixes[k]))
			continue;
		/* "linux" must be a whole word; "KEY=" carries its own end */
		if (prefixes[k][pl - 1] != '=' && i + pl < l->n && !is_blank(l->s[i + pl]))
			continue;
		put(out, l->s, i + pl);
		return cmdline_span(out, d, l->s + i + pl, l->n - i - pl);
	}
	put(out, l->s, l->n);
	return 0;
}

static int default_grub_fn(struct buf *out, const struct line *l, void *ctx)
{
	static const char *const p[] = { "GRUB_CMDLINE_LINUX=", "GRUB_CMDLINE_LINUX_DEFAULT=" };
	return after_prefix(out, ctx, l, p, 2);
}

static int grub_cfg_fn(struct buf *out, const struct line *l, void *ctx)
{
	static const char *const p[] = { "linux", "linux16", "linuxefi" };
	return after_prefix(out, ctx, l, p, 3);
}

static int bls_fn(struct buf *out, const struct line *l, void *ctx)
{
	static const char *const p[] = { "options" };
	return after_prefix(out, ctx, l, p, 1);
}

static int resume_fn(struct buf *out, const struct line *l, void *ctx)
{
	size_t i = skip_blank(l->s, 0, l->n), e;

	if (!starts(l->s + i, l->n - i, "RESUME=")) {
		put(out, l->s, l->n);
		return 0;
	}
	i += 7;
	bool q = i < l->n && (l->s[i] == '"' || l->s[i] == '\'');
	e = i + q;
	while (e < l->n && !is_blank(l->s[e]) && l->s[e] != '"' && l->s[e] != '\'')
		e++;
	return put_mapped(out, ctx, l->s, l->n, i + q, e);
}

int mig_rewrite_default_grub(const char *text, size_t len, mig_devmap_fn map, void *data,
			     struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, default_grub_fn, &d, ret);
}

int mig_rewrite_grub_cfg(const char *text, size_t len, mig_devmap_fn map, void *data,
			 struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, grub_cfg_fn, &d, ret);
}

int mig_rewrite_bls(const char *text, size_t len, mig_devmap_fn map, void *data,
		    struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, bls_fn, &d, ret);
}

int mig_rewrite_resume_conf(const char *text, size_t len, mig_devmap_fn map, void *data,
			    struct mig_rewrite *ret)
{
	struct devctx d = { map, data };
	return each_line(text, len, resume_fn, &d, ret);
}

/* --- package sources --------------------------------------------------------- */

static int sources_fn(struct buf *out, const struct line *l, void *ctx)
{
	size_t b, e;

	if (!is_comment(l->s, l->n) && field(l->s, l->n, 0, &b, &e) &&
	    (word_is(l->s + b, e - b, "deb") || word_is(l->s + b, e - b, "deb-src"))) {
		/* "deb [opts] cdrom:[Debian ...]/ suite main": the URI is the
		 * first word after the options */
		size_t i = e;
		i = skip_blank(l->s, i, l->n);
		if (i < l->n && l->s[i] == '[') {
			const char *c = memchr(l->s + i, ']', l->n - i);
			i = c ? (size_t)(c - l->s) + 1 : l->n;
			i = skip_blank(l->s, i, l->n);
		}
		if (starts(l->s + i, l->n - i, "cdrom:")) {
			comment_out(out, l);
			return 1;
		}
	}
	put(out, l->s, l->n);
	return 0;
}

int mig_rewrite_sources_list(const char *text, size_t len, struct mig_rewrite *ret)
{
	return each_line(text, len, sources_fn, NULL, ret);
}

/* "key = value" of an INI-style line: key and value bounds (trimmed). */
static bool ini_kv(const struct line *l, size_t *kb, size_t *ke, size_t *vb)
{
	size_t i = skip_blank(l->s, 0, l->n);
	const char *eq = memchr(l->s + i, '=', l->n - i);

	if (is_comment(l->s, l->n) || l->s[i] == ';' || l->s[i] == '[' || !eq)
		return false;
	*kb = i;
	*ke = (size_t)(eq - l->s);
	while (*ke > *kb && is_blank(l->s[*ke - 1]))
		(*ke)--;
	*vb = skip_blank(l->s, (size_t)(eq - l->s) + 1, l->n);
	return true;
}

/* "[name]" section header: name bounds. */
static bool ini_section(const struct line *l, size_t *nb, size_t *ne)
{
	size_t i = skip_blank(l->s, 0, l->n), e = l->n;

	while (e > i && is_blank(l->s[e - 1]))
		e--;
	if (i >= e || l->s[i] != '[' || l->s[e - 1] != ']')
		return false;
	*nb = i + 1;
	*ne = e - 1;
	return true;
}

static bool key_is(const struct line *l, size_t kb, size_t ke, const char *key)
{
	return word_is(l->s + kb, ke - kb, key);
}

static bool key_prefix(const struct line *l, size_t kb, size_t ke, const char *p)
{
	return starts(l->s + kb, ke - kb, p);
}

static bool local_media_url(const char *s, size_t n)
{
	static const char *const pats[] = { "file:", "/media/", "/mnt/", "cdrom", "/run/media/" };

	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		if (n >= strlen(pats[k]) && memmem(s, n, pats[k], strlen(pats[k])))
			return true;
	return false;
}

int mig_rewrite_yum_repo(const char *text, size_t len, struct mig_rewrite *ret)
{
	struct line *v = NULL;
	size_t n = 0, kb, ke, vb, nb, ne;
	struct buf out = { 0 };
	unsigned changes = 0;
	int r;

	if (len > MIG_REWRITE_TEXT_MAX)
		return -EFBIG;
	if ((r = split(text, len, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && !out.err;) {
		/* one section: [i, j) */
		size_t j = i + 1;
		while (j < n && !ini_section(&v[j], &nb, &ne))
			j++;
		bool local = false, has_enabled = false;
		size_t url_line = 0;
		for (size_t k = i; k < j; k++) {
			if (!ini_kv(&v[k], &kb, &ke, &vb))
				continue;
			if ((key_is(&v[k], kb, ke, "baseurl") || key_is(&v[k], kb, ke, "mirrorlist") ||
			     key_is(&v[k], kb, ke, "metalink")) &&
			    local_media_url(v[k].s + vb, v[k].n - vb)) {
				local = true;
				url_line = k;
			}
			if (key_is(&v[k], kb, ke, "enabled"))
				has_enabled = true;
		}
		if (!ini_section(&v[i], &nb, &ne))
			local = false;       /* text before the first section */
		for (size_t k = i; k < j; k++) {
			bool en = ini_kv(&v[k], &kb, &ke, &vb) && key_is(&v[k], kb, ke, "enabled");
			if (local && en && !starts(v[k].s + vb, v[k].n - vb, "0")) {
				put(&out, v[k].s, vb);
				puts_(&out, "0");
				changes++;
			} else {
				put(&out, v[k].s, v[k].n);
			}
			put(&out, "\n", v[k].eol);
			if (local && !has_enabled && k == url_line) {
				if (!v[k].eol)
					puts_(&out, "\n");
				puts_(&out, "enabled=0");
				put(&out, "\n", v[k].eol);
				changes++;
			}
		}
		i = j;
	}
	free(v);
	return finish(&out, changes, ret);
}

/* --- network configuration ----------------------------------------------------- */

struct netctx {
	bool dhcp;
	char section[64];
	bool in_static;    /* interfaces: inside an "iface X inet static" stanza */
};

static void unquote_bounds(const struct line *l, size_t *vb, size_t *ve)
{
	*ve = l->n;
	while (*ve > *vb && is_blank(l->s[*ve - 1]))
		(*ve)--;
	if (*ve - *vb >= 2 && (l->s[*vb] == '"' || l->s[*vb] == '\'') && l->s[*ve - 1] == l->s[*vb]) {
		(*vb)++;
		(*ve)--;
	}
}

static int ifcfg_fn(struct buf *out, const struct line *l, void *ctx)
{
	const struct netctx *c = ctx;
	size_t kb, ke, vb, ve;

	if (ini_kv(l, &kb, &ke, &vb)) {
		if (key_is(l, kb, ke, "HWADDR") || key_is(l, kb, ke, "MACADDR") ||
		    key_is(l, kb, ke, "LLADDR")) {
			comment_out(out, l);
			return 1;
		}
		if (c->dhcp && (key_prefix(l, kb, ke, "IPADDR") || key_prefix(l, kb, ke, "PREFIX") ||
				key_prefix(l, kb, ke, "NETMASK") || key_prefix(l, kb, ke, "GATEWAY"))) {
			comment_out(out, l);
			return 1;
		}
		unquote_bounds(l, &vb, &ve);
		if (c->dhcp && key_is(l, kb, ke, "BOOTPROTO") && !word_is(l->s + vb, ve - vb, "dhcp")) {
			put(out, l->s, kb);
			puts_(out, "BOOTPROTO=dhcp");
			return 1;
		}
	}
	put(out, l->s, l->n);
	return 0;
}

int mig_rewrite_ifcfg(const char *text, size_t len, bool dhcp, struct mig_rewrite *ret)
{
	struct netctx c = { .dhcp = dhcp };
	return each_line(text, len, ifcfg_fn, &c, ret);
}

static void track_section(struct netctx *c, const struct line *l)
{
	size_t nb, ne;

	if (ini_section(l, &nb, &ne)) {
		size_t n = ne - nb < sizeof(c->section) - 1 ? ne - nb : sizeof(c->section) - 1;
		memcpy(c->section, l->s + nb, n);
		c->section[n] = 0;
	}
}

static int networkd_fn(struct buf *out, const struct line *l, void *ctx)
{
	struct netctx *c = ctx;
	size_t kb, ke, vb;

	track_section(c, l);
	if (!strcmp(c->section, "Match") && ini_kv(l, &kb, &ke, &vb) &&
	    (key_is(l, kb, ke, "MACAddress") || key_is(l, kb, ke, "PermanentMACAddress"))) {
		comment_out(out, l);
		return 1;
	}
	put(out, l->s, l->n);
	return 0;
}

int mig_rewrite_networkd_match(const char *text, size_t len, struct mig_rewrite *ret)
{
	struct netctx c = { 0 };
	return each_line(text, len, networkd_fn, &c, ret);
}

static int nm_fn(struct buf *out, const struct line *l, void *ctx)
{
	struct netctx *c = ctx;
	size_t kb, ke, vb, ve;

	track_section(c, l);
	if (!ini_kv(l, &kb, &ke, &vb)) {
		put(out, l->s, l->n);
		return 0;
	}
	if ((!strcmp(c->section, "ethernet") || !strcmp(c->section, "802-3-ethernet")) &&
	    key_is(l, kb, ke, "mac-address")) {
		comment_out(out, l);
		return 1;
	}
	if (c->dhcp && !strcmp(c->section, "ipv4")) {
		unquote_bounds(l, &vb, &ve);
		if (key_is(l, kb, ke, "method") && word_is(l->s + vb, ve - vb, "manual")) {
			put(out, l->s, kb);
			puts_(out, "method=auto");
			return 1;
		}
		if (key_prefix(l, kb, ke, "address") || key_is(l, kb, ke, "gateway")) {
			comment_out(out, l);
			return 1;
		}
	}
	put(out, l->s, l->n);
	return 0;
}

int mig_rewrite_nm_keyfile(const char *text, size_t len, bool dhcp, struct mig_rewrite *ret)
{
	struct netctx c = { .dhcp = dhcp };
	return each_line(text, len, nm_fn, &c, ret);
}

static int interfaces_fn(struct buf *out, const struct line *l, void *ctx)
{
	struct netctx *c = ctx;
	size_t b0, e0, b3, e3;

	if (is_comment(l->s, l->n) || !field(l->s, l->n, 0, &b0, &e0)) {
		put(out, l->s, l->n);
		return 0;
	}
	const char *w = l->s + b0;
	size_t wn = e0 - b0;
	if (word_is(w, wn, "iface") || word_is(w, wn, "auto") || word_is(w, wn, "mapping") ||
	    word_is(w, wn, "source") || word_is(w, wn, "source-directory") || starts(w, wn, "allow-")) {
		c->in_static = false;
		if (word_is(w, wn, "iface") && field(l->s, l->n, 3, &b3, &e3) &&
		    word_is(l->s + b3, e3 - b3, "static")) {
			size_t b1, e1;
			bool lo = field(l->s, l->n, 1, &b1, &e1) && word_is(l->s + b1, e1 - b1, "lo");
			size_t b2, e2;
			bool inet = field(l->s, l->n, 2, &b2, &e2) && word_is(l->s + b2, e2 - b2, "inet");
			if (!lo && inet) {
				c->in_static = true;
				put(out, l->s, b3);
				puts_(out, "dhcp");
				put(out, l->s + e3, l->n - e3);
				return 1;
			}
		}
	} else if (c->in_static &&
		   (word_is(w, wn, "address") || word_is(w, wn, "netmask") || word_is(w, wn, "gateway") ||
		    word_is(w, wn, "broadcast") || word_is(w, wn, "network"))) {
		comment_out(out, l);
		return 1;
	}
	put(out, l->s, l->n);
	return 0;
}

int mig_rewrite_interfaces_dhcp(const char *text, size_t len, struct mig_rewrite *ret)
{
	struct netctx c = { .dhcp = true };
	return each_line(text, len, interfaces_fn, &c, ret);
}

/* --- netplan ---------------------------------------------------------------------- */

/* Indentation of a YAML line, or SIZE_MAX for blank/comment lines. */
static size_t yaml_indent(const struct line *l)
{
	size_t i = 0;

	while (i < l->n && l->s[i] == ' ')
		i++;
	if (i >= l->n || l->s[i] == '#' || l->s[i] == '\r')
		return SIZE_MAX;
	return i;
}

static bool yaml_key(const struct line *l, size_t ind, const char *key)
{
	size_t kl = strlen(key);

	if (l->n - ind < kl || memcmp(l->s + ind, key, kl))
		return false;
	return ind + kl == l->n || l->s[ind + kl] == ' ' || l->s[ind + kl] == '\r';
}

int mig_rewrite_netplan(const char *text, size_t len, struct mig_rewrite *ret)
{
	struct line *v = NULL;
	size_t n = 0;
	unsigned char *drop = NULL;
	struct buf out = { 0 };
	unsigned changes = 0;
	int r;

	if (len > MIG_REWRITE_TEXT_MAX)
		return -EFBIG;
	if ((r = split(text, len, &v, &n)) < 0)
		return r;
	if (n && !(drop = calloc(n, 1))) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t ind = yaml_indent(&v[i]);

		if (ind == SIZE_MAX || v[i].n > MIG_REWRITE_LINE_MAX || !yaml_key(&v[i], ind, "match:"))
			continue;
		/* the block under match: */
		size_t j = i + 1, others = 0, macs = 0;
		for (; j < n; j++) {
			size_t ci = yaml_indent(&v[j]);
			if (ci == SIZE_MAX)
				continue;
			if (ci <= ind)
				break;
			if (yaml_key(&v[j], ci, "macaddress:")) {
				drop[j] = 1;
				macs++;
			} else {
				others++;
			}
		}
		if (!macs || others)
			continue;
		/* macaddress was the only key: the match goes, and set-name with it */
		drop[i] = 1;
		for (size_t k = i; k-- > 0;) {
			size_t ci = yaml_indent(&v[k]);
			if (ci == SIZE_MAX || ci > ind)
				continue;
			if (ci < ind)
				break;
			if (yaml_key(&v[k], ci, "set-name:"))
				drop[k] = 1;
		}
		for (size_t k = j; k < n; k++) {
			size_t ci = yaml_indent(&v[k]);
			if (ci == SIZE_MAX || ci > ind)
				continue;
			if (ci < ind)
				break;
			if (yaml_key(&v[k], ci, "set-name:"))
				drop[k] = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (drop[i]) {
			/* "# " after the indentation keeps the comment in its block */
			size_t ind = yaml_indent(&v[i]);
			put(&out, v[i].s, ind);
			puts_(&out, "# ");
			put(&out, v[i].s + ind, v[i].n - ind);
			changes++;
		} else {
			put(&out, v[i].s, v[i].n);
		}
		put(&out, "\n", v[i].eol);
	}
	free(drop);
	free(v);
	return finish(&out, changes, ret);
}

/* --- initramfs-tools modules ----------------------------------------------------- */

/* A module name and its alias with '-' for '_' are the same module. */
static bool same_module(const char *a, size_t an, const char *b)
{
	if (an != strlen(b))
		return false;
	for (size_t i = 0; i < an; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return true;
}

int mig_rewrite_add_modules(const char *text, size_t len, const char *const *mods, size_t n,
			    struct mig_rewrite *ret)
{
	struct line *v = NULL;
	size_t nl = 0, b, e;
	struct buf out = { 0 };
	unsigned changes = 0;
	int r;

	if (len > MIG_REWRITE_TEXT_MAX)
		return -EFBIG;
	if ((r = split(text, len, &v, &nl)) < 0)
		return r;
	put(&out, text, len);
	for (size_t m = 0; m < n; m++) {
		bool have = false;
		for (size_t i = 0; i < nl && !have; i++)
			have = !is_comment(v[i].s, v[i].n) && field(v[i].s, v[i].n, 0, &b, &e) &&
			       same_module(v[i].s + b, e - b, mods[m]);
		for (size_t k = 0; k < m && !have; k++)
			have = !strcmp(mods[k], mods[m]);
		if (have)
			continue;
		if (out.n && out.p[out.n - 1] != '\n')
			puts_(&out, "\n");
		puts_(&out, mods[m]);
		puts_(&out, "\n");
		changes++;
	}
	free(v);
	return finish(&out, changes, ret);
}
