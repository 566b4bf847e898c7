#!/bin/bash
# Boot-time comparison under QEMU/TCG (a measurement, not a test): the rescue
# kernel against Debian's stock kernel, same QEMU options, same tiny test
# initramfs (smoke-test.sh --cpio), and the stock kernel with its own initrd.
#
#   kernel-config/boot-time.sh [-n RUNS] [-k KERNEL] [-s STOCK] [-i STOCK_INITRD]
#
#   -k KERNEL        rescue bzImage (default: build/kernel/bzImage)
#   -s STOCK         Debian kernel (default: newest /boot/vmlinuz-*-amd64)
#   -i STOCK_INITRD  its initrd (default: the matching /boot/initrd.img-*)
#   -n RUNS          boots per row, the median is printed (default 3)
#
# Rows: seconds from QEMU start to the kernel's first line ("Linux version":
# firmware, loading and decompressing the image come before it), to the test
# init's marker line (KERNEL-SMOKE-INIT) and to QEMU's exit after the init
# powers off; for the
# stock initrd, to its "No root device specified" message: with no root= it
# has nothing to mount, and that is where it would offer its shell (panic=-1
# makes it reboot instead, which ends QEMU).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kernel=build/kernel/bzImage
runs=3
stock=$(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -V | tail -n 1)
stock_initrd=
while getopts n:k:s:i: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	k) kernel=$OPTARG ;;
	s) stock=$OPTARG ;;
	i) stock_initrd=$OPTARG ;;
	*) sed -n '/^#   kernel-config/,/^#   -n/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$stock_initrd" ] || stock_initrd=/boot/initrd.img-${stock#/boot/vmlinuz-}
for f in "$kernel" "$stock" "$stock_initrd"; do
	[ -r "$f" ] || { echo "boot-time: cannot read $f" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-boottime.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$here/smoke-test.sh" --cpio "$work/init.cpio.zst"

# One boot; prints "<seconds to Linux> <seconds to PATTERN> <seconds to QEMU exit>".
timed_boot() {
	local kern=$1 initrd=$2 pattern=$3 t0 line
	rm -f "$work/t" "$work/l"
	t0=$EPOCHREALTIME
	timeout -k 5 120 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
		-nic none -kernel "$kern" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1" </dev/null 2>&1 |
		while IFS= read -r line; do
			if [[ $line == *"Linux version"* ]] && [ ! -e "$work/l" ]; then
				echo "$EPOCHREALTIME" >"$work/l"
			fi
			if [[ $line == *"$pattern"* ]] && [ ! -e "$work/t" ]; then
				echo "$EPOCHREALTIME" >"$work/t"
			fi
		done || true
	local end=$EPOCHREALTIME f
	for f in "$work/l" "$work/t"; do
		if [ -s "$f" ]; then
			printf '%.2f ' "$(echo "$(cat "$f") - $t0" | bc)"
		else
			printf -- '- '
		fi
	done
	printf '%.2f\n' "$(echo "$end - $t0" | bc)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }

row() {
	local label=$1 kern=$2 initrd=$3 pattern=$4 i l=() a=() b=()
	for ((i = 0; i < runs; i++)); do
		read -r x y z < <(timed_boot "$kern" "$initrd" "$pattern")
		l+=("$x") a+=("$y") b+=("$z")
	done
	printf '%-52s %6s %7s %6s   (%s: %s)\n' "$label" \
		"$(printf '%s\n' "${l[@]}" | median)" "$(printf '%s\n' "${a[@]}" | median)" \
		"$(printf '%s\n' "${b[@]}" | median)" "$pattern" "${a[*]}"
}

echo "QEMU TCG, -m 512, -nographic, console=ttyS0; medians of $runs boots, seconds from QEMU start"
printf '%-52s %6s %7s %6s\n' "" "Linux" "pattern" "exit"
row "rescue $(basename "$kernel") ($(stat -c %s "$kernel") B) + test cpio" \
	"$kernel" "$work/init.cpio.zst" KERNEL-SMOKE-INIT
row "$(basename "$stock") ($(stat -c %s "$stock") B) + test cpio" \
	"$stock" "$work/init.cpio.zst" KERNEL-SMOKE-INIT
row "$(basename "$stock") + $(basename "$stock_initrd")" \
	"$stock" "$stock_initrd" "No root device specified"
