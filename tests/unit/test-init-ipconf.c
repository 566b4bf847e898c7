/* test-init-ipconf.c — the kernel's ip= syntax (init/ipconf.c). */
#include <arpa/inet.h>
#include <errno.h>

#include "tap.h"
#include "ipconf.h"

static const char *addr(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int i;
	i = (i + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

static int parse(const char *s, struct ipconf *c)
{
	const char *why;
	int r = ipconf_parse(s, c, &why);
	if (r < 0 && !why)
		return -999;    /* a failure must say why */
	return r;
}

TEST(single_words)
{
	struct ipconf c;

	CHECK_INT(parse("off", &c), 0);
	CHECK_INT(c.method, IPCONF_OFF);
	CHECK_INT(parse("none", &c), 0);
	CHECK_INT(c.method, IPCONF_OFF);
	for (const char **m = (const char *[]){ "dhcp", "on", "any", "bootp", "both", "rarp", NULL };
	     *m; m++) {
		CHECK_INT(parse(*m, &c), 0);
		CHECK_INT(c.method, IPCONF_DHCP);
		CHECK_STR(c.device, "");
	}
	CHECK_INT(parse("dhcp6", &c), -EINVAL);
	CHECK_INT(parse("", &c), -EINVAL);
}

TEST(dracut_iface_method)
{
	struct ipconf c;

	CHECK_INT(parse("eth1:dhcp", &c), 0);
	CHECK_INT(c.method, IPCONF_DHCP);
	CHECK_STR(c.device, "eth1");
	CHECK_INT(parse("eth1:off", &c), 0);
	CHECK_INT(c.method, IPCONF_OFF);
	CHECK_INT(parse("eth1:static", &c), -EINVAL);
	CHECK_INT(parse("a/b:dhcp", &c), -EINVAL);
	CHECK_INT(parse("averyveryverylongname:dhcp", &c), -EINVAL);
}

TEST(full_static)
{
	struct ipconf c;

	CHECK_INT(parse("192.168.1.10:192.168.1.1:192.168.1.254:255.255.255.0:rescue:eth0:off:"
			"192.168.1.53:9.9.9.9", &c), 0);
	CHECK_INT(c.method, IPCONF_STATIC);
	CHECK_STR(addr(c.addr), "192.168.1.10");
	CHECK_INT(c.prefix, 24);
	CHECK_STR(addr(c.gateway), "192.168.1.254");
	CHECK_STR(c.hostname, "rescue");
	CHECK_STR(c.device, "eth0");
	CHECK_STR(addr(c.dns[0]), "192.168.1.53");
	CHECK_STR(addr(c.dns[1]), "9.9.9.9");
}

TEST(static_short_forms)
{
	struct ipconf c;

	/* No autoconf field with a client address: static. */
	CHECK_INT(parse("10.1.2.3::10.1.2.1:255.255.0.0", &c), 0);
	CHECK_INT(c.method, IPCONF_STATIC);
	CHECK_INT(c.prefix, 16);
	CHECK_STR(c.device, "");
	/* Prefix length instead of a netmask (dracut). */
	CHECK_INT(parse("10.1.2.3::10.1.2.1:22::ens3:none", &c), 0);
	CHECK_INT(c.prefix, 22);
	CHECK_STR(c.device, "ens3");
	/* No netmask: the classful default, like the kernel. */
	CHECK_INT(parse("10.1.2.3:::::eth0:off", &c), 0);
	CHECK_INT(c.prefix, 8);
	CHECK_INT(parse("172.16.0.5::::", &c), 0);
	CHECK_INT(c.prefix, 16);
	CHECK_INT(parse("192.0.2.7:::", &c), 0);
	CHECK_INT(c.prefix, 24);
	CHECK_INT(c.gateway.s_addr, 0);
}

TEST(dhcp_with_fields)
{
	struct ipconf c;

	/* No client address: autoconfiguration, on the named device. */
	CHECK_INT(parse(":::::eth2:dhcp", &c), 0);
	CHECK_INT(c.method, IPCONF_DHCP);
	CHECK_STR(c.device, "eth2");
	CHECK_INT(parse(":::::eth2:", &c), 0);
	CHECK_INT(c.method, IPCONF_DHCP);
	/* A client address with autoconf=dhcp: DHCP wins, like the kernel. */
	CHECK_INT(parse("10.0.0.2::::::dhcp", &c), 0);
	CHECK_INT(c.method, IPCONF_DHCP);
}

TEST(rejects)
{
	struct ipconf c;

	CHECK_INT(parse("10.0.0.300::::::off", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3::10.0.0.1:255.0.255.0:::off", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3::10.0.0.1:33:::off", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3::gw::::off", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3:::::eth0:static", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3::::bad_host!::off", &c), -EINVAL);
	CHECK_INT(parse("10.0.0.3:::::::1.2.3:", &c), -EINVAL);
	CHECK_INT(parse("a:b:c:d:e:f:g:h:i:j:k", &c), -EINVAL);
	CHECK_INT(parse("[2001:db8::2]::[2001:db8::1]:64::eth0:none", &c), -EINVAL);
}

TEST(netmask)
{
	CHECK_INT(ipconf_parse_netmask("255.255.255.255"), 32);
	CHECK_INT(ipconf_parse_netmask("0.0.0.0"), 0);
	CHECK_INT(ipconf_parse_netmask("255.255.254.0"), 23);
	CHECK_INT(ipconf_parse_netmask("255.255.255.1"), -EINVAL);
	CHECK_INT(ipconf_parse_netmask("32"), 32);
	CHECK_INT(ipconf_parse_netmask("0"), 0);
	CHECK_INT(ipconf_parse_netmask("33"), -EINVAL);
	CHECK_INT(ipconf_parse_netmask("-1"), -EINVAL);
	CHECK_INT(ipconf_parse_netmask(""), -EINVAL);
}

int main(void)
{
	RUN(single_words);
	RUN(dracut_iface_method);
	RUN(full_static);
	RUN(static_short_forms);
	RUN(dhcp_with_fields);
	RUN(rejects);
	RUN(netmask);
	return tap_done();
}
