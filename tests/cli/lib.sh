# tests/cli/lib.sh — shared by the CLI tests: TAP output, scratch dir, disk
# image builders (real sfdisk/sgdisk/mkfs/cryptsetup/pvcreate on files) and the
# reference comparison against `blkid -p` and `sfdisk --json`.
# Needs root (loop devices for pvcreate). $MIGRATOR is the binary under test.
set -u
: "${MIGRATOR:?set MIGRATOR to the migrator binary under test}"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/migrator-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
LVMCONF='devices { use_devicesfile=0 obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }'

. "$TESTS_DIR/tap.sh"

# part_field IMG PARTNO FIELD: a field of sfdisk --json for partition PARTNO (by number, not index)
part_field() {
	sfdisk --json "$1" | jq -er --arg n "$2" --arg f "$3" \
		'.partitiontable.partitions[] | select(.node | test("[^0-9]" + $n + "$")) | .[$f]'
}
sector_of() { part_field "$1" "$2" start; }

# put_fs IMG PARTNO FSFILE: copy a filesystem image into partition PARTNO
put_fs() {
	dd if="$3" of="$1" bs=512 seek="$(sector_of "$1" "$2")" conv=notrunc,sparse status=none
}
# mkfs_file FILE SIZE TYPE [ARGS...]: a filesystem in its own sparse file
mkfs_file() {
	local f=$1 size=$2 type=$3; shift 3
	rm -f "$f"; truncate -s "$size" "$f"
	case $type in
	ext4) mkfs.ext4 -q -F "$@" "$f" ;;
	xfs) mkfs.xfs -q -f "$@" "$f" ;;
	vfat) mkfs.vfat "$@" "$f" >/dev/null ;;
	btrfs) mkfs.btrfs -q -f -M "$@" "$f" >/dev/null ;;
	swap) mkswap -q "$@" "$f" ;;
	luks) printf 'test-passphrase' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --key-file - "$@" "$f" ;;
	lvm) local l; l=$(losetup -f --show "$f") &&
		pvcreate -q --config "$LVMCONF" "$@" "$l" 2>/dev/null; local rc=$?; losetup -d "$l"; return $rc ;;
	md) python3 "$TESTS_DIR/fixtures/mk-md-member.py" "$f" "$@" ;;
	*) echo "mkfs_file: unknown type $type" >&2; return 1 ;;
	esac
}

# inventory_json IMG: runs the binary, keeps JSON in $SCRATCH/out.json; returns its status
inventory_json() {
	"$MIGRATOR" inventory --json "$@" >"$SCRATCH/out.json" 2>"$SCRATCH/err.txt"
}

# blkid_val ARGS... KEY: one value of `blkid -p -o export ARGS`
blkid_val() {
	local key=${!#}
	blkid -p -o value -s "$key" "${@:1:$#-1}" 2>/dev/null
}

# compare_with_reference IMG: every disk- and partition-level field that
# blkid -p and sfdisk --json report must match migrator's JSON. Prints the
# differences; returns non-zero if any.
compare_with_reference() {
	local img=$1 out=$SCRATCH/out.json bad=0 n i
	inventory_json "$img" || { diag "inventory exited $?: $(cat "$SCRATCH/err.txt")"; return 1; }
	jq -e . "$out" >/dev/null || { diag "output is not JSON"; return 1; }
	eq() { # what expected actual
		if [ "${2,,}" != "${3,,}" ]; then diag "$img: $1: blkid/sfdisk say '$2', migrator says '$3'"; bad=1; fi
	}
	local d='.blockdevices[0]'
	eq PTTYPE "$(blkid_val "$img" PTTYPE)" "$(jq -r "$d.pttype // empty" "$out")"
	eq PTUUID "$(blkid_val "$img" PTUUID)" "$(jq -r "$d.ptuuid // empty" "$out")"
	eq TYPE "$(blkid_val "$img" TYPE)" "$(jq -r "$d.fstype // empty" "$out")"
	eq UUID "$(blkid_val "$img" UUID)" "$(jq -r "$d.uuid // empty" "$out")"
	eq LABEL "$(blkid_val "$img" LABEL)" "$(jq -r "$d.label // empty" "$out")"
	eq size "$(stat -c %s "$img")" "$(jq -r "$d.size" "$out")"
	n=$(sfdisk --json "$img" 2>/dev/null | jq '.partitiontable.partitions | length' 2>/dev/null)
	n=${n:-0}
	eq partitions "$n" "$(jq "$d.children | length" "$out")"
	local sf; sf=$(sfdisk --json "$img" 2>/dev/null)
	for ((i = 0; i < n; i++)); do
		local p=".partitiontable.partitions[$i]" c="$d.children[$i]"
		local start size type label
		start=$(jq -r "$p.start" <<<"$sf"); size=$(jq -r "$p.size" <<<"$sf")
		type=$(jq -r "$p.type" <<<"$sf")
		[ "$(jq -r .partitiontable.label <<<"$sf")" = dos ] && type=0x$type
		eq "part$i path" "$(jq -r "$p.node" <<<"$sf")" "$(jq -r "$c.path" "$out")"
		eq "part$i start" "$start" "$(jq -r "$c.start" "$out")"
		eq "part$i sectors" "$size" "$(jq -r "$c.sectors" "$out")"
		eq "part$i type" "$type" "$(jq -r "$c.parttype" "$out")"
		eq "part$i name" "$(jq -r "$p.name // empty" <<<"$sf")" "$(jq -r "$c.partlabel // empty" "$out")"
		if [ "$(jq -r .partitiontable.label <<<"$sf")" = gpt ]; then
			eq "part$i partuuid" "$(jq -r "$p.uuid" <<<"$sf")" "$(jq -r "$c.partuuid" "$out")"
		else
			local node=$(jq -r "$p.node" <<<"$sf")
			eq "part$i partuuid" "$(blkid_val "$img" PTUUID)-$(printf %02x "${node##*[!0-9]}")" \
				"$(jq -r "$c.partuuid" "$out")"
		fi
		[ "$type" = 0x5 ] || [ "$type" = 0xf ] || [ "$type" = 0x85 ] && continue  # extended: no fs
		local o=(-O $((start * 512)) -S $((size * 512)) "$img") key field
		for key in TYPE:fstype UUID:uuid UUID_SUB:uuid-sub LABEL:label VERSION:fsver; do
			field=${key#*:}; key=${key%%:*}
			eq "part$i $key" "$(blkid_val "${o[@]}" "$key")" "$(jq -r "$c[\"$field\"] // empty" "$out")"
		done
	done
	return $bad
}

# mk_copy_source IMG: a 128 MiB GPT disk for the copy tests: partition 1 a
# 32 MiB ext4 about half full of random files, partition 2 with 20 MiB of
# random data amid zeros, and zeros elsewhere.
mk_copy_source() {
	local img=$1 d=$SCRATCH/src-files
	rm -rf "$d"; mkdir -p "$d/sub"
	head -c 9M /dev/urandom >"$d/big.bin"
	head -c 5M /dev/urandom >"$d/sub/mid.bin"
	echo hello >"$d/sub/small.txt"
	truncate -s 128M "$img"
	printf 'label: gpt\nsize=32M, name=root\nsize=64M, name=data\n' | sfdisk -q "$img"
	mkfs_file "$SCRATCH/src-fs.img" 32M ext4 -d "$d" -L copyroot
	put_fs "$img" 1 "$SCRATCH/src-fs.img"
	dd if=/dev/urandom of="$img" bs=1M count=20 seek=$(( $(sector_of "$img" 2) / 2048 + 8 )) \
		conv=notrunc status=none
	rm -rf "$d" "$SCRATCH/src-fs.img"
}

# zero_range_ok IMG OFFSET LEN: the range reads as zeros
zero_range_ok() {
	cmp -s -n "$3" <(tail -c +$(( $2 + 1 )) "$1") /dev/zero
}
