/* net.c — lo, carrier, DHCP through udhcpc, static ip=, and the report. */
#include "net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "ipconf.h"
#include "loop.h"
#include "util.h"

#define CARRIER_GRACE_MS 2000   /* after the first link is up, for the others */

struct link {
	char name[IFNAMSIZ];
	bool carrier;
	enum ipconf_method method;
	const struct ipconf *conf;      /* STATIC: its settings */
	pid_t dhcp_pid;
	bool dhcp_running;
};

/* IFNAMSIZ-bounded copy (names were checked against IFNAMSIZ when listed). */
static void set_ifname(char *dst, const char *src)
{
	size_t n = strnlen(src, IFNAMSIZ - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct link links[NET_LINKS_MAX];
static size_t n_links;

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct link *)a)->name, ((const struct link *)b)->name);
}

/* Ethernet links (ARPHRD_ETHER) from /sys/class/net, sorted by name. */
static void list_links(void)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *de;

	n_links = 0;
	if (!d)
		return;
	while ((de = readdir(d)) && n_links < NET_LINKS_MAX) {
		char path[PATH_MAX], type[16];
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/type", de->d_name);
		if (read_line(path, type, sizeof(type)) <= 0 || strcmp(type, "1") != 0)
			continue;
		memset(&links[n_links], 0, sizeof(links[n_links]));
		set_ifname(links[n_links].name, de->d_name);
		n_links++;
	}
	closedir(d);
	qsort(links, n_links, sizeof(links[0]), link_cmp);
}

static struct link *find_link(const char *name)
{
	for (size_t i = 0; i < n_links; i++)
		if (strcmp(links[i].name, name) == 0)
			return &links[i];
	return NULL;
}

static int if_up(int sock, const char *name)
{
	struct ifreq ifr = { 0 };

	set_ifname(ifr.ifr_name, name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(sock, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static bool has_carrier(const char *name)
{
	char path[PATH_MAX], v[8];

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	return read_line(path, v, sizeof(v)) > 0 && strcmp(v, "1") == 0;
}

static void set_sin(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr = a;
}

static int apply_static(int sock, const struct link *l)
{
	const struct ipconf *c = l->conf;
	struct in_addr mask = { htonl(c->prefix ? 0xffffffffu << (32 - c->prefix) : 0) };
	struct in_addr bcast = { c->addr.s_addr | ~mask.s_addr };
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	struct ifreq ifr = { 0 };

	set_ifname(ifr.ifr_name, l->name);
	set_sin(&ifr.ifr_addr, c->addr);
	if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
		return -errno;
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
		return -errno;
	if (c->prefix < 31) {
		set_sin(&ifr.ifr_broadaddr, bcast);
		ioctl(sock, SIOCSIFBRDADDR, &ifr);
	}
	inet_ntop(AF_INET, &c->addr, a, sizeof(a));
	log_info("net: %s: static %s/%u", l->name, a, c->prefix);
	if (c->gateway.s_addr) {
		struct rtentry rt = { 0 };
		char dev[IFNAMSIZ];

		set_ifname(dev, l->name);
		set_sin(&rt.rt_dst, (struct in_addr){ 0 });
		set_sin(&rt.rt_genmask, (struct in_addr){ 0 });
		set_sin(&rt.rt_gateway, c->gateway);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = dev;
		inet_ntop(AF_INET, &c->gateway, g, sizeof(g));
		if (ioctl(sock, SIOCADDRT, &rt) < 0 && errno != EEXIST)
			log_warn("net: %s: cannot add default route via %s: %s", l->name, g,
				 strerror(errno));
	}
	if (c->dns[0].s_addr || c->dns[1].s_addr) {
		char buf[256], d[INET_ADDRSTRLEN];
		size_t w = 0;
		for (int i = 0; i < 2; i++) {
			if (!c->dns[i].s_addr)
				continue;
			inet_ntop(AF_INET, &c->dns[i], d, sizeof(d));
			w += (size_t)snprintf(buf + w, sizeof(buf) - w, "nameserver %s\n", d);
		}
		if (write_file_atomic("/etc/resolv.conf", buf, w, 0644) < 0)
			log_warn("net: cannot write /etc/resolv.conf: %s", strerror(errno));
	}
	if (c->hostname[0] && sethostname(c->hostname, strlen(c->hostname)) < 0)
		log_warn("net: cannot set hostname %s: %s", c->hostname, strerror(errno));
	return 0;
}

static void dhcp_exited(pid_t pid, int status, void *data)
{
	struct link *l = data;

	l->dhcp_running = false;
	log_warn("net: %s: udhcpc exited (status %d); no DHCP renewals on this link", l->name,
		 status);
}

static void start_dhcp(struct link *l)
{
	char *argv[] = {
		"/sbin/udhcpc", "-f", "-i", l->name, "-s", NET_SCRIPT,
		"-t", "4", "-T", "2", "-A", "5", "-O", "staticroutes", "-O", "mtu", NULL,
	};
	struct spawn sp = { .argv = argv };
	int r;

	r = loop_spawn(&sp, dhcp_exited, l, &l->dhcp_pid);
	if (r < 0) {
		log_warn("net: %s: cannot start udhcpc: %s", l->name, strerror(-r));
		return;
	}
	l->dhcp_running = true;
}

static bool bound(const struct link *l)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), NET_RUN_DIR "/%s.bound", l->name);
	return stat(path, &st) == 0;
}

static bool all_bound(void *data)
{
	for (size_t i = 0; i < n_links; i++)
		if (links[i].dhcp_running && !bound(&links[i]))
			return false;
	return true;
}

/* Decides what every link gets. Returns false when networking is off. */
static bool plan(const struct ipconf *confs, size_t n)
{
	bool any_generic = n == 0;      /* no ip= at all: DHCP everywhere */
	enum ipconf_method generic = IPCONF_DHCP;
	const struct ipconf *generic_static = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct ipconf *c = &confs[i];
		if (c->device[0]) {
			struct link *l = find_link(c->device);
			if (!l) {
				log_warn("net: ip= names %s, which does not exist", c->device);
				continue;
			}
			l->method = c->method;
			l->conf = c;
		} else {
			any_generic = true;
			generic = c->method;
			generic_static = c->method == IPCONF_STATIC ? c : NULL;
		}
	}
	if (n > 0 && any_generic && generic == IPCONF_OFF) {
		bool named = false;
		for (size_t i = 0; i < n; i++)
			named |= confs[i].device[0] && confs[i].method != IPCONF_OFF;
		if (!named)
			return false;
	}
	for (size_t i = 0; i < n_links; i++) {
		struct link *l = &links[i];
		if (l->conf || !any_generic)
			continue;
		if (generic == IPCONF_STATIC) {
			/* The kernel's rule: the first link that is up. */
			if (generic_static && l->carrier) {
				l->method = IPCONF_STATIC;
				l->conf = generic_static;
				generic_static = NULL;
			}
			continue;
		}
		l->method = generic == IPCONF_DHCP && l->carrier ? IPCONF_DHCP : IPCONF_OFF;
	}
	if (generic_static && n_links) {
		/* No link with carrier: use the first one anyway. */
		for (size_t i = 0; i < n_links; i++) {
			if (!links[i].conf) {
				links[i].method = IPCONF_STATIC;
				links[i].conf = generic_static;
				break;
			}
		}
	}
	return true;
}

static bool carriers_settled(void *data)
{
	static uint64_t first_up;
	bool all = true, any = false;

	for (size_t i = 0; i < n_links; i++) {
		if (!links[i].carrier)
			links[i].carrier = has_carrier(links[i].name);
		all &= links[i].carrier;
		any |= links[i].carrier;
	}
	if (all)
		return true;
	if (any && !first_up)
		first_up = now_ms();
	return any && now_ms() - first_up >= CARRIER_GRACE_MS;
}

int net_setup(char *const *ip, size_t n_ip)
{
	struct ipconf confs[16];
	size_t n_conf = 0;
	int sock, got = 0;
	size_t n_dhcp = 0;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		log_warn("net: no IPv4 socket: %s", strerror(errno));
		return 0;
	}
	if (if_up(sock, "lo") < 0)
		log_warn("net: cannot bring lo up: %s", strerror(errno));

	for (size_t i = 0; i < n_ip && n_conf < sizeof(confs) / sizeof(confs[0]); i++) {
		const char *why;
		if (ipconf_parse(ip[i], &confs[n_conf], &why) < 0) {
			log_warn("net: ip=%s ignored: %s", ip[i], why);
			continue;
		}
		n_conf++;
	}
	/* Every given ip= was invalid: better DHCP than nothing. */

	list_links();
	if (n_links == 0) {
		log_info("net: no Ethernet interface found");
		close(sock);
		return 0;
	}
	if (n_conf == 1 && confs[0].method == IPCONF_OFF && !confs[0].device[0]) {
		log_info("net: off (ip=%s)", ip[0]);
		close(sock);
		return 0;
	}
	for (size_t i = 0; i < n_links; i++)
		if (if_up(sock, links[i].name) < 0)
			log_warn("net: cannot bring %s up: %s", links[i].name, strerror(errno));
	loop_wait_until(carriers_settled, NULL, now_ms() + NET_CARRIER_WAIT_MS);

	if (!plan(confs, n_conf)) {
		log_info("net: off (ip=)");
		close(sock);
		return 0;
	}
	mkdir_p(NET_RUN_DIR, 0755);
	for (size_t i = 0; i < n_links; i++) {
		struct link *l = &links[i];
		switch (l->method) {
		case IPCONF_STATIC:
			if (apply_static(sock, l) < 0)
				log_warn("net: %s: cannot set the static address: %s", l->name,
					 strerror(errno));
			else
				got++;
			break;
		case IPCONF_DHCP:
			start_dhcp(l);
			n_dhcp += l->dhcp_running;
			break;
		case IPCONF_OFF:
			if (!l->carrier)
				log_info("net: %s: no carrier", l->name);
			break;
		}
	}
	close(sock);
	if (n_dhcp) {
		if (loop_wait_until(all_bound, NULL, now_ms() + NET_DHCP_WAIT_MS) == -ETIMEDOUT)
			log_warn("net: no DHCP lease yet on some links after %d s; "
				 "udhcpc keeps trying in the background", NET_DHCP_WAIT_MS / 1000);
		for (size_t i = 0; i < n_links; i++)
			got += links[i].dhcp_running && bound(&links[i]);
	}
	net_report();
	return got;
}

static void report_routes(void)
{
	char *text = NULL;

	if (read_file("/proc/net/route", 1 << 20, &text, NULL) < 0)
		return;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char dev[IFNAMSIZ + 1];
		unsigned dst, gw, flags, mask;
		if (sscanf(line, "%16s %x %x %x %*d %*d %*d %x", dev, &dst, &gw, &flags, &mask) != 5)
			continue;
		if (dst == 0 && mask == 0 && (flags & RTF_GATEWAY)) {
			char g[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &(struct in_addr){ gw }, g, sizeof(g));
			log_info("net: default route via %s dev %s", g, dev);
		}
	}
	free(text);
}

static void report_dns(void)
{
	char *text = NULL, line[512];
	size_t w = 0;

	if (read_file("/etc/resolv.conf", 65536, &text, NULL) < 0)
		return;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "nameserver", 10) == 0 && w < sizeof(line) - 64) {
			char *v = l + 10;
			while (*v == ' ' || *v == '\t')
				v++;
			w += (size_t)snprintf(line + w, sizeof(line) - w, "%s%.48s", w ? " " : "", v);
		}
	}
	if (w)
		log_info("net: DNS %s", line);
	free(text);
}

void net_report(void)
{
	struct ifaddrs *ifa = NULL;
	bool any = false;

	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
			char a[INET_ADDRSTRLEN], mac[32] = "", drv[PATH_MAX] = "", path[PATH_MAX];
			struct in_addr m;
			unsigned prefix = 0;
			ssize_t k;

			if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET ||
			    strcmp(p->ifa_name, "lo") == 0)
				continue;
			inet_ntop(AF_INET, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, a, sizeof(a));
			if (p->ifa_netmask) {
				m = ((struct sockaddr_in *)p->ifa_netmask)->sin_addr;
				prefix = (unsigned)__builtin_popcount(m.s_addr);
			}
			snprintf(path, sizeof(path), "/sys/class/net/%s/address", p->ifa_name);
			read_line(path, mac, sizeof(mac));
			snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", p->ifa_name);
			k = readlink(path, drv, sizeof(drv) - 1);
			drv[k > 0 ? k : 0] = '\0';
			log_info("net: %s %s/%u (%s%s%s)", p->ifa_name, a, prefix, mac,
				 drv[0] ? ", " : "", drv[0] ? strrchr(drv, '/') ? strrchr(drv, '/') + 1 : drv : "");
			any = true;
		}
		freeifaddrs(ifa);
	}
	if (!any)
		log_info("net: no IPv4 address");
	report_routes();
	report_dns();
}
