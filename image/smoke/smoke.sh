#!/bin/bash
# smoke.sh: boot each rescue medium under QEMU (TCG) and wait for the marker.
#
#   image/smoke/smoke.sh [-t SECONDS] [-l LOGDIR] [-k] MEDIA_DIR [CASE...]
#
# MEDIA_DIR holds what `make media` writes (migrator.iso, migrator-rescue.qcow2,
# migrator-sb.iso, migrator-rescue-sb.qcow2, pxe/). Cases whose medium is
# missing are skipped. Prints TAP; per case the seconds from QEMU start to the
# marker, and to GRUB's first output and the kernel's first line (polled
# every 0.2 s). The OEM string each boot gets (below) makes GRUB skip its
# 3 s menu timeout. A failed case keeps its serial log in LOGDIR (-k keeps all logs).
#
#   -t SECONDS   hard timeout per boot (default 180; TCG is slow)
#   -l LOGDIR    where serial logs go (default MEDIA_DIR/smoke)
#   -k           keep the logs of passing cases too
#
# Environment: MARKER (default MIGRATOR-READY), QEMU (qemu-system-x86_64),
# OVMF_DIR (/usr/share/OVMF), QEMU_MEM (1024).
#
# Every boot gets the OEM string migrator.cmdline=smoke=CASE (see
# image/grub/grub.cfg) and the case checks that it reached the kernel command
# line (the kernel's "Command line:" message).
# Secure Boot cases also need the kernel's "Secure boot enabled", and
# sb-rejects-unsigned needs the firmware to refuse the custom ISO's GRUB.
set -u

timeout=180 logdir='' keep=0
while getopts t:l:k opt; do
	case $opt in
	t) timeout=$OPTARG ;;
	l) logdir=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,25s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,25s/^# \{0,1\}//p' "$0" >&2; exit 2; }
media=$1
shift
logdir=${logdir:-$media/smoke}
mkdir -p "$logdir"

MARKER=${MARKER:-MIGRATOR-READY}
QEMU=${QEMU:-qemu-system-x86_64}
OVMF_DIR=${OVMF_DIR:-/usr/share/OVMF}
QEMU_MEM=${QEMU_MEM:-1024}

ALL_CASES="iso-bios-cd iso-bios-usb iso-uefi-cd iso-uefi-usb disk-bios disk-uefi pxe-direct pxe-ipxe
sb-iso-uefi-usb sb-iso-uefi-cd sb-disk-uefi sb-iso-bios-cd sb-disk-bios sb-rejects-unsigned"
cases=${*:-$ALL_CASES}

iso=$media/migrator.iso
disk=$media/migrator-rescue.qcow2
sb_iso=$media/migrator-sb.iso
sb_disk=$media/migrator-rescue-sb.qcow2
pxe=$media/pxe

# Firmware: SeaBIOS (QEMU's default), OVMF, or OVMF with Secure Boot on and
# Microsoft's keys enrolled. Each UEFI boot starts from a fresh copy of the
# variable store.
fw_args() {
	local vars=$work/$1.vars
	case $2 in
	bios) echo "-machine pc" ;;
	uefi)
		cp "$OVMF_DIR/OVMF_VARS_4M.fd" "$vars"
		echo "-machine q35 -drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_DIR/OVMF_CODE_4M.fd" \
			"-drive if=pflash,format=raw,unit=1,file=$vars" ;;
	sb)
		cp "$OVMF_DIR/OVMF_VARS_4M.ms.fd" "$vars"
		echo "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on" \
			"-drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_DIR/OVMF_CODE_4M.secboot.fd" \
			"-drive if=pflash,format=raw,unit=1,file=$vars" ;;
	esac
}

# case_args CASE: prints "FIRMWARE MEDIUM QEMU-ARGS..." or nothing when the
# medium is missing.
case_args() {
	local f
	case $1 in
	iso-bios-cd)     f=$iso;     echo "bios $f -cdrom $f" ;;
	iso-bios-usb)    f=$iso;     echo "bios $f -drive if=none,id=stick,format=raw,readonly=on,file=$f -device qemu-xhci -device usb-storage,drive=stick" ;;
	iso-uefi-cd)     f=$iso;     echo "uefi $f -cdrom $f" ;;
	iso-uefi-usb)    f=$iso;     echo "uefi $f -drive if=none,id=stick,format=raw,readonly=on,file=$f -device qemu-xhci -device usb-storage,drive=stick" ;;
	disk-bios)       f=$disk;    echo "bios $f -drive if=virtio,format=qcow2,snapshot=on,file=$f" ;;
	disk-uefi)       f=$disk;    echo "uefi $f -drive if=virtio,format=qcow2,snapshot=on,file=$f" ;;
	sb-iso-uefi-usb) f=$sb_iso;  echo "sb $f -drive if=none,id=stick,format=raw,readonly=on,file=$f -device qemu-xhci -device usb-storage,drive=stick" ;;
	sb-iso-uefi-cd)  f=$sb_iso;  echo "sb $f -cdrom $f" ;;
	sb-disk-uefi)    f=$sb_disk; echo "sb $f -drive if=virtio,format=qcow2,snapshot=on,file=$f" ;;
	sb-iso-bios-cd)  f=$sb_iso;  echo "bios $f -cdrom $f" ;;
	sb-disk-bios)    f=$sb_disk; echo "bios $f -drive if=virtio,format=qcow2,snapshot=on,file=$f" ;;
	# The custom ISO's GRUB is unsigned: Secure Boot firmware must refuse it.
	sb-rejects-unsigned) f=$iso; echo "sb $f -drive if=none,id=stick,format=raw,readonly=on,file=$f -device qemu-xhci -device usb-storage,drive=stick" ;;
	# PXE-style: QEMU loads kernel and initramfs itself (what iPXE does).
	pxe-direct)      f=$pxe/vmlinuz; echo "bios $f -kernel $f -initrd $pxe/initramfs.cpio.zst" ;;
	# Real network boot: QEMU's iPXE ROM gets boot.ipxe from the built-in
	# TFTP server and runs it. No OEM string here: boot.ipxe does not read it.
	pxe-ipxe)        f=$pxe/boot.ipxe; echo "bios $f -boot n -nic user,model=e1000,tftp=$pxe,bootfile=boot.ipxe" ;;
	*) echo "smoke.sh: unknown case $1" >&2; return 1 ;;
	esac
}

work=$(mktemp -d)
qpid=
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0 failed=0
echo "1..$(echo "$cases" | wc -w)"
for c in $cases; do
	n=$((n + 1))
	spec=$(case_args "$c") || { echo "not ok $n - $c: unknown case"; failed=$((failed + 1)); continue; }
	read -r fw medium args <<<"$spec"
	if [ ! -e "$medium" ]; then
		echo "ok $n - $c # SKIP no $medium"
		continue
	fi
	log=$logdir/$c.log
	: >"$log"
	# One NIC only where the case needs it: UEFI would try PXE first.
	extra=(-nic none -smbios "type=11,value=migrator.cmdline=smoke=$c")
	token=smoke=$c
	want=$MARKER
	case $c in
	sb-rejects-unsigned) want='BdsDxe: failed to load .*Access Denied' token='' ;;
	pxe-direct) extra=(-nic none -append "console=ttyS0,115200 migrator.mode=shell $token") ;;
	pxe-ipxe) extra=() token='' ;;
	esac
	# shellcheck disable=SC2046,SC2086 # word lists built above
	$QEMU -accel tcg -m "$QEMU_MEM" -nographic -no-reboot "${extra[@]}" \
		$(fw_args "$c" "$fw") $args </dev/null >"$log" 2>&1 &
	qpid=$!
	start=$(date +%s%3N)
	result=timeout t_grub='' t_linux=''
	while :; do
		# Where the time goes: firmware until GRUB's first words, then
		# GRUB until the kernel's first line.
		[ -n "$t_grub" ] || ! grep -aqE 'Welcome to GRUB|GNU GRUB|Loading migrator' "$log" ||
			t_grub=$(( $(date +%s%3N) - start ))
		[ -n "$t_linux" ] || ! grep -aq 'Linux version' "$log" || t_linux=$(( $(date +%s%3N) - start ))
		if grep -aqE "$want" "$log"; then
			result=marker
			break
		fi
		if ! kill -0 "$qpid" 2>/dev/null; then
			grep -aqE "$want" "$log" && result=marker || result=exited
			break
		fi
		if [ $(( $(date +%s%3N) - start )) -gt $((timeout * 1000)) ]; then
			break
		fi
		sleep 0.2
	done
	ms=$(( $(date +%s%3N) - start ))
	secs=$((ms / 1000)).$((ms % 1000 / 100))
	# Let a powering-off guest finish its line, then stop what is left.
	sleep 0.5
	kill "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=

	why=
	case $result in
	timeout) why="no '$want' within ${timeout}s" ;;
	exited) why="QEMU exited without '$want'" ;;
	esac
	if [ -z "$why" ] && [ "$want" != "$MARKER" ] && grep -aq "$MARKER" "$log"; then
		why="booted, but must not have"
	fi
	if [ -z "$why" ] && [ -n "$token" ] && ! grep -aq "Command line: .*$token" "$log"; then
		why="$token did not reach the kernel command line"
	fi
	if [ -z "$why" ] && [ "$fw" = sb ] && [ "$want" = "$MARKER" ] && ! grep -aqE 'Secure boot enabled|secureboot=enabled' "$log"; then
		why="Secure Boot is not enabled in the guest"
	fi
	sec() { [ -n "$1" ] && echo "$(($1 / 1000)).$(($1 % 1000 / 100))s" || echo -; }
	if [ -z "$why" ]; then
		echo "ok $n - $c ${secs}s (grub $(sec "$t_grub"), kernel $(sec "$t_linux"))"
		[ "$keep" = 1 ] || rm -f "$log"
	else
		echo "not ok $n - $c: $why (${secs}s; log: $log)"
		failed=$((failed + 1))
	fi
done
[ "$failed" = 0 ]
