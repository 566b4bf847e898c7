/* refs.c — see refs.h. */
#include "refs.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 256   /* per line; further words are ignored */

void mig_refs_clear(struct mig_refs *refs)
{
	for (size_t i = 0; i < refs->n; i++) {
		free(refs->v[i].value);
		free(refs->v[i].source);
		free(refs->v[i].what);
	}
	free(refs->v);
	refs->v = NULL;
	refs->n = 0;
}

const char *mig_ref_kind_name(enum mig_ref_kind kind)
{
	switch (kind) {
	case MIG_REF_UUID: return "UUID";
	case MIG_REF_PARTUUID: return "PARTUUID";
	case MIG_REF_LABEL: return "LABEL";
	case MIG_REF_PARTLABEL: return "PARTLABEL";
	case MIG_REF_MDUUID: return "MD-UUID";
	case MIG_REF_LUKSUUID: return "LUKS-UUID";
	case MIG_REF_DEVNAME: return "DEVNAME";
	case MIG_REF_MACHINE: return "MACHINE";
	case MIG_REF_ASSEMBLED: return "ASSEMBLED";
	}
	return "?";
}

static int add_ref(struct mig_refs *refs, enum mig_ref_kind kind, const char *value,
		   const char *source, unsigned line, const char *what)
{
	struct mig_ref r = { .kind = kind, .line = line };
	struct mig_ref *v;

	if (refs->n >= MIG_REFS_MAX)
		return -E2BIG;
	r.value = strdup(value);
	r.source = strdup(source ? source : "");
	r.what = strdup(what ? what : "");
	v = r.value && r.source && r.what ? realloc(refs->v, (refs->n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(r.value);
		free(r.source);
		free(r.what);
		return -ENOMEM;
	}
	refs->v = v;
	refs->v[refs->n++] = r;
	return 0;
}

/* Adds the reference a device spec makes; specs that name no block device
 * are skipped. */
static int add_spec(struct mig_refs *refs, const char *spec, const char *source, unsigned line,
		    const char *what)
{
	enum mig_ref_kind kind;
	char *value;
	int r = mig_ref_parse_spec(spec, &kind, &value);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = add_ref(refs, kind, value, source, line, what);
	free(value);
	return r;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* udev escapes unsafe bytes in by-label/by-partlabel names as \xNN. */
static char *decode_udev(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;

	if (!r)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
			*o++ = (char)(hexval(s[2]) << 4 | hexval(s[3]));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return r;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int mig_ref_parse_spec(const char *spec, enum mig_ref_kind *ret_kind, char **ret_value)
{
	static const struct { const char *prefix; enum mig_ref_kind kind; bool udev; } tags[] = {
		{ "UUID=", MIG_REF_UUID, false },
		{ "PARTUUID=", MIG_REF_PARTUUID, false },
		{ "LABEL=", MIG_REF_LABEL, false },
		{ "PARTLABEL=", MIG_REF_PARTLABEL, false },
		{ "/dev/disk/by-uuid/", MIG_REF_UUID, true },
		{ "/dev/disk/by-partuuid/", MIG_REF_PARTUUID, true },
		{ "/dev/disk/by-label/", MIG_REF_LABEL, true },
		{ "/dev/disk/by-partlabel/", MIG_REF_PARTLABEL, true },
		{ "/dev/disk/", MIG_REF_MACHINE, false },   /* by-id, by-path, by-diskseq ... */
		{ "/dev/mapper/", MIG_REF_ASSEMBLED, false },
		{ "/dev/dm-", MIG_REF_ASSEMBLED, false },
		{ "/dev/md", MIG_REF_ASSEMBLED, false },
	};
	static const char *const devnames[] = {
		"/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd", "/dev/nvme", "/dev/mmcblk", "/dev/sr",
	};
	char *v;

	if (!spec || !*spec)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (!has_prefix(spec, tags[i].prefix))
			continue;
		const char *rest = spec + strlen(tags[i].prefix);
		bool keep_path = tags[i].kind == MIG_REF_MACHINE || tags[i].kind == MIG_REF_ASSEMBLED;

		if (!*rest)
			return -ENOENT;
		/* UUID="..." as some fstabs write it */
		if (!keep_path && rest[0] == '"' && strlen(rest) >= 2 && rest[strlen(rest) - 1] == '"') {
			v = strndup(rest + 1, strlen(rest) - 2);
		} else if (keep_path) {
			v = strdup(spec);
		} else {
			v = tags[i].udev ? decode_udev(rest) : strdup(rest);
		}
		if (!v)
			return -ENOMEM;
		*ret_kind = tags[i].kind;
		*ret_value = v;
		return 0;
	}
	if (!has_prefix(spec, "/dev/") || !spec[5])
		return -ENOENT;
	enum mig_ref_kind kind = MIG_REF_ASSEMBLED;   /* /dev/VG/LV and the like */
	for (size_t i = 0; i < sizeof(devnames) / sizeof(devnames[0]); i++)
		if (has_prefix(spec, devnames[i]))
			kind = MIG_REF_DEVNAME;
	if (kind == MIG_REF_ASSEMBLED && !strchr(spec + 5, '/'))
		kind = MIG_REF_DEVNAME;                /* /dev/root, /dev/ubda, ... */
	if (!(v = strdup(spec)))
		return -ENOMEM;
	*ret_kind = kind;
	*ret_value = v;
	return 0;
}

/* Line iteration: calls fn for each line (NUL-terminated copy, without the
 * newline), skipping lines longer than MIG_REFS_LINE_MAX. */
typedef int (*line_fn)(char *line, unsigned lineno, void *data);

static int for_each_line(const char *text, size_t len, line_fn fn, void *data)
{
	char *buf;
	unsigned lineno = 0;
	int r = 0;

	if (len > MIG_REFS_TEXT_MAX)
		return -EFBIG;
	if (!text)
		return 0;
	buf = malloc(MIG_REFS_LINE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t pos = 0; pos < len && r == 0;) {
		size_t end = pos;

		while (end < len && text[end] != '\n' && text[end] != '\0')
			end++;
		lineno++;
		size_t n = end - pos;
		if (n && text[pos + n - 1] == '\r')
			n--;
		if (n <= MIG_REFS_LINE_MAX) {
			memcpy(buf, text + pos, n);
			buf[n] = 0;
			r = fn(buf, lineno, data);
		}
		pos = end + 1;
	}
	free(buf);
	return r;
}

/* Splits s in place into blank-separated words (no quoting). */
static size_t split_blank(char *s, char **words, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		while (*s == ' ' || *s == '\t')
			*s++ = 0;
		if (!*s)
			break;
		words[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

/* fstab's octal escapes: \040 space, \011 tab, \012 newline, \134 backslash. */
static void unescape_octal(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
}

static bool is_comment_or_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == 0 || *s == '#';
}

struct tab_ctx {
	struct mig_refs *refs;
	const char *source;
};

static int fstab_line(char *line, unsigned lineno, void *data)
{
	struct tab_ctx *c = data;
	char *w[6], what[MIG_REFS_LINE_MAX + 16];

	if (is_comment_or_blank(line))
		return 0;
	size_t n = split_blank(line, w, 6);
	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		unescape_octal(w[i]);
	bool swap = n >= 3 && strcmp(w[2], "swap") == 0;
	bool optional = n >= 4 && (strstr(w[3], "noauto") || strstr(w[3], "nofail"));
	snprintf(what, sizeof(what), "fstab %s%s", swap ? "swap" : w[1], optional ? " (noauto/nofail)" : "");
	return add_spec(c->refs, w[0], c->source, lineno, what);
}

int mig_refs_from_fstab(struct mig_refs *refs, const char *text, size_t len, const char *source)
{
	struct tab_ctx c = { refs, source };

	return for_each_line(text, len, fstab_line, &c);
}

static int crypttab_line(char *line, unsigned lineno, void *data)
{
	struct tab_ctx *c = data;
	char *w[4], what[MIG_REFS_LINE_MAX + 32];

	if (is_comment_or_blank(line))
		return 0;
	size_t n = split_blank(line, w, 4);
	if (n < 2)
		return 0;
	bool optional = n >= 4 && (strstr(w[3], "noauto") || strstr(w[3], "nofail"));
	snprintf(what, sizeof(what), "crypttab %s%s", w[0], optional ? " (noauto/nofail)" : "");
	return add_spec(c->refs, w[1], c->source, lineno, what);
}

int mig_refs_from_crypttab(struct mig_refs *refs, const char *text, size_t len, const char *source)
{
	struct tab_ctx c = { refs, source };

	return for_each_line(text, len, crypttab_line, &c);
}

/* Splits s in place into words with GRUB/shell quoting: '...' literal,
 * "..." with backslash escapes, backslash outside quotes; '#' at the start
 * of a word begins a comment. An unquoted ';' becomes a word of its own.
 * Output never outruns input, so the NULs land on consumed bytes. */
static char semicolon[] = ";";

static size_t split_quoted(char *s, char **words, size_t max)
{
	size_t n = 0;
	char *o = s;

	while (*s && n < max) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			break;
		if (*s == ';') {
			s++;
			words[n++] = semicolon;
			continue;
		}
		char *start = o;
		char q = 0;

		while (*s) {
			if (q == '\'') {
				if (*s == '\'')
					q = 0;
				else
					*o++ = *s;
				s++;
			} else if (q == '"') {
				if (*s == '"')
					q = 0, s++;
				else if (*s == '\\' && s[1])
					*o++ = s[1], s += 2;
				else
					*o++ = *s++;
			} else if (*s == '\'' || *s == '"') {
				q = *s++;
			} else if (*s == '\\' && s[1]) {
				*o++ = s[1];
				s += 2;
			} else if (*s == ' ' || *s == '\t' || *s == ';') {
				break;
			} else {
				*o++ = *s++;
			}
		}
		bool semi = *s == ';';
		if (*s)
			s++;
		*o++ = 0;
		words[n++] = start;
		if (semi && n < max)
			words[n++] = semicolon;
	}
	return n;
}

/* The parameters of one kernel command line, already split. */
static int params_refs(struct mig_refs *refs, char **w, size_t n, const char *source,
		       unsigned line, const char *prefix)
{
	char what[64];
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *p = w[i];

		if (strchr(p, '$'))
			continue;       /* an unexpanded variable */
		if (has_prefix(p, "root=") || has_prefix(p, "resume=")) {
			const char *eq = strchr(p, '=');
			snprintf(what, sizeof(what), "%s%.*s", prefix, (int)(eq - p + 1), p);
			r = add_spec(refs, eq + 1, source, line, what);
		} else if (has_prefix(p, "rd.luks.uuid=")) {
			const char *v = p + strlen("rd.luks.uuid=");
			if (has_prefix(v, "luks-"))
				v += 5;
			snprintf(what, sizeof(what), "%srd.luks.uuid=", prefix);
			if (*v)
				r = add_ref(refs, MIG_REF_LUKSUUID, v, source, line, what);
		} else if (has_prefix(p, "rd.md.uuid=")) {
			snprintf(what, sizeof(what), "%srd.md.uuid=", prefix);
			if (p[strlen("rd.md.uuid=")])
				r = add_ref(refs, MIG_REF_MDUUID, p + strlen("rd.md.uuid="), source, line, what);
		} else if (has_prefix(p, "cryptdevice=")) {
			char *spec = strdup(p + strlen("cryptdevice="));
			if (!spec)
				return -ENOMEM;
			/* cryptdevice=UUID=...:name[:options] */
			char *colon = strchr(spec, ':');
			if (colon)
				*colon = 0;
			snprintf(what, sizeof(what), "%scryptdevice=", prefix);
			r = add_spec(refs, spec, source, line, what);
			free(spec);
		}
	}
	return r;
}

int mig_refs_from_cmdline(struct mig_refs *refs, const char *cmdline, size_t len,
			  const char *source, unsigned line)
{
	char *words[MAX_WORDS];
	char *buf;
	int r;

	if (len > MIG_REFS_LINE_MAX)
		return -EFBIG;
	if (!(buf = strndup(cmdline, len)))
		return -ENOMEM;
	size_t n = split_quoted(buf, words, MAX_WORDS);
	r = params_refs(refs, words, n, source, line, "");
	free(buf);
	return r;
}

/* One GRUB command (words up to a ';'). */
static int grub_command(struct tab_ctx *c, char **w, size_t n, unsigned lineno)
{
	/* Commands may follow a keyword: "if ...; then search ..." */
	while (n && (!strcmp(w[0], "then") || !strcmp(w[0], "else") || !strcmp(w[0], "do") ||
		     !strcmp(w[0], "{")))
		w++, n--;
	if (n < 2)
		return 0;
	const char *cmd = w[0];
	if (!strcmp(cmd, "search") || !strcmp(cmd, "search.fs_uuid") || !strcmp(cmd, "search.fs_label")) {
		enum mig_ref_kind kind = MIG_REF_UUID;
		bool file = false, have_kind = strcmp(cmd, "search") != 0;

		if (!strcmp(cmd, "search.fs_label"))
			kind = MIG_REF_LABEL;
		for (size_t i = 1; i < n; i++) {
			const char *a = w[i];

			if (!strcmp(a, "--fs-uuid") || !strcmp(a, "-u")) {
				kind = MIG_REF_UUID;
				have_kind = true;
			} else if (!strcmp(a, "--label") || !strcmp(a, "-l")) {
				kind = MIG_REF_LABEL;
				have_kind = true;
			} else if (!strcmp(a, "--file") || !strcmp(a, "-f")) {
				file = true;
			} else if (a[0] == '-' && a[1]) {
				/* --set[=VAR], --no-floppy, --hint*=..., -s, -n, --efidisk-only */
				continue;
			} else {
				if (file || !have_kind || strchr(a, '$'))
					return 0;
				return add_ref(c->refs, kind, a, c->source, lineno,
					       kind == MIG_REF_UUID ? "search --fs-uuid" : "search --label");
			}
		}
		return 0;
	}
	if (!strcmp(cmd, "cryptomount")) {
		for (size_t i = 1; i + 1 < n; i++)
			if (!strcmp(w[i], "-u") && !strchr(w[i + 1], '$'))
				return add_ref(c->refs, MIG_REF_LUKSUUID, w[i + 1], c->source, lineno,
					       "cryptomount -u");
		return 0;
	}
	if (!strcmp(cmd, "linux") || !strcmp(cmd, "linux16") || !strcmp(cmd, "linuxefi") ||
	    !strcmp(cmd, "kernel"))
		return params_refs(c->refs, w + 2, n - 2, c->source, lineno, "linux ");
	return 0;
}

static int grub_cfg_line(char *line, unsigned lineno, void *data)
{
	struct tab_ctx *c = data;
	char *w[MAX_WORDS];
	size_t n = split_quoted(line, w, MAX_WORDS), start = 0;
	int r = 0;

	for (size_t i = 0; i <= n && r == 0; i++) {
		if (i == n || !strcmp(w[i], ";")) {
			r = grub_command(c, w + start, i - start, lineno);
			start = i + 1;
		}
	}
	return r;
}

int mig_refs_from_grub_cfg(struct mig_refs *refs, const char *text, size_t len, const char *source)
{
	struct tab_ctx c = { refs, source };

	return for_each_line(text, len, grub_cfg_line, &c);
}

/* A shell assignment NAME=VALUE (optionally after "export "): returns the
 * unquoted value in place, or NULL if line is not an assignment of name. */
static char *shell_value(char *line, const char *name)
{
	char *w[1];

	while (*line == ' ' || *line == '\t')
		line++;
	if (has_prefix(line, "export "))
		line += 7;
	size_t l = strlen(name);
	if (strncmp(line, name, l) != 0 || line[l] != '=')
		return NULL;
	char *v = line + l + 1;
	/* "a b" and 'a b' become one word; unquoted values end at a blank */
	if (split_quoted(v, w, 1) != 1)
		return v + strlen(v);   /* empty */
	return w[0];
}

static int default_grub_line(char *line, unsigned lineno, void *data)
{
	struct tab_ctx *c = data;
	static const char *const names[] = { "GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT" };

	for (size_t i = 0; i < 2; i++) {
		char *copy = strdup(line), *v;
		int r = 0;

		if (!copy)
			return -ENOMEM;
		if ((v = shell_value(copy, names[i]))) {
			char *w[MAX_WORDS];
			char prefix[40];
			size_t n = split_quoted(v, w, MAX_WORDS);

			snprintf(prefix, sizeof(prefix), "%s ", names[i]);
			r = params_refs(c->refs, w, n, c->source, lineno, prefix);
		}
		free(copy);
		if (r < 0)
			return r;
	}
	return 0;
}

int mig_refs_from_default_grub(struct mig_refs *refs, const char *text, size_t len,
			       const char *source)
{
	struct tab_ctx c = { refs, source };

	return for_each_line(text, len, default_grub_line, &c);
}

struct bls_ctx {
	struct mig_refs *refs;
	const char *source;
	const char *kernelopts;
};

static int bls_line(char *line, unsigned lineno, void *data)
{
	struct bls_ctx *c = data;
	char *w[MAX_WORDS];
	int r = 0;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!has_prefix(line, "options") || (line[7] != ' ' && line[7] != '\t'))
		return 0;
	/* Expand $kernelopts / ${kernelopts}, the way GRUB's blscfg does. */
	const char *ko = c->kernelopts ? c->kernelopts : "";
	size_t cap = strlen(line) + 1, kl = strlen(ko);
	char *exp = malloc(cap + 4 * kl + 1);   /* at most a few expansions fit a line */
	if (!exp)
		return -ENOMEM;
	char *o = exp;
	size_t expansions = 0;
	for (const char *s = line + 8; *s;) {
		size_t skip = has_prefix(s, "${kernelopts}") ? 13 : has_prefix(s, "$kernelopts") ? 11 : 0;
		if (skip && expansions < 4) {
			memcpy(o, ko, kl);
			o += kl;
			s += skip;
			expansions++;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	size_t n = split_quoted(exp, w, MAX_WORDS);
	r = params_refs(c->refs, w, n, c->source, lineno, kl && expansions ? "options/kernelopts " : "options ");
	free(exp);
	return r;
}

int mig_refs_from_bls(struct mig_refs *refs, const char *text, size_t len, const char *source,
		      const char *kernelopts)
{
	struct bls_ctx c = { refs, source, kernelopts };

	if (kernelopts && strlen(kernelopts) > MIG_REFS_LINE_MAX)
		return -EFBIG;
	return for_each_line(text, len, bls_line, &c);
}

struct md_ctx {
	struct mig_refs *refs;
	const char *source;
	bool in_array;
};

static int mdadm_line(char *line, unsigned lineno, void *data)
{
	struct md_ctx *c = data;
	char *w[MAX_WORDS];
	bool cont = line[0] == ' ' || line[0] == '\t';
	int r = 0;

	if (is_comment_or_blank(line))
		return 0;
	size_t n = split_blank(line, w, MAX_WORDS), i = 0;
	if (!cont) {
		c->in_array = n && strcasecmp(w[0], "ARRAY") == 0;
		i = 1;
	}
	if (!c->in_array)
		return 0;
	for (; i < n && r == 0; i++) {
		if (strncasecmp(w[i], "uuid=", 5) == 0 && w[i][5]) {
			r = add_ref(c->refs, MIG_REF_MDUUID, w[i] + 5, c->source, lineno, "ARRAY UUID=");
		} else if (strncasecmp(w[i], "devices=", 8) == 0) {
			for (char *d = strtok(w[i] + 8, ","); d && r == 0; d = strtok(NULL, ","))
				if (!strpbrk(d, "*?["))   /* globs match whatever is there */
					r = add_spec(c->refs, d, c->source, lineno, "ARRAY devices=");
		}
	}
	return r;
}

int mig_refs_from_mdadm_conf(struct mig_refs *refs, const char *text, size_t len,
			     const char *source)
{
	struct md_ctx c = { refs, source, false };

	return for_each_line(text, len, mdadm_line, &c);
}

static int resume_line(char *line, unsigned lineno, void *data)
{
	struct tab_ctx *c = data;
	char *v;

	if (is_comment_or_blank(line) || !(v = shell_value(line, "RESUME")))
		return 0;
	return add_spec(c->refs, v, c->source, lineno, "RESUME=");
}

int mig_refs_from_resume_conf(struct mig_refs *refs, const char *text, size_t len,
			      const char *source)
{
	struct tab_ctx c = { refs, source };

	return for_each_line(text, len, resume_line, &c);
}

struct env_ctx {
	const char *key;
	char *value;
};

static int grubenv_line(char *line, unsigned lineno, void *data)
{
	struct env_ctx *c = data;
	size_t kl = strlen(c->key);

	if (line[0] == '#' || strncmp(line, c->key, kl) != 0 || line[kl] != '=')
		return 0;
	char *v = strdup(line + kl + 1), *o = v;
	if (!v)
		return -ENOMEM;
	for (const char *s = v; *s; s++) {
		if (s[0] == '\\' && s[1]) {
			s++;
			*o++ = *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	free(c->value);
	c->value = v;
	return 0;
}

int mig_grubenv_get(const char *text, size_t len, const char *key, char **ret_value)
{
	struct env_ctx c = { key, NULL };
	int r = for_each_line(text, len, grubenv_line, &c);

	if (r < 0) {
		free(c.value);
		return r;
	}
	if (!c.value)
		return -ENOENT;
	*ret_value = c.value;
	return 0;
}

/* --- kernel and initrd paths ------------------------------------------------ */

void mig_boot_files_clear(struct mig_boot_files *files)
{
	for (size_t i = 0; i < files->n; i++) {
		free(files->v[i].path);
		free(files->v[i].what);
		free(files->v[i].search_uuid);
	}
	free(files->v);
	files->v = NULL;
	files->n = 0;
}

static int add_boot_file(struct mig_boot_files *files, const char *path, const char *what,
			 const char *uuid, unsigned line)
{
	struct mig_boot_file *v, f = { .line = line };

	if (!strncmp(path, "($root)", 7))
		path += 7;
	if (path[0] != '/' || strchr(path, '$'))
		return 0;   /* another device, or a variable: not resolvable offline */
	if (files->n >= MIG_BOOT_FILES_MAX)
		return -E2BIG;
	f.path = strdup(path);
	f.what = strdup(what);
	f.search_uuid = uuid ? strdup(uuid) : NULL;
	v = f.path && f.what && (!uuid || f.search_uuid) ? realloc(files->v, (files->n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(f.path);
		free(f.what);
		free(f.search_uuid);
		return -ENOMEM;
	}
	files->v = v;
	files->v[files->n++] = f;
	return 0;
}

#define BOOT_TOKENS 32

/* Splits line (modified) into whitespace-separated words, quotes removed. */
static size_t split_words(char *line, char **tok, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		char *w = p, *o = p;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				while (*p && *p != q)
					*o++ = *p++;
				if (*p)
					p++;
			} else {
				*o++ = *p++;
			}
		}
		if (*p)
			p++;
		*o = 0;
		tok[n++] = w;
	}
	return n;
}

int mig_boot_files_parse(struct mig_boot_files *files, const char *text, size_t len, bool bls)
{
	char *uuid = NULL, buf[MIG_REFS_LINE_MAX];
	bool unknown = false;   /* root set to something we cannot resolve */
	unsigned lineno = 0;
	int r = 0;

	if (len > MIG_REFS_TEXT_MAX)
		return -E2BIG;
	for (const char *l = text; l < text + len && r == 0;) {
		const char *e = memchr(l, '\n', (size_t)(text + len - l));
		size_t n = e ? (size_t)(e - l) : (size_t)(text + len - l);
		lineno++;
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, l, n);
		buf[n] = 0;
		l = e ? e + 1 : text + len;

		char *tok[BOOT_TOKENS];
		size_t nt = split_words(buf, tok, BOOT_TOKENS);
		if (nt == 0)
			continue;
		const char *cmd = tok[0];
		if (bls) {
			if (!strcmp(cmd, "linux") || !strcmp(cmd, "initrd"))
				for (size_t i = 1; i < nt && r == 0 && (i == 1 || cmd[0] == 'i'); i++)
					r = add_boot_file(files, tok[i], cmd, NULL, lineno);
			continue;
		}
		if (!strcmp(cmd, "search") || !strncmp(cmd, "search.", 7)) {
			/* search [--no-floppy] --fs-uuid [--set=root] [--hint...] UUID;
			 * search.fs_uuid UUID [VAR] */
			const char *u = NULL;
			bool by_uuid = !strcmp(cmd, "search.fs_uuid");
			for (size_t i = 1; i < nt; i++) {
				if (!strcmp(tok[i], "--fs-uuid") || !strcmp(tok[i], "-u"))
					by_uuid = true;
				else if (tok[i][0] != '-')
					u = tok[i];
			}
			if (!strcmp(cmd, "search.fs_uuid"))
				u = nt > 1 ? tok[1] : NULL;
			free(uuid);
			uuid = by_uuid && u ? strdup(u) : NULL;
			if (by_uuid && u && !uuid) {
				r = -ENOMEM;
				break;
			}
			unknown = !uuid;
			continue;
		}
		if (!strcmp(cmd, "set") && nt > 1 && !strncmp(tok[1], "root=", 5)) {
			unknown = true;
			continue;
		}
		bool lin = !strcmp(cmd, "linux") || !strcmp(cmd, "linuxefi") || !strcmp(cmd, "linux16");
		bool ini = !strcmp(cmd, "initrd") || !strcmp(cmd, "initrdefi") || !strcmp(cmd, "initrd16");
		if ((!lin && !ini) || unknown)
			continue;
		for (size_t i = 1; i < nt && r == 0 && (ini || i == 1); i++)
			if (tok[i][0] != '-')
				r = add_boot_file(files, tok[i], lin ? "linux" : "initrd", uuid, lineno);
	}
	free(uuid);
	return r;
}
