#!/bin/bash
# Bad input: corrupt and truncated partition tables, files that are no disks.
# Each gets a clear message and exit status 1, never a crash (status >= 128
# or a sanitizer report), and the image is never modified.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

truncate -s 32M good.img
printf 'label: gpt\nsize=8M, name=one\nsize=8M, name=two\n' | sfdisk -q good.img
last=$(( $(stat -c %s good.img) / 512 - 1 ))

cp good.img primary.img      # primary header garbage, backup intact
dd if=/dev/urandom of=primary.img bs=512 seek=1 count=1 conv=notrunc status=none
cp primary.img both.img      # both headers garbage
dd if=/dev/urandom of=both.img bs=512 seek="$last" count=1 conv=notrunc status=none
head -c 10M good.img >truncated.img
: >zero.img
head -c 100 good.img >tiny.img
mkdir adir

# expect NAME STATUS PATTERN FILE...: exit status and a message matching PATTERN
expect() {
	local name=$1 want=$2 pattern=$3; shift 3
	local before; before=$(cat "$@" 2>/dev/null | sha256sum)
	"$MIGRATOR" inventory "$@" >out.txt 2>&1
	local rc=$?
	if [ "$rc" -ne "$want" ]; then diag "$name: exit $rc, wanted $want"; cat out.txt | sed 's/^/#   /'; not_ok "$name: exit status"; return; fi
	ok "$name: exit status $want"
	check "$name: message says '$pattern'" grep -qiE "$pattern" out.txt
	check "$name: no sanitizer report" not grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' out.txt
	check "$name: input unchanged" test "$before" = "$(cat "$@" 2>/dev/null | sha256sum)"
}

expect "primary GPT corrupt, backup good" 1 "primary GPT table is corrupt.*backup" primary.img
"$MIGRATOR" inventory --json primary.img >out.json 2>/dev/null
check "primary corrupt: both partitions still read from the backup" \
	test "$(jq -c '[.blockdevices[0].children[].partlabel]' out.json)" = '["one","two"]'
check "primary corrupt: JSON carries the error" \
	test "$(jq -r '.blockdevices[0].warnings[] | select(.severity=="error") | .code' out.json)" = partition-table
expect "both GPT headers corrupt" 1 "neither the primary nor the backup GPT header is valid" both.img
expect "truncated image" 1 "truncated image" truncated.img
expect "zero-length file" 1 "zero.img: is empty" zero.img
expect "file smaller than a sector" 1 "tiny.img: is empty or smaller than one 512-byte sector" tiny.img
expect "directory" 1 "adir: is a directory" adir
expect "nonexistent path" 1 "nope.img: No such file or directory" nope.img
expect "character device" 1 "neither a block device nor a disk image" /dev/null
expect "one bad among good ones still lists the good" 1 "nope.img: No such file" good.img nope.img
grep -q "good.img" out.txt; check "... and the good image is listed" test $? -eq 0
"$MIGRATOR" inventory --no-such-option >out.txt 2>&1
check "unknown option: exit 2" test $? -eq 2
check "unknown option: names it and points at --help" grep -q "unrecognized option '--no-such-option'.*" out.txt
check "unknown option: points at --help" grep -q "Try 'migrator --help'" out.txt
"$MIGRATOR" frobnicate >out.txt 2>&1
check "unknown command: exit 2" test $? -eq 2
"$MIGRATOR" inventory --help >out.txt 2>&1
check "--help: exit 0 and usage on stdout" grep -q '^Usage: migrator inventory' out.txt
done_testing
