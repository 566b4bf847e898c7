/* net.h — the network of the rescue system: lo, then every Ethernet link
 * either by DHCP (BusyBox udhcpc with /etc/udhcpc.script, which stays
 * running to renew the lease during long transfers) or statically from the
 * kernel's ip= syntax (ipconf.h). Reports what it got on the console.
 *
 * Contract with /etc/udhcpc.script (initramfs/udhcpc.script): after it has
 * configured address, routes and DNS for $interface it creates
 * NET_RUN_DIR/$interface.bound; init waits for those files.
 */
#ifndef MIGRATOR_INIT_NET_H
#define MIGRATOR_INIT_NET_H

#include <stddef.h>

#define NET_RUN_DIR "/run/udhcpc"
#define NET_SCRIPT "/etc/udhcpc.script"
#define NET_LINKS_MAX 32
#define NET_CARRIER_WAIT_MS 5000
#define NET_DHCP_WAIT_MS 20000

/* Brings the network up as the ip= values (kernel syntax; none given means
 * DHCP everywhere) ask, waits for carrier and for leases within the limits
 * above, and logs the addresses, routes and DNS servers. Invalid ip= values
 * are reported and skipped. Returns the number of links that got an IPv4
 * address (DHCP keeps trying in the background on the others). */
int net_setup(char *const *ip, size_t n_ip);

/* Logs every IPv4 address, the default routes and the DNS servers. */
void net_report(void);

#endif
