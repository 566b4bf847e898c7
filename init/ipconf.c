/* ipconf.c — parse the kernel's ip= parameter. */
#include "ipconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_FIELDS_MAX 10

static int parse_method(const char *s, enum ipconf_method *ret)
{
	static const struct { const char *name; enum ipconf_method m; } names[] = {
		{ "off", IPCONF_OFF }, { "none", IPCONF_OFF },
		{ "on", IPCONF_DHCP }, { "any", IPCONF_DHCP }, { "dhcp", IPCONF_DHCP },
		{ "bootp", IPCONF_DHCP }, { "rarp", IPCONF_DHCP }, { "both", IPCONF_DHCP },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*ret = names[i].m;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_addr(const char *s, struct in_addr *ret)
{
	/* inet_pton accepts only the strict dotted quad; that is what we want. */
	return inet_pton(AF_INET, s, ret) == 1 ? 0 : -EINVAL;
}

int ipconf_parse_netmask(const char *s)
{
	struct in_addr a;
	uint32_t m;
	int n = 0;

	if (*s && strlen(s) <= 2 && isdigit((unsigned char)s[0]) &&
	    (!s[1] || isdigit((unsigned char)s[1]))) {
		n = atoi(s);
		return n <= 32 ? n : -EINVAL;
	}
	if (parse_addr(s, &a) < 0)
		return -EINVAL;
	m = ntohl(a.s_addr);
	while (m & 0x80000000u) {
		n++;
		m <<= 1;
	}
	return m ? -EINVAL : n;
}

unsigned ipconf_default_prefix(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	if ((h >> 31) == 0)
		return 8;
	if ((h >> 30) == 2)
		return 16;
	return 24;
}

static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IPCONF_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return false;
	return true;
}

static bool hostname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IPCONF_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

#define FAIL(why) do { *ret_why = (why); return -EINVAL; } while (0)

int ipconf_parse(const char *s, struct ipconf *ret, const char **ret_why)
{
	char buf[256], *f[IP_FIELDS_MAX];
	struct ipconf c = { 0 };
	size_t nf = 0;
	char *p;
	int r;

	*ret_why = NULL;
	if (strlen(s) >= sizeof(buf))
		FAIL("too long");
	if (strchr(s, '['))
		FAIL("IPv6 is not supported (use DHCPv4 or a static IPv4 address)");
	snprintf(buf, sizeof(buf), "%s", s);

	/* Single-word forms. */
	if (!strchr(buf, ':')) {
		if (parse_method(buf, &c.method) < 0)
			FAIL("unknown method (off, none, dhcp, on, any)");
		*ret = c;
		return 0;
	}
	for (p = buf; nf < IP_FIELDS_MAX;) {
		f[nf++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (p)
		FAIL("too many ':' fields");

	/* dracut: IFACE:METHOD */
	if (nf == 2) {
		if (!ifname_valid(f[0]))
			FAIL("invalid interface name");
		if (parse_method(f[1], &c.method) < 0)
			FAIL("unknown method (off, none, dhcp, on, any)");
		snprintf(c.device, sizeof(c.device), "%s", f[0]);
		*ret = c;
		return 0;
	}
	for (size_t i = nf; i < IP_FIELDS_MAX; i++)
		f[i] = "";

	/* <client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0> */
	if (*f[5]) {
		if (!ifname_valid(f[5]))
			FAIL("invalid device name");
		snprintf(c.device, sizeof(c.device), "%s", f[5]);
	}
	if (*f[4]) {
		if (!hostname_valid(f[4]))
			FAIL("invalid hostname");
		snprintf(c.hostname, sizeof(c.hostname), "%s", f[4]);
	}
	if (*f[1] && parse_addr(f[1], &(struct in_addr){ 0 }) < 0)
		FAIL("invalid server address");
	if (*f[2] && parse_addr(f[2], &c.gateway) < 0)
		FAIL("invalid gateway address");
	if (*f[7] && parse_addr(f[7], &c.dns[0]) < 0)
		FAIL("invalid dns0 address");
	if (*f[8] && parse_addr(f[8], &c.dns[1]) < 0)
		FAIL("invalid dns1 address");
	if (*f[9] && parse_addr(f[9], &(struct in_addr){ 0 }) < 0)
		FAIL("invalid ntp0 address");

	if (*f[6]) {
		if (parse_method(f[6], &c.method) < 0)
			FAIL("unknown autoconf method (off, none, dhcp, on, any)");
	} else {
		/* The kernel autoconfigures when no client address is given. */
		c.method = *f[0] ? IPCONF_OFF : IPCONF_DHCP;
	}
	if (c.method == IPCONF_OFF && *f[0]) {
		if (parse_addr(f[0], &c.addr) < 0)
			FAIL("invalid client address");
		if (*f[3]) {
			r = ipconf_parse_netmask(f[3]);
			if (r < 0)
				FAIL("invalid netmask");
			c.prefix = (unsigned)r;
		} else {
			c.prefix = ipconf_default_prefix(c.addr);
		}
		c.method = IPCONF_STATIC;
	} else if (*f[3] && ipconf_parse_netmask(f[3]) < 0) {
		FAIL("invalid netmask");
	}
	*ret = c;
	return 0;
}
