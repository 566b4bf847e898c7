#!/bin/bash
# The main job, as far as the project goes today: boot the rescue ISO under
# QEMU with a demo server's disk attached, run `migrator inventory`
# unattended (from a seed drive), and print what it found. The migration
# itself (send / receive / patch / verify) joins this flow as it lands.
. "$(dirname "$0")/lib.sh"
ISO=$B/image/migrator.iso
d=$WORK/demo; mkdir -p "$d"

echo "demo: making a demo server disk (GPT: BIOS boot, ESP, ext4 root, swap; GRUB boot code)"
truncate -s 2G "$d/server.img"
printf 'label: gpt\nsize=1M, type=21686148-6449-6E6F-744E-656564454649\nsize=64M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nsize=1700M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\ntype=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap\n' |
	sfdisk -q "$d/server.img"
start() { sfdisk --json "$d/server.img" | jq ".partitiontable.partitions[$1].start"; }
truncate -s 64M "$d/esp"; mkfs.vfat -n EFI "$d/esp" >/dev/null
dd if="$d/esp" of="$d/server.img" bs=512 seek="$(start 1)" conv=notrunc,sparse status=none
truncate -s 1700M "$d/root"; mkfs.ext4 -q -F -L root "$d/root"
dd if="$d/root" of="$d/server.img" bs=512 seek="$(start 2)" conv=notrunc,sparse status=none
truncate -s 200M "$d/swap"; mkswap -q "$d/swap"
dd if="$d/swap" of="$d/server.img" bs=512 seek="$(start 3)" conv=notrunc,sparse status=none
dd if=/usr/lib/grub/i386-pc/boot.img of="$d/server.img" bs=440 count=1 conv=notrunc status=none
rm -f "$d/esp" "$d/root" "$d/swap"

truncate -s 2M "$d/seed.img"; mkfs.vfat -n CIDATA "$d/seed.img" >/dev/null
printf 'mode=inventory\nexit=poweroff\n' >"$d/migrator.conf"; mcopy -i "$d/seed.img" "$d/migrator.conf" ::/

echo "demo: booting $ISO under QEMU (TCG, SeaBIOS) with the server disk on virtio"
vm_start demo 300 $(fw_bios) $(disk_args cdrom "$ISO" cd ro boot) $(disk_args virtio-blk "$d/server.img" server ro) \
	$(disk_args virtio-blk "$d/seed.img" seed ro) -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0
vm_wait demo '^MIGRATOR-READY ' || { vm_failed demo; exit 1; }
ready=$(vm_elapsed demo)
vm_wait demo '^MIGRATOR-DONE rc=' && vm_wait_exit demo || { vm_failed demo; exit 1; }
echo
echo "demo: what the rescue system reported (serial console):"
tr -d '\r' <"$LOGS/demo.log" | sed -n '/^init: job: /,/^MIGRATOR-DONE/p' | grep -v '^\[ *[0-9.]*\]'
echo
echo "demo: rescue system up in ${ready}s, job done, powered off in $(vm_elapsed demo)s (TCG, no KVM)"
echo "demo: full serial log: $LOGS/demo.log"
tr -d '\r' <"$LOGS/demo.log" | grep -q '^MIGRATOR-DONE rc=0'
