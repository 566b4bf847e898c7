#!/bin/bash
# QEMU smoke test of the rescue kernel: boots it under TCG with a tiny static
# test init (testinit.c) for each disk controller, NIC and firmware the kernel
# must handle, and checks the devices appear and ACPI power-off works.
#
#   kernel-config/smoke-test.sh [-k KERNEL] [-w DIR] [-t SECONDS] [CASE ...]
#   kernel-config/smoke-test.sh --cpio FILE     only build the test initramfs
#   kernel-config/smoke-test.sh --list          list the cases
#
#   -k KERNEL   bzImage to boot (default: build/kernel/bzImage)
#   -w DIR      keep the work files and every serial log in DIR (default: a
#               temp dir, removed when all cases pass, kept otherwise)
#   -t SECONDS  hard timeout per boot (default 90; OVMF cases get twice that)
#
# Output is TAP; each case reports the time from QEMU start to the test init's
# marker line. Exit status 0 when every case passed, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kernel=build/kernel/bzImage
work=
tmo=90
# shellcheck disable=SC2034 # used in $cases, expanded by eval
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

# name | sysfs paths the init waits for (or another smoke.* option) |
#        QEMU arguments ($disk, $work, $ovmf_* expand when the case runs)
# shellcheck disable=SC2016
cases='
boot         |                                 |
virtio-blk   | block/vda                       | -drive file=$disk,if=virtio,format=raw
nvme         | block/nvme0n1                   | -drive file=$disk,if=none,id=d0,format=raw -device nvme,drive=d0,serial=smoke0
ahci         | block/sda                       | -device ahci,id=ahci0 -drive file=$disk,if=none,id=d0,format=raw -device ide-hd,drive=d0,bus=ahci0.0
virtio-scsi  | block/sda                       | -device virtio-scsi-pci,id=scsi0 -drive file=$disk,if=none,id=d0,format=raw -device scsi-hd,drive=d0,bus=scsi0.0
pvscsi       | block/sda                       | -device pvscsi,id=pv0 -drive file=$disk,if=none,id=d0,format=raw -device scsi-hd,drive=d0,bus=pv0.0
piix-cdrom   | block/sr0                       | -drive file=$disk,if=ide,media=cdrom,format=raw,readonly=on
usb-xhci     | block/sda                       | -device qemu-xhci,id=xhci -drive file=$disk,if=none,id=d0,format=raw -device usb-storage,drive=d0,bus=xhci.0 -device usb-kbd,bus=xhci.0
usb-uas      | block/sda                       | -device qemu-xhci,id=xhci -device usb-uas,id=uas,bus=xhci.0 -drive file=$disk,if=none,id=d0,format=raw -device scsi-hd,drive=d0,bus=uas.0
usb-ehci     | block/sda                       | -device usb-ehci,id=ehci -drive file=$disk,if=none,id=d0,format=raw -device usb-storage,drive=d0,bus=ehci.0
q35-smp      | block/nvme0n1,block/sr0         | -machine q35 -smp 2 -device pcie-root-port,id=rp1,chassis=1 -drive file=$disk,if=none,id=d0,format=raw -device nvme,drive=d0,serial=smoke0,bus=rp1 -drive file=$work/cd.img,if=none,id=c0,media=cdrom,format=raw,readonly=on -device ide-cd,drive=c0,bus=ide.0
reboot       | smoke.action=reboot             |
nics         | class/net/eth3                  | -netdev user,id=n0 -device virtio-net-pci,netdev=n0 -netdev user,id=n1 -device e1000,netdev=n1 -netdev user,id=n2 -device e1000e,netdev=n2 -netdev user,id=n3 -device vmxnet3,netdev=n3
ovmf         | block/vda,class/graphics/fb0    | -drive if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code -drive if=pflash,format=raw,unit=1,file=$work/ovmf-vars.fd -drive file=$disk,if=virtio,format=raw
'

# Extra lines each case's serial log must contain (grep -E, one per line).
must_show() {
	case $1 in
	nics) printf '%s\n' 'SMOKE net eth[0-9] virtio_net' 'SMOKE net eth[0-9] e1000$' \
		'SMOKE net eth[0-9] e1000e' 'SMOKE net eth[0-9] vmxnet3' ;;
	ovmf) printf '%s\n' 'SMOKE efi yes' 'SMOKE secureboot 0' 'SMOKE fb fb0 (EFI VGA|simple)' \
		'EFI stub: Loaded initrd' 'Console: switching to colour frame buffer device' \
		'input: AT Translated Set 2 keyboard' ;;
	boot) printf '%s\n' 'SMOKE efi no' 'Console: colour VGA\+' 'input: AT Translated Set 2 keyboard' ;;
	usb-xhci) printf '%s\n' 'input: QEMU QEMU USB Keyboard' ;;
	q35-smp) printf '%s\n' 'smp: Brought up 1 node, 2 CPUs' ;;
	reboot) printf '%s\n' 'reboot: Restarting system' ;;
	esac
}

# Builds the test initramfs: /init plus empty /dev /proc /sys, newc cpio,
# sorted, root-owned, fixed mtimes, zstd-compressed.
build_cpio() {
	local out=$1 root
	root=$(mktemp -d)
	mkdir "$root/dev" "$root/proc" "$root/sys"
	gcc -static -Os -Wall -Wextra -o "$root/init" "$here/testinit.c"
	strip "$root/init"
	find "$root" -exec touch -h -d @0 {} +
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | zstd -q -19 >"$out.tmp"
	mv -f "$out.tmp" "$out"
	rm -rf "$root"
}

usage() {
	sed -n '/^#   kernel-config/,/^# Output/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case ${1:-} in
--cpio) [ $# -eq 2 ] || usage; build_cpio "$2"; exit 0 ;;
--list) echo "$cases" | awk -F'|' 'NF > 1 { gsub(/ /, "", $1); print $1 }'; exit 0 ;;
esac
while getopts k:w:t:h opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	w) work=$OPTARG ;;
	t) tmo=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ -r "$kernel" ] || { echo "smoke-test: cannot read kernel $kernel (make kernel)" >&2; exit 2; }

keep=1
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-smoke.XXXXXX")
	keep=0
fi
mkdir -p "$work"
cpio=$work/init.cpio.zst
disk=$work/disk.img
build_cpio "$cpio"
rm -f "$disk" "$work/cd.img"
truncate -s 64M "$disk"
truncate -s 4M "$work/cd.img"
cp "$ovmf_vars" "$work/ovmf-vars.fd"

selected=("$@")
if [ ${#selected[@]} -eq 0 ]; then
	mapfile -t selected < <("$0" --list)
fi

# Boots one case; sets $marker (seconds from QEMU start to the marker line,
# empty if never seen), $total and $qrc. The serial log goes to $log.
boot() {
	local append=$1 limit=$2 t0 line seen=""
	shift 2
	t0=$EPOCHREALTIME
	: >"$log"
	set +e
	timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
		-nic none -kernel "$kernel" -initrd "$cpio" \
		-append "console=ttyS0 panic=-1 $append" "$@" </dev/null 2>&1 |
		while IFS= read -r line; do
			line=${line%$'\r'}
			printf '%s\n' "$line" >>"$log"
			if [ -z "$seen" ] && [[ $line == *KERNEL-SMOKE-INIT* ]]; then
				seen=1
				echo "$EPOCHREALTIME" >"$log.marker"
			fi
		done
	qrc=${PIPESTATUS[0]}
	set -e
	total=$(echo "$EPOCHREALTIME - $t0" | bc)
	marker=""
	if [ -s "$log.marker" ]; then
		marker=$(echo "$(cat "$log.marker") - $t0" | bc)
		rm -f "$log.marker"
	fi
}

echo "1..${#selected[@]}"
n=0 failed=0
for name in "${selected[@]}"; do
	n=$((n + 1))
	row=$(echo "$cases" | awk -F'|' -v c="$name" '{ k = $1; gsub(/ /, "", k) } k == c')
	if [ -z "$row" ]; then
		echo "not ok $n - $name: no such case"
		failed=$((failed + 1))
		continue
	fi
	expect=$(echo "$row" | cut -d'|' -f2 | tr -d ' ')
	args=$(echo "$row" | cut -d'|' -f3-)
	eval "set -- $args"
	limit=$tmo
	[ "$name" = ovmf ] && limit=$((tmo * 2))
	log=$work/$name.log
	case $expect in
	'' | smoke.*) ;;
	*) expect=smoke.expect=$expect ;;
	esac
	boot "$expect" "$limit" "$@"

	why=""
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		why="timed out after ${limit}s"
	elif [ "$qrc" != 0 ]; then
		why="qemu exited with status $qrc"
	elif grep -qE 'Kernel panic|BUG:|Oops' "$log"; then
		why="kernel panic/oops"
	elif ! grep -q 'SMOKE-RESULT ok' "$log"; then
		why="$(grep -m1 -E 'SMOKE expect .* missing' "$log" || echo "no SMOKE-RESULT ok line")"
	fi
	if [ -z "$why" ]; then
		while IFS= read -r re; do
			grep -qE "$re" "$log" || { why="serial log lacks /$re/"; break; }
		done < <(must_show "$name")
	fi
	if [ -z "$why" ]; then
		printf 'ok %d - %s (marker %.2fs, qemu exit %.2fs)\n' "$n" "$name" "$marker" "$total"
		[ "$keep" = 1 ] || rm -f "$log"
	else
		echo "not ok $n - $name: $why; serial log: $log"
		failed=$((failed + 1))
		keep=1
	fi
done
echo "# $((n - failed)) passed, $failed failed"
if [ "$keep" = 0 ]; then
	rm -rf "$work"
else
	echo "# work dir kept: $work"
fi
[ "$failed" = 0 ]
