/* jsonread.c — see jsonread.h. A recursive-descent parser; recursion is
 * bounded by max_depth. */
#include "jsonread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p, *end;
	const struct mig_jv_limits *lim;
	size_t values;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static void clear(struct mig_jv *v)
{
	free(v->s);
	for (size_t i = 0; i < v->n; i++) {
		clear(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

void mig_jv_free(struct mig_jv *v)
{
	if (!v)
		return;
	clear(v);
	free(v);
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned u = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		u <<= 4;
		if (c >= '0' && c <= '9')
			u |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			u |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			u |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = u;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (< end), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* At the opening quote. */
static int parse_string(struct parser *ps, char **ret, size_t *ret_len)
{
	const char *p = ps->p + 1;
	char *out;
	size_t o = 0, cap;

	/* The decoded form is never longer than the encoded one. */
	const char *q = p;
	while (q < ps->end && *q != '"') {
		if (*q == '\\' && q + 1 < ps->end)
			q++;
		q++;
	}
	if (q >= ps->end)
		return -EINVAL;
	cap = (size_t)(q - p);
	if (cap > ps->lim->max_string * 6 + 6)
		return -E2BIG;
	out = malloc(cap + 1);
	if (!out)
		return -ENOMEM;
	while (p < q) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)q);
			if (!n)
				goto bad;
			memcpy(out + o, p, n);
			o += n;
			p += n;
			continue;
		}
		p++;
		switch (*p) {
		case '"': out[o++] = '"'; p++; break;
		case '\\': out[o++] = '\\'; p++; break;
		case '/': out[o++] = '/'; p++; break;
		case 'b': out[o++] = '\b'; p++; break;
		case 'f': out[o++] = '\f'; p++; break;
		case 'n': out[o++] = '\n'; p++; break;
		case 'r': out[o++] = '\r'; p++; break;
		case 't': out[o++] = '\t'; p++; break;
		case 'u': {
			unsigned cp, lo;
			if (q - p < 5 || hex4(p + 1, &cp) < 0)
				goto bad;
			p += 5;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			if (cp == 0)
				goto bad;
			o += put_utf8(out + o, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	out[o] = '\0';
	if (o > ps->lim->max_string) {
		free(out);
		return -E2BIG;
	}
	ps->p = q + 1;
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

static int parse_number(struct parser *ps, struct mig_jv *v)
{
	const char *p = ps->p;
	bool neg = false, integer = true, overflow = false;
	uint64_t u = 0;

	if (p < ps->end && *p == '-')
		neg = true, p++;
	if (p >= ps->end || *p < '0' || *p > '9')
		return -EINVAL;
	if (*p == '0') {
		p++;
	} else {
		while (p < ps->end && *p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (u > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				u = u * 10 + d;
			p++;
		}
	}
	if (p < ps->end && *p == '.') {
		integer = false;
		p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	v->type = MIG_JV_NUMBER;
	v->is_uint = integer && !neg && !overflow;
	v->u = v->is_uint ? u : 0;
	ps->p = p;
	return 0;
}

static int parse_value(struct parser *ps, struct mig_jv *v, unsigned depth);

static int grow(struct mig_jv *v, size_t *cap, bool keys)
{
	if (v->n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 4;
	struct mig_jv *ni = realloc(v->items, nc * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	v->items = ni;
	if (keys) {
		char **nk = realloc(v->keys, nc * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		v->keys = nk;
	}
	*cap = nc;
	return 0;
}

static int parse_container(struct parser *ps, struct mig_jv *v, unsigned depth, bool object)
{
	size_t cap = 0;
	char close = object ? '}' : ']';
	int r;

	if (depth >= ps->lim->max_depth)
		return -E2BIG;
	v->type = object ? MIG_JV_OBJECT : MIG_JV_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;

		skip_ws(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return -EINVAL;
			if (++ps->values > ps->lim->max_values)
				return -E2BIG;
			r = parse_string(ps, &key, &klen);
			if (r < 0)
				return r;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return -EINVAL;
			}
			ps->p++;
		}
		r = grow(v, &cap, object);
		if (r < 0) {
			free(key);
			return r;
		}
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		if (object)
			v->keys[v->n] = key;
		v->n++;
		r = parse_value(ps, &v->items[v->n - 1], depth + 1);
		if (r < 0)
			return r;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return -EINVAL;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return 0;
		}
		return -EINVAL;
	}
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return -EINVAL;
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, struct mig_jv *v, unsigned depth)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return -EINVAL;
	if (++ps->values > ps->lim->max_values)
		return -E2BIG;
	switch (*ps->p) {
	case '{': return parse_container(ps, v, depth, true);
	case '[': return parse_container(ps, v, depth, false);
	case '"':
		v->type = MIG_JV_STRING;
		return parse_string(ps, &v->s, &v->slen);
	case 't': v->type = MIG_JV_BOOL; v->b = true; return literal(ps, "true");
	case 'f': v->type = MIG_JV_BOOL; return literal(ps, "false");
	case 'n': v->type = MIG_JV_NULL; return literal(ps, "null");
	default: return parse_number(ps, v);
	}
}

int mig_json_parse(const char *text, size_t len, const struct mig_jv_limits *lim,
		   struct mig_jv **ret)
{
	struct parser ps = { .p = text, .end = text + len, .lim = lim };
	struct mig_jv *v;
	int r;

	if (len > lim->max_len)
		return -E2BIG;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = parse_value(&ps, v, 0);
	if (r == 0) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			r = -EINVAL;
	}
	if (r < 0) {
		mig_jv_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

const struct mig_jv *mig_jv_get(const struct mig_jv *obj, const char *key)
{
	if (!obj || obj->type != MIG_JV_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->keys[i] && !strcmp(obj->keys[i], key))
			return &obj->items[i];
	return NULL;
}
