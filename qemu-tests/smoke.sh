#!/bin/bash
# Smoke tests of the rescue media (issue 3): every way of booting reaches
# MIGRATOR-READY, runs `migrator inventory --json` unattended over test disks
# on four buses (virtio-blk, virtio-scsi, AHCI, NVMe), and reports the UUIDs
# the host created; the job ends with MIGRATOR-DONE rc=0 and a power-off. A
# failing job ends in a live shell, never a panic. The fs-tools case runs the
# rescue system's filesystem tools (sfdisk, mkfs.*, fsck.*, mkswap, blkid) on a
# scratch disk from its shell (qemu-tests/fstools-guest.sh).
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

# --- fs-tools: what file-level copy does to a target, with the rescue system's tools
# The guest script and its parameters go on a small FAT drive; the shell on the
# serial console mounts it and runs the script, which partitions the scratch disk
# (GPT) and makes vfat, swap and ext4 with the UUIDs and labels chosen here. Checked:
# every step's exit status, what the guest's blkid reports, and the disk image
# itself on the host (sfdisk -d, blkid -p, e2fsck -fn and fsck.vfat -n on loop devices).
FST_STEPS="sfdisk partitions-appear mkfs.vfat fsck.vfat mkswap mkfs.ext4 e2fsck mount-vfat
	umount-vfat mount-ext4 umount-ext4 fsck.vfat-after-mount e2fsck-after-mount
	tune2fs wipefs"

mk_fstools() {
	local d=$WORK/fstools n=$RANDOM
	mkdir -p "$d"
	truncate -s 256M "$d/scratch.img"
	EXT4_UUID=$(cat /proc/sys/kernel/random/uuid) SWAP_UUID=$(cat /proc/sys/kernel/random/uuid)
	FAT_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n' | tr a-f A-F)
	EXT4_LABEL=root-$n FAT_LABEL=ESP-$n SWAP_LABEL=swap-$n
	printf '%s\n' SERIAL=scratch "EXT4_UUID=$EXT4_UUID" "EXT4_LABEL=$EXT4_LABEL" "FAT_ID=$FAT_ID" \
		"FAT_LABEL=$FAT_LABEL" "SWAP_UUID=$SWAP_UUID" "SWAP_LABEL=$SWAP_LABEL" >"$d/fstools.env"
	truncate -s 2M "$d/seed.img"; mkfs.vfat -n FSTOOLS "$d/seed.img" >/dev/null
	mcopy -i "$d/seed.img" "$d/fstools.env" ::/fstools.env
	mcopy -i "$d/seed.img" "$TOP/qemu-tests/fstools-guest.sh" ::/fstools.sh
	FST_DISKS="$(disk_args virtio-blk "$d/scratch.img" scratch) $(disk_args virtio-blk "$d/seed.img" fstools ro)"
}

# fst_steps_ok NAME: every step of the guest script exited 0
fst_steps_ok() {
	local s bad=0 log; log=$(tr -d '\r' <"$LOGS/$1.log")
	for s in $FST_STEPS; do
		grep -qx "FSTOOLS rc=0 $s" <<<"$log" ||
			{ diag "$1: step $s: $(grep -E "^FSTOOLS rc=[0-9]+ $s\$" <<<"$log" || echo 'not run')"; bad=1; }
	done
	grep -qx 'FSTOOLS-END failed=0' <<<"$log" || bad=1
	return $bad
}

# fst_blkid_ok NAME DEV TYPE UUID LABEL: the guest's blkid line for DEV says so
fst_blkid_ok() {
	local line k v bad=0
	line=$(tr -d '\r' <"$LOGS/$1.log" | grep "^FSTOOLS-BLKID $2: ")
	for k in TYPE UUID LABEL; do
		case $k in TYPE) v=$3 ;; UUID) v=$4 ;; LABEL) v=$5 ;; esac
		grep -qF " $k=\"$v\"" <<<"$line" || { diag "$1: blkid on $2: no $k=\"$v\" in: $line"; bad=1; }
	done
	return $bad
}

# host_image_ok NAME: the scratch image, read on the host after the guest powered off
host_image_ok() {
	local img=$WORK/fstools/scratch.img bad=0 i start size type uuid label dev want
	sfdisk -d "$img" | grep -q '^label: gpt' || { diag "$1: host sfdisk -d: no GPT"; return 1; }
	for i in 1 2 3; do
		start=$(sfdisk -J "$img" | jq ".partitiontable.partitions[$((i - 1))].start")
		size=$(sfdisk -J "$img" | jq ".partitiontable.partitions[$((i - 1))].size")
		type=$(blkid -p -o value -s TYPE -O $((start * 512)) "$img")
		uuid=$(blkid -p -o value -s UUID -O $((start * 512)) "$img")
		label=$(blkid -p -o value -s LABEL -O $((start * 512)) "$img")
		case $i in
		1) want="vfat ${FAT_ID:0:4}-${FAT_ID:4} $FAT_LABEL" ;;
		2) want="swap $SWAP_UUID $SWAP_LABEL" ;;
		3) want="ext4 $EXT4_UUID $EXT4_LABEL" ;;
		esac
		[ "$type $uuid $label" = "$want" ] || { diag "$1: partition $i on the host: '$type $uuid $label', want '$want'"; bad=1; }
		[ "$i" = 2 ] && continue
		dev=$(losetup -f --show -r -o $((start * 512)) --sizelimit $((size * 512)) "$img") || { bad=1; continue; }
		case $i in
		1) fsck.vfat -n "$dev" >"$WORK/fstools/fsck$i.log" 2>&1 ;;
		3) e2fsck -fn "$dev" >"$WORK/fstools/fsck$i.log" 2>&1 ;;
		esac || { diag "$1: host fsck of partition $i: $(tail -3 "$WORK/fstools/fsck$i.log")"; bad=1; }
		losetup -d "$dev"
	done
	return $bad
}

fs_tools_case() {
	local c=$1 disk
	mk_fstools
	vm_start "$c" 300 $(fw_bios) -kernel "$KERNEL" -initrd "$INITRD" $FST_DISKS -nic none \
		-append "console=ttyS0 migrator.config=none ip=off"
	if ! vm_wait "$c" "shell on"; then
		not_ok "$c: shell on the console"; vm_failed "$c"; vm_kill "$c"; return
	fi
	sleep 2
	vm_send "$c" 'for d in /sys/block/vd*; do [ "$(cat $d/serial)" = fstools ] && mount -r -t vfat /dev/${d##*/} /mnt; done; sh /mnt/fstools.sh; poweroff'
	if vm_wait "$c" '^FSTOOLS-END ' && vm_wait_exit "$c"; then
		ok "$c: the guest script ran and the VM powered off ($(vm_elapsed "$c") s)"
	else
		not_ok "$c: the guest script ran and the VM powered off"
	fi
	check "$c: sfdisk, mkfs.vfat, mkswap, mkfs.ext4, the fscks, mounts, tune2fs, wipefs exit 0" \
		fst_steps_ok "$c"
	disk=$(tr -d '\r' <"$LOGS/$c.log" | sed -n 's/^FSTOOLS rc=0 find-disk //p')
	check "$c: guest blkid: vfat with volume id $FAT_ID and label $FAT_LABEL" \
		fst_blkid_ok "$c" "${disk}1" vfat "${FAT_ID:0:4}-${FAT_ID:4}" "$FAT_LABEL"
	check "$c: guest blkid: swap with UUID $SWAP_UUID and label $SWAP_LABEL" \
		fst_blkid_ok "$c" "${disk}2" swap "$SWAP_UUID" "$SWAP_LABEL"
	check "$c: guest blkid: ext4 with UUID $EXT4_UUID and label $EXT4_LABEL" \
		fst_blkid_ok "$c" "${disk}3" ext4 "$EXT4_UUID" "$EXT4_LABEL"
	check "$c: the disk image on the host: GPT, same UUIDs and labels, fsck clean" host_image_ok "$c"
	check "$c: no kernel panic" not grep -q 'Kernel panic' "$LOGS/$c.log"
	[ "$TAP_FAILED" -eq 0 ] || vm_failed "$c"
	vm_kill "$c"
}

CASES=${*:-"iso-cd-bios iso-usb-uefi disk-bios disk-uefi sb-iso-uefi pxe-direct metadata failing-job fs-tools"}
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
	fs-tools) fs_tools_case "$c" ;;
	*) not_ok "unknown case $c" ;;
	esac
done
done_testing
