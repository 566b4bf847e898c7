#!/bin/bash
# The main job: migrate a real Debian 12 server under QEMU, end to end.
#
#  1. build the demo server: debootstrap, GRUB for BIOS on an MBR disk
#     (qemu-tests/fixtures/mk-debian.sh; cached, only the first run pays);
#  2. boot two machines from the rescue ISO: the source with the server's disk
#     (AHCI, e1000), the target with an empty disk (virtio-blk, virtio-net),
#     linked by a private network; the target runs `migrator receive --then
#     patch,verify`, the source `migrator send --used-only` — unattended, from the
#     kernel command line and a config drive with the token and TLS key;
#  3. boot the copy alone on the target's hardware and wait for the server's
#     own "MIGRATED-BOOT-OK" line (hostname, root by UUID, DHCP address).
#
# Prints the TAP lines of the checks and a short summary.
. "$(dirname "$0")/migrate.sh"
t0=$(date +%s)
echo "demo: building the demo Debian server (first run: debootstrap, about 5 minutes; then cached)"
"$FIXTURE" bios >/dev/null || { echo "demo: cannot build the demo server" >&2; exit 1; }
mk_credentials || { echo "demo: openssl failed" >&2; exit 1; }
echo "demo: migrating it between two rescue VMs under QEMU (TCG, no KVM) and booting the copy"
case_migrate demo bios iso
log() { tr -d '\r' <"$LOGS/$1.log"; }
echo
echo "demo: summary"
echo "  source:  $(log demo-source | grep -m1 -o '/dev/sda: .* on the wire' || echo '(no summary: see the log)')"
echo "  target:  $(log demo-target | grep -m1 -o 'disk 0 ([^)]*) is complete on .*matches the source.s' || echo '(not complete)')"
echo "  verify:  $(log demo-target | grep -Em1 '^[0-9]+ passed, [0-9]+ warnings, [0-9]+ failed' || echo '(did not run)')"
log demo-target | grep -E '^(warn|fail) ' | sed 's/^/           /'
echo "  boot:    $(log demo-boot | grep -m1 '^MIGRATED-BOOT-OK ' || echo '(the copy did not boot)')"
echo "  logs:    $LOGS/demo-{source,target,boot}.log"
echo "demo: $TAP_N checks, $TAP_FAILED failed, $(( $(date +%s) - t0 )) s in all"
[ "$TAP_FAILED" -eq 0 ]
