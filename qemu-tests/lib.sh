# qemu-tests/lib.sh — the QEMU harness: black-box boots under TCG with a hard
# timeout, serial console to a log, marker lines matched on it, TAP out.
#
#   vm_start NAME TIMEOUT QEMU-ARGS...   boot in the background, serial -> $LOGS/NAME.log
#   vm_wait  NAME PATTERN [SECONDS]      wait until PATTERN (ERE) is on the serial log
#   vm_wait_exit NAME                    wait until QEMU has exited (the guest powered off)
#   vm_kill  NAME
#   vm_monitor NAME COMMAND              a QEMU monitor command (VM_MONITOR=1 at vm_start)
#   vm_json  NAME                        the first pretty-printed JSON document on the log
#   fw_bios / fw_uefi NAME / fw_uefi_sb NAME   firmware arguments
#   disk_args BUS FILE ID                a disk on virtio-blk, virtio-scsi, ahci, nvme, usb
#
# Every serial log stays under $LOGS (build/qemu-tests/logs); a failed check
# calls vm_failed NAME, which also prints the log's tail into the TAP output.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-$TOP/build}
LOGS=${LOGS:-$B/qemu-tests/logs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migrator-qemu.XXXXXX")
mkdir -p "$LOGS"
# TCG is 10-50x slower than KVM; every timeout below is multiplied by this.
TCG_SCALE=${TCG_SCALE:-1}
declare -A VM_PID VM_DEADLINE

cleanup() {
	local n
	for n in "${!VM_PID[@]}"; do kill -9 "${VM_PID[$n]}" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

. "$TOP/tests/tap.sh"

qemu_bin() { echo "${QEMU:-qemu-system-x86_64}"; }

vm_start() {
	local name=$1 timeout=$2; shift 2
	local log=$LOGS/$name.log fifo=$WORK/$name.serial mon=none
	# VM_MONITOR=1: a human monitor on a socket, for vm_monitor (set_link ...)
	[ "${VM_MONITOR:-}" = 1 ] && mon=unix:$WORK/$name.mon,server=on,wait=off
	: >"$log"
	# The serial port is a pair of FIFOs: its output is copied to the log,
	# and vm_send types into its input (so a test can use a shell).
	rm -f "$fifo.in" "$fifo.out"
	mkfifo "$fifo.in" "$fifo.out"
	# -no-reboot: a guest reboot ends QEMU, so a reboot loop cannot hang a test.
	# QEMU is our direct child (no timeout(1) wrapper, whose death would
	# orphan it); deadlines are enforced by vm_wait / vm_wait_exit / cleanup.
	"$(qemu_bin)" -accel tcg -m "${VM_MEM:-1024}" \
		-nographic -no-reboot -chardev "pipe,id=ser0,path=$fifo" -serial chardev:ser0 \
		-monitor "$mon" -display none "$@" >"$WORK/$name.stdout" 2>&1 &
	VM_PID[$name]=$!
	cat "$fifo.out" >>"$log" &
	# read-write open: never blocks, and keeps the input open for vm_send
	eval "exec {VM_IN_${name//[^A-Za-z0-9_]/_}}<>\"\$fifo.in\""
	VM_DEADLINE[$name]=$(( $(date +%s) + timeout * TCG_SCALE ))
	echo "$(date +%s.%N)" >"$WORK/$name.start"
}

# vm_send NAME TEXT: type TEXT (a newline is added) on the serial console
vm_send() {
	local fd_var=VM_IN_${1//[^A-Za-z0-9_]/_}
	printf '%s\n' "$2" >&"${!fd_var}"
}

# vm_monitor NAME COMMAND: one command on the VM's monitor (VM_MONITOR=1)
vm_monitor() {
	printf '%s\n' "$2" | socat -t 2 - "UNIX-CONNECT:$WORK/$1.mon" >>"$WORK/$1.monitor" 2>&1
}

# seconds since vm_start, for the per-test summary
vm_elapsed() {
	awk -v s="$(cat "$WORK/$1.start")" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'
}

vm_running() { kill -0 "${VM_PID[$1]}" 2>/dev/null; }

vm_wait() {
	local name=$1 pattern=$2 limit=${3:-}
	local deadline=${VM_DEADLINE[$name]}
	[ -n "$limit" ] && deadline=$(( $(date +%s) + limit * TCG_SCALE ))
	while :; do
		tr -d '\r' <"$LOGS/$name.log" | grep -qE "$pattern" && return 0
		vm_running "$name" || { tr -d '\r' <"$LOGS/$name.log" | grep -qE "$pattern"; return; }
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# vm_wait_exit NAME: wait until QEMU exits (the guest powered off); past the
# deadline QEMU is killed and 124 returned. Otherwise QEMU's exit status.
vm_wait_exit() {
	local name=$1 rc=0
	while vm_running "$name" && [ "$(date +%s)" -lt "${VM_DEADLINE[$name]}" ]; do sleep 0.2; done
	if vm_running "$name"; then
		vm_kill "$name"
		return 124
	fi
	wait "${VM_PID[$name]}" || rc=$?
	unset "VM_PID[$name]"
	return $rc
}

vm_kill() {
	[ -n "${VM_PID[$1]:-}" ] || return 0
	kill -9 "${VM_PID[$1]}" 2>/dev/null
	wait "${VM_PID[$1]}" 2>/dev/null
	unset "VM_PID[$1]"
}

vm_failed() {
	diag "serial log kept: $LOGS/$1.log (last lines follow)"
	tr -d '\r' <"$LOGS/$1.log" | tail -n 25 | sed 's/^/#   | /'
	[ -s "$WORK/$1.stdout" ] && sed 's/^/#   qemu: /' "$WORK/$1.stdout" | tail -5
	return 0
}

# The first pretty-printed JSON document on the serial log: from a line that
# is exactly "{" to the next line that is exactly "}". Kernel messages printed
# meanwhile (a USB disk that shows up while the job writes) are left out, also
# when one cut a line of the document in two.
vm_json() {
	tr -d '\r' <"$LOGS/$1.log" | awk '
		/^\{$/ { on = 1 }
		on {
			line = held $0; held = ""
			if (match(line, /\[ *[0-9]+\.[0-9]+\] /)) { held = substr(line, 1, RSTART - 1); next }
			print line
			if (line ~ /^\}$/) exit
		}'
}

fw_bios() { echo "-machine pc"; }
fw_uefi() {
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/$1.vars"
	echo "-machine q35 -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
	     "-drive if=pflash,format=raw,unit=1,file=$WORK/$1.vars"
}
fw_uefi_sb() {
	cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$WORK/$1.vars"
	echo "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on" \
	     "-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd" \
	     "-drive if=pflash,format=raw,unit=1,file=$WORK/$1.vars"
}

# disk_args BUS FILE ID [ro] [boot]: ro attaches read-only; boot makes it
# the first boot device (bootindex=0)
disk_args() {
	local bus=$1 file=$2 id=$3 fmt=raw ro='' boot='' f
	shift 3
	for f in "$@"; do case $f in ro) ro=,readonly=on ;; boot) boot=,bootindex=0 ;; esac; done
	case $file in *.qcow2) fmt=qcow2 ;; esac
	# IDE/AHCI disks cannot be read-only: writes go to a throwaway overlay
	[ "$bus" = ahci ] && [ -n "$ro" ] && ro=,snapshot=on
	local drv="-drive if=none,id=$id,format=$fmt,file=$file$ro"
	case $bus in
	virtio-blk) echo "$drv -device virtio-blk-pci,drive=$id,serial=$id$boot" ;;
	virtio-scsi) echo "$drv -device virtio-scsi-pci,id=scsi-$id -device scsi-hd,bus=scsi-$id.0,drive=$id,serial=$id$boot" ;;
	ahci) echo "$drv -device ahci,id=ahci-$id -device ide-hd,bus=ahci-$id.0,drive=$id,serial=$id$boot" ;;
	nvme) echo "$drv -device nvme,drive=$id,serial=$id$boot" ;;
	usb) echo "$drv -device qemu-xhci,id=xhci-$id -device usb-storage,bus=xhci-$id.0,drive=$id,removable=on$boot" ;;
	cdrom) echo "$drv,media=cdrom -device ide-cd,drive=$id$boot" ;;
	*) echo "disk_args: unknown bus $bus" >&2; return 1 ;;
	esac
}
