#!/bin/bash
# End-to-end migrations under QEMU (issue 5): a real Debian 12 server
# (qemu-tests/fixtures/mk-debian.sh) is copied by `migrator send` from one VM
# to `migrator receive` in another, both booted from the rescue media and
# driven only by the kernel command line (SMBIOS OEM string, image/README.md)
# plus a config drive holding the token, the TLS certificate and its key.
# The target disk must then boot alone, on another disk bus and NIC model,
# under the firmware it was made for.
#
#   qemu-tests/migrate.sh [CASE ...]     (default: $E2E_CASES, else all of them)
#
#   source-boots  the BIOS source image boots by itself (checks the fixture)
#   trap-source-boots  the trap's source image boots on AHCI (root=/dev/sda1)
#                 and, unpatched on virtio-blk, stops in its initrd
#   bios          BIOS/MBR server: source = rescue ISO (SeaBIOS), disk on AHCI, e1000;
#                 target = rescue ISO, empty disk on virtio-blk, virtio-net;
#                 receive --then verify; the copy boots on virtio-blk + virtio-net
#   uefi          UEFI/GPT server: the same with OVMF; the target boots the
#                 cloud rescue disk (qcow2) beside its empty disk
#   uefi-sb       UEFI with Secure Boot (source 4): Debian's signed shim, GRUB
#                 and kernel; migrated like uefi, the copy boots under OVMF
#                 with Secure Boot enforced (Microsoft keys enrolled)
#   wrong-token   the sender presents a wrong token: send fails loudly, the
#                 target disk stays untouched
#   small-target  the target disk is smaller than the source: refused before
#                 the first byte, the target disk stays untouched
#   trap          the seeds' trap (source 6): /dev/sda1 in fstab and grub.cfg,
#                 an initrd without virtio drivers; receive --then patch,verify
#                 --target-bus=virtio must rewrite the names to UUIDs and
#                 rebuild the initrd; the copy boots on virtio-blk by UUID
#   gpt-bios      BIOS on GPT (source 2): BIOS boot partition, separate /boot,
#                 swap; the target disk is NVMe (receiving and booting), the
#                 copy boots on NVMe with an e1000e NIC
#   cut-link      the BIOS server, the source's link cut (QEMU set_link off,
#                 12 s, then on) at least 3 times during the copy; both sides
#                 drop a stalled connection after 8 s (--stall-timeout), the
#                 sender reconnects and resumes; digest and verify must pass.
#                 The copy is not booted: the bios case boots the same bytes.
#   zeroed-boot-sector  the BIOS server received with --then patch; verify
#                 (the host build, on the target image) passes; then the first
#                 440 bytes of sector 0 are zeroed and verify must fail,
#                 naming GRUB's missing boot.img
# Every case checks that the source image is byte-identical afterwards.
#
# The two rescue VMs talk over a private QEMU network (UDP sockets on the
# host's loopback, 10.77.0.0/24, static ip=); the migrated server boots on
# user-mode networking with DHCP (10.0.2.x). Every serial log is kept in
# $LOGS; each case ends with one summary line and its duration.
. "$(dirname "$0")/lib.sh"
IMG=$B/image
FIXTURE=${FIXTURE:-$TOP/qemu-tests/fixtures/mk-debian.sh}
: "${KERNEL:=$B/kernel/bzImage}" "${INITRD:=$B/initramfs/rescue.cpio.zst}"
export VM_MEM=${VM_MEM:-768}

TARGET_IP=10.77.0.1 SOURCE_IP=10.77.0.2 PORT=8443
CFG=/run/migrator/config   # where init keeps the config drive mounted (docs/kernel-cmdline.md)

# --- the credentials, made on the host ------------------------------------------
mk_credentials() {
	local d=$WORK/cred
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=migrator-e2e -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null || return 1
	PIN=sha256//$(openssl x509 -in "$d/cert.pem" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | base64)
	openssl rand -hex 16 >"$d/token"
	openssl rand -hex 16 >"$d/wrong-token"
}

# config_drive NAME FILE...: an ISO 9660 "cidata" seed with an (empty)
# migrator.conf — the job itself is on the kernel command line — and FILEs
config_drive() {
	local name=$1 dir=$WORK/cfg-$1; shift
	mkdir -p "$dir"
	echo '# end-to-end test: the job is on the kernel command line; this drive carries its files' \
		>"$dir/migrator.conf"
	cp "$@" "$dir/"
	xorriso -as mkisofs -quiet -V CIDATA -J -R -o "$WORK/cfg-$name.iso" "$dir" 2>/dev/null
	echo "$WORK/cfg-$name.iso"
}

# The kernel arguments for GRUB on the rescue media (commas doubled for -smbios).
smbios_cmdline() { local a=$*; echo "type=11,value=migrator.cmdline=${a//,/,,}"; }

# A private link between the two rescue VMs: UDP datagrams between two ports.
link_ports() { LPORT_A=$((20000 + RANDOM % 20000)); LPORT_B=$((LPORT_A + 1)); }
target_nic() { echo "-netdev socket,id=n0,udp=127.0.0.1:$LPORT_B,localaddr=127.0.0.1:$LPORT_A -device virtio-net-pci,netdev=n0,id=nic0,mac=52:54:00:77:00:01"; }
source_nic() { echo "-netdev socket,id=n0,udp=127.0.0.1:$LPORT_A,localaddr=127.0.0.1:$LPORT_B -device e1000,netdev=n0,id=nic0,mac=52:54:00:77:00:02"; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
log_has() { tr -d '\r' <"$LOGS/$1.log" | grep -qE "$2"; }
rc_of() { tr -d '\r' <"$LOGS/$1.log" | sed -n 's/^MIGRATOR-DONE rc=\([0-9]*\).*/\1/p' | head -1; }

# The target disk's bus in the receiving VM ($TARGET_BUS: virtio-blk or nvme)
# and the name the rescue kernel gives it.
target_dev() { case ${TARGET_BUS:-virtio-blk} in nvme) echo /dev/nvme0n1 ;; *) echo /dev/vda ;; esac; }

# receiver_args [EXTRA...]: the target's job
receiver_args() {
	echo "ip=$TARGET_IP:::255.255.255.0::: migrator.mode=receive migrator.listen=0.0.0.0:$PORT" \
	     "migrator.token_file=$CFG/token migrator.tls_cert=$CFG/cert.pem migrator.tls_key=$CFG/key.pem" \
	     "migrator.map=0=$(target_dev) $* migrator.exit=poweroff"
}
# sender_args TOKEN-FILE-NAME [EXTRA...]: the source's job
sender_args() {
	local tok=$1; shift
	echo "ip=$SOURCE_IP:::255.255.255.0::: migrator.mode=send migrator.to=https://$TARGET_IP:$PORT" \
	     "migrator.pin=$PIN migrator.token_file=$CFG/$tok migrator.used_only migrator.retries=12 $*" \
	     "migrator.args=/dev/sda migrator.exit=poweroff"
}

# migrate NAME FIRMWARE SOURCE-IMG TARGET-IMG TARGET-BOOT [RECEIVER-EXTRA]
# Boots both rescue VMs at once (the sender retries until the receiver
# listens) and waits until both have ended. Sets SEND_RC, RECV_RC.
# $TARGET_BUS: the target disk's bus; $SENDER_EXTRA: more of the sender's
# job; $DURING_COPY: a function run (with NAME) once both VMs are started.
migrate() {
	local name=$1 fw=$2 src=$3 dst=$4 tboot=$5 extra=${6:-} fwargs_t fwargs_s tmedia smedia
	link_ports
	if [ "$fw" = uefi ]; then fwargs_t=$(fw_uefi "$name-target"); fwargs_s=$(fw_uefi "$name-source")
	else fwargs_t=$(fw_bios); fwargs_s=$(fw_bios); fi
	case $tboot in
	iso)  tmedia=$(disk_args cdrom "$IMG/migrator.iso" rescue ro boot) ;;
	disk) tmedia=$(disk_args ahci "$IMG/migrator-rescue.qcow2" rescue ro boot) ;;
	esac
	smedia=$(disk_args cdrom "$IMG/migrator.iso" rescue ro boot)
	local tcfg scfg
	tcfg=$(config_drive "$name-target" "$WORK/cred/token" "$WORK/cred/cert.pem" "$WORK/cred/key.pem")
	scfg=$(config_drive "$name-source" "$WORK/cred/token" "$WORK/cred/wrong-token")
	# target: its empty disk is the first (only) virtio-blk disk, /dev/vda
	# target: its empty disk is the first (only) disk on its bus: /dev/vda or /dev/nvme0n1
	vm_start "$name-target" 900 $fwargs_t $(disk_args "${TARGET_BUS:-virtio-blk}" "$dst" target) $tmedia \
		$(disk_args cdrom "$tcfg" cfg ro) $(target_nic) -smbios "$(smbios_cmdline "$(receiver_args "$extra")")"
	vm_start "$name-source" 900 $fwargs_s $smedia $(disk_args ahci "$src" source) \
		$(disk_args cdrom "$scfg" cfg ro) $(source_nic) \
		-smbios "$(smbios_cmdline "$(sender_args "${TOKEN:-token}" "${SENDER_EXTRA:-}")")"
	[ -z "${DURING_COPY:-}" ] || "$DURING_COPY" "$name"
	vm_wait "$name-source" '^MIGRATOR-DONE rc=' || true
	SEND_RC=$(rc_of "$name-source")
	vm_wait "$name-target" '^MIGRATOR-DONE rc=' "${RECV_WAIT:-900}" || true
	RECV_RC=$(rc_of "$name-target")
	# a successful job powers off; a failed one leaves a shell: stop it
	[ "$SEND_RC" = 0 ] && vm_wait_exit "$name-source"; vm_kill "$name-source"
	[ "$RECV_RC" = 0 ] && vm_wait_exit "$name-target"; vm_kill "$name-target"
}

# boot_migrated NAME FIRMWARE DISK: the copy alone, on $BOOT_BUS (virtio-blk)
# and $BOOT_NIC (virtio-net-pci) with DHCP; checks every field of the marker line
boot_migrated() {
	local name=$1 fw=$2 disk=$3 fwargs line bus=${BOOT_BUS:-virtio-blk} nic=${BOOT_NIC:-virtio-net-pci}
	case $fw in
	uefi) fwargs=$(fw_uefi "$name") ;;
	uefi-sb) fwargs=$(fw_uefi_sb "$name") ;;
	*) fwargs=$(fw_bios) ;;
	esac
	VM_MEM=1024 vm_start "$name" 300 $fwargs $(disk_args "$bus" "$disk" disk boot) \
		-netdev user,id=n0,restrict=on -device "$nic,netdev=n0"
	if ! vm_wait "$name" '^MIGRATED-BOOT-OK '; then
		not_ok "$name: the migrated disk boots alone ($fw, $bus, $nic) and reports MIGRATED-BOOT-OK"
		vm_failed "$name"; vm_kill "$name"; return 1
	fi
	ok "$name: the migrated disk boots alone ($fw, $bus, $nic) in $(vm_elapsed "$name") s"
	line=$(tr -d '\r' <"$LOGS/$name.log" | grep -m1 '^MIGRATED-BOOT-OK ')
	diag "$line"
	check "$name: host=$EXPECT_HOST" grep -q " host=$EXPECT_HOST " <<<"$line"
	local root=${EXPECT_ROOT:-UUID=$EXPECT_UUID}
	check "$name: root=$root" grep -q " root=$root " <<<"$line"
	check "$name: / is the filesystem $EXPECT_UUID" grep -q " uuid=$EXPECT_UUID " <<<"$line"
	check "$name: the NIC ($nic) got a DHCP address 10.0.2.x" grep -qE ' net=[a-z0-9]+:10\.0\.2\.[0-9]+/' <<<"$line"
	[ "$fw" != uefi-sb ] || check "$name: the kernel ran with Secure Boot enforced" \
		log_has "$name" 'Secure boot enabled|Kernel is locked down from EFI Secure Boot'
	check "$name: powered off" vm_wait_exit "$name"
	vm_kill "$name"
}

# root_uuid IMG: the UUID of the ext4 root (the last ext4 partition)
root_uuid() {
	local start
	start=$(sfdisk --json "$1" | jq '[.partitiontable.partitions[] | select(.type == "83" or .type == "0FC63DAF-8483-4772-8E79-3D69D8477DE4")][-1].start')
	blkid -p -o value -s UUID -O $((start * 512)) "$1"
}

fixture() { # PLATFORM -> a private copy of the cached source image in $WORK
	local img
	img=$("$FIXTURE" "$1") || return 1
	cp --sparse=always "$img" "$WORK/source-$1.img"
	echo "$WORK/source-$1.img"
}

summary() { diag "SUMMARY $1: $2 in $(( $(date +%s) - $3 )) s"; }

case_source_boots() {
	local t0; t0=$(date +%s)
	local src; src=$(fixture bios) || { not_ok "source-boots: fixture"; return; }
	EXPECT_HOST=e2e-src EXPECT_UUID=$(root_uuid "$src")
	boot_migrated source-boots bios "$src"
	summary source-boots "the BIOS source image boots by itself" "$t0"
}

# trap-source-boots: the trap is a working AHCI server (it boots on AHCI
# with root=/dev/sda1) and really is a trap: on virtio-blk, unpatched, its
# initrd never finds the root
case_trap_source_boots() {
	local name=trap-source-boots t0 src
	t0=$(date +%s)
	src=$(fixture trap) || { not_ok "$name: fixture"; return; }
	EXPECT_HOST=e2e-src EXPECT_UUID=$(root_uuid "$src") EXPECT_ROOT=/dev/sda1 BOOT_BUS=ahci BOOT_NIC=e1000 \
		boot_migrated "$name" bios "$src"
	VM_MEM=1024 vm_start "$name-virtio" 300 $(fw_bios) $(disk_args virtio-blk "$src" disk boot) \
		-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0
	vm_wait "$name-virtio" 'ALERT! +/dev/sda1 does not exist|^MIGRATED-BOOT-OK ' || true
	vm_kill "$name-virtio"
	check "$name: unpatched on virtio-blk, its initrd does not find /dev/sda1" \
		log_has "$name-virtio" 'ALERT! +/dev/sda1 does not exist'
	check "$name: ... and it does not boot" not log_has "$name-virtio" '^MIGRATED-BOOT-OK '
	[ "$TAP_FAILED" -eq 0 ] || vm_failed "$name-virtio"
	summary "$name" "the trap boots on AHCI, not on virtio" "$t0"
	rm -f "$src"
}

# check_patch_report NAME: the patch report on the target's console says
# what was patched: its closing count, and a line for each $EXPECT_PATCH
# pattern (one ERE a line)
check_patch_report() {
	local name=$1 p
	check "$name: the patch report ends with its count of changes" \
		log_has "$name-target" '^[0-9]+ changes applied, 0 failed'
	diag "$name: patch: $(tr -d '\r' <"$LOGS/$name-target.log" |
		grep -E '^(rewrote|removed|created|ran|FAILED|skipped) |^[0-9]+ changes applied' | cut -c1-150 | paste -sd'|' |
		sed 's/|/\n#   /g')"
	while IFS= read -r p; do
		[ -n "$p" ] && check "$name: the patch report says: $p" log_has "$name-target" "$p"
	done <<<"${EXPECT_PATCH:-}"
	return 0
}

# case_migrate NAME FIRMWARE TARGET-BOOT [FIXTURE [RECEIVER-THEN]]: migrate,
# check, boot the copy ($BOOT_BUS, $BOOT_NIC, $TARGET_BUS, $EXPECT_PATCH)
case_migrate() {
	local name=$1 fw=$2 tboot=$3 platform=${4:-$2} then=${5:-migrator.then=patch,verify} t0 src dst before
	t0=$(date +%s)
	src=$(fixture "$platform") || { not_ok "$name: fixture ($platform)"; return; }
	before=$(sha "$src")
	EXPECT_HOST=e2e-src EXPECT_UUID=$(root_uuid "$src")
	dst=$WORK/target-$name.img
	truncate -s "$(stat -c %s "$src")" "$dst"
	migrate "$name" "$fw" "$src" "$dst" "$tboot" "$then"
	local m=$(( $(date +%s) - t0 ))
	check "$name: send ended with MIGRATOR-DONE rc=0" test "$SEND_RC" = 0
	check "$name: receive (and verify) ended with MIGRATOR-DONE rc=0 in $m s" test "$RECV_RC" = 0
	check "$name: the receiver checked the disk digest" log_has "$name-target" 'digest matches'
	check "$name: migrator patch ran on the target and succeeded" \
		log_has "$name-target" '^receive: then: migrator patch: exit status 0'
	check "$name: migrator verify ran on the target and nothing failed" \
		log_has "$name-target" '^receive: then: migrator verify: exit status 0'
	log_has "$name-target" '^[0-9]+ passed, [0-9]+ warnings, [0-9]+ failed' &&
		diag "$name: verify: $(tr -d '\r' <"$LOGS/$name-target.log" | grep -Em1 '^[0-9]+ passed, [0-9]+ warnings')"
	check_patch_report "$name"
	check "$name: the source disk is byte-identical after the copy" test "$(sha "$src")" = "$before"
	[ "$TAP_FAILED" -eq 0 ] || { vm_failed "$name-source"; vm_failed "$name-target"; }
	if [ "$SEND_RC" = 0 ] && [ "$RECV_RC" = 0 ]; then
		boot_migrated "$name-boot" "${BOOT_FW:-$fw}" "$dst"
	else
		not_ok "$name-boot: skipped: the copy failed"
	fi
	summary "$name" "${BOOT_FW:-$fw} migration (copy ${m} s) and first boot" "$t0"
	rm -f "$dst" "$src"
}

# case_refused NAME TARGET-SIZE TOKEN WHAT [TARGET-WHAT]: the copy must fail
# (the sender's log matching WHAT, the receiver's TARGET-WHAT), the target
# disk stay untouched
case_refused() {
	local name=$1 size=$2 what=$4 twhat=${5:-} t0 src dst before src_before
	t0=$(date +%s)
	src=$(fixture bios) || { not_ok "$name: fixture"; return; }
	src_before=$(sha "$src")
	dst=$WORK/target-$name.img
	truncate -s "$size" "$dst"
	before=$(sha "$dst")
	TOKEN=$3 RECV_WAIT=10 migrate "$name" bios "$src" "$dst" iso
	check "$name: send fails loudly (MIGRATOR-DONE rc=1)" test "$SEND_RC" = 1
	check "$name: the sender says why ($what)" log_has "$name-source" "$what"
	[ -z "$twhat" ] || check "$name: the receiver says why ($twhat)" log_has "$name-target" "$twhat"
	check "$name: the receiver wrote nothing to the target disk" test "$(sha "$dst")" = "$before"
	check "$name: no kernel panic" not log_has "$name-target" 'Kernel panic'
	check "$name: the source disk is byte-identical afterwards" test "$(sha "$src")" = "$src_before"
	[ "$TAP_FAILED" -eq 0 ] || { vm_failed "$name-source"; vm_failed "$name-target"; }
	summary "$name" "refused as it should be" "$t0"
	rm -f "$dst" "$src"
}

# cut_link_loop NAME: during the copy, cuts the source's link (monitor
# set_link nic0 off) for $CUT_OFF s, CUT_TIMES times, each after the sender
# streamed again for a few seconds; counts the cuts in CUTS
cut_link_loop() {
	local name=$1 i resumed
	CUTS=0
	# the stream has started: the sender reports progress
	vm_wait "$name-source" '"side":"send".*"moved":[1-9]' 600 || return 0
	for i in $(seq "${CUT_TIMES:-3}"); do
		sleep 3
		log_has "$name-source" '^MIGRATOR-DONE' && return 0
		resumed=$(tr -d '\r' <"$LOGS/$name-source.log" | grep -c 'resuming there' || true)
		vm_monitor "$name-source" "set_link nic0 off"
		diag "$name: link cut ($i) at $(vm_elapsed "$name-source") s"
		CUTS=$((CUTS + 1))
		sleep "${CUT_OFF:-12}"
		vm_monitor "$name-source" "set_link nic0 on"
		# wait for the sender to reconnect and resume (or to finish)
		local deadline=$(( $(date +%s) + 120 ))
		while [ "$(date +%s)" -lt "$deadline" ]; do
			[ "$(tr -d '\r' <"$LOGS/$name-source.log" | grep -c 'resuming there' || true)" -gt "$resumed" ] && break
			log_has "$name-source" '^MIGRATOR-DONE' && return 0
			sleep 1
		done
	done
}

case_cut_link() {
	local name=cut-link t0 src dst before
	t0=$(date +%s)
	src=$(fixture bios) || { not_ok "$name: fixture"; return; }
	before=$(sha "$src")
	dst=$WORK/target-$name.img
	truncate -s "$(stat -c %s "$src")" "$dst"
	CUTS=0
	VM_MONITOR=1 SENDER_EXTRA="migrator.stall_timeout=8" DURING_COPY=cut_link_loop \
		migrate "$name" bios "$src" "$dst" iso "migrator.stall_timeout=8 migrator.then=patch,verify"
	local n; n=$(tr -d '\r' <"$LOGS/$name-source.log" | grep -c 'resuming there' || true)
	check "$name: the link was cut at least 3 times during the copy ($CUTS)" test "$CUTS" -ge 3
	check "$name: send ended with MIGRATOR-DONE rc=0" test "$SEND_RC" = 0
	check "$name: the sender retried after a broken connection" log_has "$name-source" 'retrying in'
	check "$name: the sender resumed from the receiver's commit after every cut ($n)" test "$n" -ge "$CUTS"
	check "$name: the receiver kept what it had and waited" log_has "$name-target" 'connection lost; committed'
	check "$name: receive (and verify) ended with MIGRATOR-DONE rc=0" test "$RECV_RC" = 0
	check "$name: the receiver checked the disk digest" log_has "$name-target" 'digest matches'
	check "$name: migrator verify ran on the target and nothing failed" \
		log_has "$name-target" '^receive: then: migrator verify: exit status 0'
	check_patch_report "$name"
	check "$name: the source disk is byte-identical after the copy" test "$(sha "$src")" = "$before"
	[ "$TAP_FAILED" -eq 0 ] || { vm_failed "$name-source"; vm_failed "$name-target"; }
	summary "$name" "copy with $CUTS link cuts, resumed $n times" "$t0"
	rm -f "$dst" "$src"
}

# zeroed-boot-sector: received with --then patch only; verify (host build)
# passes on the copy, then fails once the boot code is zeroed
case_zeroed_boot_sector() {
	local name=zeroed-boot-sector t0 src dst before out rc
	local host_migrator=${HOST_MIGRATOR:-$B/host/migrator}
	t0=$(date +%s)
	[ -x "$host_migrator" ] || { not_ok "$name: $host_migrator (make migrator-host)"; return; }
	src=$(fixture bios) || { not_ok "$name: fixture"; return; }
	before=$(sha "$src")
	dst=$WORK/target-$name.img
	truncate -s "$(stat -c %s "$src")" "$dst"
	migrate "$name" bios "$src" "$dst" iso "migrator.then=patch"
	check "$name: send ended with MIGRATOR-DONE rc=0" test "$SEND_RC" = 0
	check "$name: receive --then patch ended with MIGRATOR-DONE rc=0" test "$RECV_RC" = 0
	check_patch_report "$name"
	rc=0; out=$("$host_migrator" verify "$dst" 2>&1) || rc=$?
	check "$name: verify passes on the copy as received (exit $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || sed 's/^/#   /' <<<"$out"
	dd if=/dev/zero of="$dst" bs=440 count=1 conv=notrunc status=none
	rc=0; out=$("$host_migrator" verify "$dst" 2>&1) || rc=$?
	check "$name: verify fails once sector 0's boot code is zeroed (exit $rc)" test "$rc" = 1
	check "$name: verify names the reason (GRUB's boot.img missing)" \
		grep -qE '^fail bios\.boot-img .*boot\.img is missing' <<<"$out"
	grep -E '^fail ' <<<"$out" | sed 's/^/#   /'
	check "$name: the source disk is byte-identical after the copy" test "$(sha "$src")" = "$before"
	[ "$TAP_FAILED" -eq 0 ] || { vm_failed "$name-source"; vm_failed "$name-target"; }
	summary "$name" "verify fails on a zeroed boot sector" "$t0"
	rm -f "$dst" "$src"
}

# qemu-tests/demo.sh sources this file for its functions.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

mk_credentials || { not_ok "credentials (openssl)"; done_testing; exit; }
E2E_ALL="bios uefi uefi-sb trap-source-boots trap gpt-bios wrong-token small-target cut-link zeroed-boot-sector"
CASES=${*:-${E2E_CASES:-$E2E_ALL}}
for c in $CASES; do
	case $c in
	source-boots) case_source_boots ;;
	trap-source-boots) case_trap_source_boots ;;
	bios)         case_migrate bios bios iso ;;
	trap)         EXPECT_PATCH=$'^rewrote [^ ]*:/etc/fstab: kernel device names replaced\n^rewrote [^ ]*:/boot/grub/grub.cfg: \n^rewrote [^ ]*:/etc/initramfs-tools/modules: storage drivers\n^ran /usr/sbin/update-initramfs -u -k all in the system' \
		case_migrate trap bios iso trap "migrator.then=patch,verify migrator.target_bus=virtio" ;;
	gpt-bios)     TARGET_BUS=nvme BOOT_BUS=nvme BOOT_NIC=e1000e \
		case_migrate gpt-bios bios iso gpt-bios "migrator.then=patch,verify migrator.target_bus=nvme" ;;
	uefi-sb)      BOOT_FW=uefi-sb case_migrate uefi-sb uefi disk uefi-sb ;;
	cut-link)     case_cut_link ;;
	zeroed-boot-sector) case_zeroed_boot_sector ;;
	uefi)         case_migrate uefi uefi disk ;;
	wrong-token)  case_refused wrong-token 2G wrong-token 'the receiver refused the token' 'wrong or missing token' ;;
	small-target) case_refused small-target 1G token 'the receiver refused: /dev/vda is too small' \
			'^MIGRATOR-DONE rc=1' ;;
	*) not_ok "unknown case $c" ;;
	esac
done
done_testing
