#!/bin/bash
# Benchmark (not a test): size of the rescue media and time to a usable
# system under QEMU/TCG, side by side with Debian's stock kernel + initrd
# booting to a shell with the same QEMU options.
#
#   bench/boot.sh [RUNS]     (default 3 runs each; medians)
# Goals (issue 3): initramfs <= 3 MiB, ISO <= 16 MiB, boot <= 0.5 x Debian's.
set -u
. "$(dirname "$0")/../qemu-tests/lib.sh"
RUNS=${1:-3}
KERNEL=$B/kernel/bzImage
INITRD=$B/initramfs/rescue.cpio.zst
ISO=$B/image/migrator.iso
DEB_KERNEL=$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -1)
DEB_INITRD=/boot/initrd.img-${DEB_KERNEL#/boot/vmlinuz-}
COMMON="-machine pc -nic none"

# boot_time NAME PATTERN QEMU-ARGS...: seconds from QEMU start to PATTERN
boot_time() {
	local name=$1 pattern=$2; shift 2
	vm_start "$name" 120 $COMMON "$@"
	if vm_wait "$name" "$pattern"; then vm_elapsed "$name"; else echo "timeout"; fi
	vm_kill "$name"
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

mib() { awk -v b="$1" 'BEGIN{printf "%.2f MiB", b/1048576}'; }
printf '%-44s %12s\n' "artefact" "size"
printf '%-44s %12s\n' "initramfs, custom kernel flavour (zstd)" "$(mib "$(stat -c %s "$INITRD")")"
[ -f "$B/initramfs/rescue-distro.cpio.zst" ] &&
	printf '%-44s %12s\n' "initramfs, distro flavour (zstd, modules)" "$(mib "$(stat -c %s "$B/initramfs/rescue-distro.cpio.zst")")"
printf '%-44s %12s\n' "kernel bzImage, custom" "$(mib "$(stat -c %s "$KERNEL")")"
[ -f "$ISO" ] && printf '%-44s %12s\n' "migrator.iso" "$(mib "$(stat -c %s "$ISO")")"
printf '%-44s %12s\n' "Debian initrd.img (for comparison)" "$(mib "$(stat -c %s "$DEB_INITRD")")"
echo

ours=() theirs=()
for ((i = 0; i < RUNS; i++)); do
	ours+=("$(boot_time ours '^MIGRATOR-READY ' -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 ip=off")")
	# Debian's initramfs-tools, stopped at its first shell (break=top)
	theirs+=("$(boot_time debian '\(initramfs\)' -kernel "$DEB_KERNEL" -initrd "$DEB_INITRD" -append "console=ttyS0 break=top")")
done
o=$(printf '%s\n' "${ours[@]}" | median); t=$(printf '%s\n' "${theirs[@]}" | median)
printf 'QEMU start to a usable system, TCG, median of %d (s):\n' "$RUNS"
printf '  %-40s %6s   (runs: %s)\n' "migrator (custom kernel, MIGRATOR-READY)" "$o" "${ours[*]}"
printf '  %-40s %6s   (runs: %s)\n' "Debian stock kernel + initrd, shell" "$t" "${theirs[*]}"
awk -v o="$o" -v t="$t" 'BEGIN{printf "  ratio migrator / Debian: %.2f (goal <= 0.5)\n", o/t}'
