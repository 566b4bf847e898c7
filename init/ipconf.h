/* ipconf.h — the kernel's ip= syntax (Documentation/admin-guide/nfs/
 * nfsroot.rst), plus the dracut shorthand "ip=IFACE:dhcp" and a prefix length
 * in place of the netmask. IPv4 only, like the kernel's own autoconfig.
 *
 *   ip=off | none                   no network (lo only)
 *   ip=dhcp | on | any | bootp | both | rarp     DHCP on every link with carrier
 *   ip=IFACE:dhcp                   DHCP on IFACE only
 *   ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>[:<ntp0>]
 *
 * Pure: parses text, touches no interface.
 */
#ifndef MIGRATOR_INIT_IPCONF_H
#define MIGRATOR_INIT_IPCONF_H

#include <netinet/in.h>
#include <stdbool.h>

#define IPCONF_IFNAME_MAX 16    /* IFNAMSIZ */
#define IPCONF_HOST_MAX   64

enum ipconf_method {
	IPCONF_OFF,             /* nothing on this device (or at all) */
	IPCONF_DHCP,
	IPCONF_STATIC,
};

struct ipconf {
	enum ipconf_method method;
	char device[IPCONF_IFNAME_MAX]; /* "" = any / every link */
	struct in_addr addr;            /* STATIC only */
	unsigned prefix;                /* 0..32, STATIC only */
	struct in_addr gateway;         /* 0.0.0.0 = none */
	struct in_addr dns[2];          /* 0.0.0.0 = none */
	char hostname[IPCONF_HOST_MAX]; /* "" = none */
};

/* Parses one ip= value into *ret. Returns 0, or -EINVAL with a short reason in
 * *ret_why (a static string) for anything malformed: bad address, netmask that
 * is not contiguous, unknown autoconf method, IPv6, too many fields, a device
 * or host name too long. */
int ipconf_parse(const char *s, struct ipconf *ret, const char **ret_why);

/* Prefix length of a dotted netmask ("255.255.255.0" → 24) or a plain number
 * ("24"). Returns 0..32, or -EINVAL (non-contiguous mask, out of range). */
int ipconf_parse_netmask(const char *s);

/* The historical classful default the kernel uses when no netmask is given. */
unsigned ipconf_default_prefix(struct in_addr a);

#endif
