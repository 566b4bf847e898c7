#!/bin/bash
# Smoke tests of the rescue media (issue 3): every way of booting reaches
# MIGRATOR-READY, runs `migrator inventory --json` unattended over test disks
# on four buses (virtio-blk, virtio-scsi, AHCI, NVMe), and reports the UUIDs
# the host created; the job ends with MIGRATOR-DONE rc=0 and a power-off. A
# failing job ends in a live shell, never a panic.
#
#   qemu-tests/smoke.sh [CASE ...]      (default: all; names below)
. "$(dirname "$0")/lib.sh"
IMG=$B/image
: "${KERNEL:=$B/kernel/bzImage}" "${INITRD:=$B/initramfs/rescue.cpio.zst}"

# --- test disks, made on the host with known UUIDs ----------------------------
mk_disks() {
	local d=$WORK/disks; mkdir -p "$d"
	truncate -s 64M "$d/vblk.img" "$d/scsi.img" "$d/ahci.img" "$d/nvme.img"
	printf 'label: gpt\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=vblk\n' | sfdisk -q "$d/vblk.img"
	printf 'label: dos\ntype=83\n' | sfdisk -q "$d/scsi.img"
	printf 'label: gpt\nsize=16M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' | sfdisk -q "$d/ahci.img"
	printf 'label: gpt\ntype=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n' | sfdisk -q "$d/nvme.img"
	local t=$WORK/fs
	truncate -s 40M "$t"; mkfs.ext4 -q -F -L on-vblk "$t"; dd if="$t" of="$d/vblk.img" bs=1M seek=1 conv=notrunc,sparse status=none
	rm -f "$t"; truncate -s 40M "$t"; mkfs.ext4 -q -F -L on-scsi "$t"; dd if="$t" of="$d/scsi.img" bs=1M seek=1 conv=notrunc,sparse status=none
	rm -f "$t"; truncate -s 16M "$t"; mkfs.vfat -n ON-AHCI "$t" >/dev/null; dd if="$t" of="$d/ahci.img" bs=1M seek=1 conv=notrunc,sparse status=none
	rm -f "$t"; truncate -s 40M "$t"; mkswap -q -L on-nvme "$t"; dd if="$t" of="$d/nvme.img" bs=1M seek=1 conv=notrunc,sparse status=none
	# the UUIDs the guest must report, as blkid sees them on the host
	EXPECT=()
	local f
	for f in vblk scsi ahci nvme; do
		EXPECT+=("$f:$(blkid -p -o value -s UUID -O 1048576 "$d/$f.img")")
	done
	DISKS="$(disk_args virtio-blk "$d/vblk.img" vblk ro) $(disk_args virtio-scsi "$d/scsi.img" scsi ro)
	       $(disk_args ahci "$d/ahci.img" ahci ro) $(disk_args nvme "$d/nvme.img" nvme ro)"
}

# A NoCloud-style seed drive with migrator.conf: what makes a boot from the
# ISO or the rescue disk unattended (their menus have no test entries).
mk_seed() { # NAME MODE ARGS EXIT
	local seed=$WORK/seed-$1.img
	rm -f "$seed"; truncate -s 2M "$seed"; mkfs.vfat -n CIDATA "$seed" >/dev/null
	printf 'mode=%s\nargs=%s\nexit=%s\n' "$2" "$3" "$4" >"$WORK/migrator.conf"
	mcopy -i "$seed" "$WORK/migrator.conf" ::/migrator.conf
	disk_args virtio-blk "$seed" "seed$1" ro
}

NET="-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0"
# GRUB on our media boots the default entry at once when QEMU passes this OEM
# string (image/README.md); without it, after its 3 s menu timeout.
NOW="-smbios type=11,value=migrator.cmdline="

# check_inventory NAME: the JSON on the serial log names every test disk's UUID
check_inventory() {
	local name=$1 json=$WORK/$1.json e bus uuid bad=0
	vm_json "$name" >"$json"
	if ! jq -e . "$json" >/dev/null 2>&1; then diag "$name: no JSON document on the console"; return 1; fi
	for e in "${EXPECT[@]}"; do
		bus=${e%%:*}; uuid=${e#*:}
		jq -e --arg u "$uuid" '[.blockdevices[].children[] | select(.uuid == $u)] | length == 1' "$json" >/dev/null ||
			{ diag "$name: UUID $uuid of the $bus disk not reported exactly once"; bad=1; }
	done
	# the device names tell the bus: vd* virtio-blk, sd* scsi/ahci, nvme*
	jq -e '[.blockdevices[].name] | (any(startswith("vd")) and any(startswith("sd")) and any(startswith("nvme")))' \
		"$json" >/dev/null || { diag "$name: disks: $(jq -c '[.blockdevices[].name]' "$json")"; bad=1; }
	return $bad
}

# run_case NAME TIMEOUT MARKER-CHECKS... -- QEMU-ARGS
run_case() {
	local name=$1 timeout=$2; shift 2
	local t0; t0=$(date +%s)
	vm_start "$name" "$timeout" "$@"
	local okay=1
	if vm_wait "$name" '^MIGRATOR-READY '; then ok "$name: MIGRATOR-READY ($(vm_elapsed "$name") s)"
	else not_ok "$name: MIGRATOR-READY"; okay=0; fi
	if [ $okay = 1 ] && vm_wait "$name" '^MIGRATOR-DONE rc=' && vm_wait_exit "$name"; then
		check "$name: MIGRATOR-DONE rc=0 and powered off ($(( $(date +%s) - t0 )) s)" \
			grep -q '^MIGRATOR-DONE rc=0' <(tr -d '\r' <"$LOGS/$name.log")
		check "$name: inventory reports every test disk by UUID on virtio-blk, virtio-scsi, AHCI, NVMe" \
			check_inventory "$name"
	else
		not_ok "$name: job finished and QEMU exited"; okay=0
	fi
	check "$name: no kernel panic" not grep -q 'Kernel panic' "$LOGS/$name.log"
	[ $okay = 1 ] && [ "$TAP_FAILED" -eq 0 ] || vm_failed "$name"
	vm_kill "$name"
}

mk_disks
JOB="inventory --json"
# cloud rescue mode: user-data from the metadata address, which QEMU's
# guestfwd sends to a file server on this host's loopback (nothing leaves it)
metadata_server() {
	local dir=$WORK/metadata
	mkdir -p "$dir/latest"
	printf 'mode=inventory\nargs=--json\nexit=poweroff\n' >"$dir/latest/user-data"
	python3 -m http.server --bind 127.0.0.1 0 --directory "$dir" >"$WORK/http.log" 2>&1 &
	MD_PID=$!
	local i
	for i in $(seq 50); do
		MD_PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/http.log" | head -1)
		[ -n "$MD_PORT" ] && return 0
		sleep 0.1
	done
	return 1
}

CASES=${*:-"iso-cd-bios iso-usb-uefi disk-bios disk-uefi sb-iso-uefi pxe-direct metadata failing-job"}
for c in $CASES; do
	case $c in
	iso-cd-bios)   run_case "$c" 240 $(fw_bios) $NOW $(disk_args cdrom "$IMG/migrator.iso" cd ro boot) $(mk_seed 1 inventory --json poweroff) $DISKS $NET ;;
	iso-usb-uefi)  run_case "$c" 300 $(fw_uefi "$c") $NOW $(disk_args usb "$IMG/migrator.iso" stick ro boot) $(mk_seed 2 inventory --json poweroff) $DISKS $NET ;;
	disk-bios)     run_case "$c" 240 $(fw_bios) $NOW $(disk_args virtio-blk "$IMG/migrator-rescue.qcow2" rescue ro boot) $(mk_seed 3 inventory --json poweroff) $DISKS $NET ;;
	disk-uefi)     run_case "$c" 300 $(fw_uefi "$c") $NOW $(disk_args virtio-blk "$IMG/migrator-rescue.qcow2" rescue ro boot) $(mk_seed 4 inventory --json poweroff) $DISKS $NET ;;
	sb-iso-uefi)   run_case "$c" 400 $(fw_uefi_sb "$c") $NOW $(disk_args cdrom "$IMG/migrator-sb.iso" cd ro boot) $(mk_seed 5 inventory --json poweroff) $DISKS $NET
		check "$c: init reports Secure Boot enabled" grep -q 'Secure Boot enabled' "$LOGS/$c.log" ;;
	pxe-direct)    run_case "$c" 180 $(fw_bios) -kernel "$IMG/pxe/vmlinuz" -initrd "$IMG/pxe/initramfs.cpio.zst" \
			-append "console=ttyS0 migrator.mode=inventory migrator.args=--json migrator.exit=poweroff" $DISKS $NET ;;
	metadata)
		metadata_server || { not_ok "$c: local metadata server"; continue; }
		run_case "$c" 180 $(fw_bios) -kernel "$KERNEL" -initrd "$INITRD" $DISKS \
			-netdev "user,id=n0,restrict=on,net=169.254.169.0/24,guestfwd=tcp:169.254.169.254:80-cmd:socat - TCP:127.0.0.1:$MD_PORT" \
			-device virtio-net-pci,netdev=n0 -append "console=ttyS0 migrator.config=metadata"
		check "$c: configuration came from the metadata service" grep -q 'GET /latest/user-data' "$WORK/http.log"
		kill "$MD_PID" 2>/dev/null ;;
	failing-job)
		vm_start "$c" 180 $(fw_bios) -kernel "$KERNEL" -initrd "$INITRD" $NET \
			-append "console=ttyS0 migrator.mode=inventory migrator.args=/dev/no-such-disk migrator.exit=poweroff"
		vm_wait "$c" '^MIGRATOR-DONE rc=' ; check "$c: MIGRATOR-DONE rc=1" grep -q '^MIGRATOR-DONE rc=1' <(tr -d '\r' <"$LOGS/$c.log")
		check "$c: failure summary names the job" vm_wait "$c" 'the job FAILED' 5
		vm_wait "$c" "shell on" 30
		sleep 2; vm_send "$c" 'echo SHELL-ALIVE-$((6*7))'
		check "$c: a live shell answers on the console" vm_wait "$c" 'SHELL-ALIVE-42' 30
		check "$c: still running (no reboot, no power-off)" vm_running "$c"
		check "$c: no kernel panic" not grep -q 'Kernel panic' "$LOGS/$c.log"
		vm_send "$c" 'poweroff'
		check "$c: poweroff from the shell ends the VM" vm_wait_exit "$c"
		[ "$TAP_FAILED" -eq 0 ] || vm_failed "$c"; vm_kill "$c" ;;
	*) not_ok "unknown case $c" ;;
	esac
done
done_testing
