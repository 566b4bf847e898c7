#!/bin/bash
# Authenticode of real EFI binaries (migrator/lib/pe.h, pkcs7.h), through the
# test-pe driver (tests/unit/test-pe.c run with file arguments; verify's CLI
# is elsewhere): Debian's Microsoft-signed shim, Debian-signed GRUB, MokManager,
# fallback and the kernel, unsigned builds, binaries we sign ourselves with
# sbsign and osslsigncode (SHA-1, SHA-512), and tampered copies. Every image
# hash is compared with pesign's (or osslsigncode's). What is not installed is
# skipped (apt-get install shim-signed shim-unsigned grub-efi-amd64-signed
# grub-efi-amd64-bin sbsigntool pesign osslsigncode openssl).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
DRIVER=$(dirname "$MIGRATOR")/tests/test-pe
[ -x "$DRIVER" ] || { echo "no test-pe driver next to $MIGRATOR"; exit 77; }

SHIM=/usr/lib/shim/shimx64.efi.signed
SHIM_UNSIGNED=/usr/lib/shim/shimx64.efi
MM=/usr/lib/shim/mmx64.efi.signed
FB=/usr/lib/shim/fbx64.efi.signed
GRUB=/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
GRUB_UNSIGNED=/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | head -1)

# inspect FILE: the driver's report in out.txt
inspect() {
	"$DRIVER" "$1" >out.txt 2>&1
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' out.txt; then
		sed 's/^/#   /' out.txt; not_ok "$1: sanitizer report"
	fi
}
field() { sed -n "s/^$1: //p" out.txt | head -1; }
# is KEY VALUE: one TAP line for a field of the last report
is() {
	local got; got=$(field "$1")
	if [ "$got" = "$2" ]; then ok "$NAME: $1 is '$2'"
	else not_ok "$NAME: $1 is '$got', wanted '$2'"; sed 's/^/#   /' out.txt; fi
}
like() {
	local got; got=$(field "$1")
	if [[ $got =~ $2 ]]; then ok "$NAME: $1 matches '$2'"
	else not_ok "$NAME: $1 is '$got', wanted /$2/"; sed 's/^/#   /' out.txt; fi
}
skip() { TAP_N=$((TAP_N+1)); echo "ok $TAP_N # SKIP $*"; }
# ref_hash FILE: the Authenticode SHA-256 by another implementation
ref_hash() {
	if command -v pesign >/dev/null; then
		pesign -h -i "$1" 2>/dev/null | sed -n 's/^hash: //p'
	fi
}
same_hash_as_pesign() {
	command -v pesign >/dev/null || { skip "$NAME: pesign not installed"; return; }
	is image_digest "$(ref_hash "$1")"
}
# le32 FILE OFFSET
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
# flip FILE OFFSET: xor one byte with 0x01
flip() {
	local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# cert_off FILE: the Security directory's file offset (PE32+)
cert_off() { local pe; pe=$(le32 "$1" 60); le32 "$1" $((pe + 24 + 112 + 32)); }
headers_size() { local pe; pe=$(le32 "$1" 60); le32 "$1" $((pe + 24 + 60)); }

# --- distribution binaries ----------------------------------------------------
if [ -r "$SHIM" ]; then
	NAME=shim; inspect "$SHIM"
	is result 0; is machine x86_64; is pe32plus 1; is subsystem 10
	is signed 1; is alg sha256; is digest_match 1; is sig_valid 1; is error ""
	like subject '^CN=Microsoft Windows UEFI Driver Publisher,'
	like issuer '^CN=Microsoft Corporation UEFI CA 2011,'
	same_hash_as_pesign "$SHIM"
	# shim 16 carries a second signature, from the 2023 CA: each one is checked
	if [ "$(field signatures)" -gt 1 ]; then
		check "$NAME: every signature verifies" \
			test "$(grep -c '^sig[0-9]*: parsed=1 alg=sha256 match=1 valid=1' out.txt)" = "$(field signatures)"
	fi
else
	skip "shim-signed not installed"
fi

for f in "$MM:shim" "$FB:shim" "$GRUB:grub2" "$KERNEL:linux"; do
	file=${f%:*} signer=${f##*:}
	[ -n "$file" ] && [ -r "$file" ] || { skip "${file:-kernel} not installed"; continue; }
	NAME=$(basename "$file"); inspect "$file"
	is result 0; is uefi64 1; is signed 1; is digest_match 1; is sig_valid 1
	is subject "CN=Debian Secure Boot Signer 2022 - $signer"
	is issuer "CN=Debian Secure Boot CA"
	same_hash_as_pesign "$file"
done

for file in "$SHIM_UNSIGNED" "$GRUB_UNSIGNED"; do
	[ -r "$file" ] || { skip "$file not installed"; continue; }
	NAME="unsigned $(basename "$file")"; inspect "$file"
	is result 0; is signed 0; is signatures 0; is digest_match 0; is sig_valid 0; is error ""
	same_hash_as_pesign "$file"
done
# GRUB's signed binary is the monolithic one plus a signature
if [ -r "$GRUB" ] && [ -r "$GRUB_UNSIGNED" ]; then
	NAME="grub signed vs unsigned"; inspect "$GRUB_UNSIGNED"; h=$(field image_digest)
	inspect "$GRUB"; is image_digest "$h"
fi

# --- signed here --------------------------------------------------------------
UNSIGNED=$SHIM_UNSIGNED
[ -r "$UNSIGNED" ] || UNSIGNED=$GRUB_UNSIGNED
if [ -r "$UNSIGNED" ] && command -v sbsign >/dev/null && command -v openssl >/dev/null; then
	openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout test.key \
		-out test.crt -subj "/CN=migrator test signer/O=migrator" 2>/dev/null
	sbsign --key test.key --cert test.crt --output signed.efi "$UNSIGNED" 2>/dev/null

	NAME="sbsign"; inspect signed.efi
	is result 0; is signed 1; is signatures 1; is alg sha256; is digest_match 1; is sig_valid 1
	is subject "O=migrator,CN=migrator test signer"
	is issuer "O=migrator,CN=migrator test signer"
	same_hash_as_pesign signed.efi
	check "$NAME: sbverify agrees" sbverify --cert test.crt signed.efi >/dev/null 2>&1

	# one byte of code changed after signing
	cp signed.efi tampered.efi; flip tampered.efi $(( $(headers_size tampered.efi) + 100 ))
	NAME="byte flipped in a section"; inspect tampered.efi
	is result 0; is signed 1; is digest_match 0; is sig_valid 1
	like error 'modified after signing'
	check "$NAME: sbverify agrees" not sbverify --cert test.crt tampered.efi >/dev/null 2>&1

	# the table cut short
	size=$(stat -c %s signed.efi)
	head -c $((size - 100)) signed.efi >truncated.efi
	NAME="certificate table truncated"; inspect truncated.efi
	is result 0; is signed 1; is signatures 0; is sig_valid 0
	like error 'certificate table is truncated'

	# one byte of the RSA signature: the last element of the DER (no unsigned attributes)
	off=$(cert_off signed.efi)
	derlen=$(( $(od -An -tu1 -j $((off + 10)) -N1 signed.efi) * 256 + $(od -An -tu1 -j $((off + 11)) -N1 signed.efi) + 4 ))
	cp signed.efi badsig.efi; flip badsig.efi $((off + 8 + derlen - 10))
	NAME="byte flipped in the signature"; inspect badsig.efi
	is result 0; is digest_match 1; is sig_valid 0
	like error 'signature does not verify'

	# one byte of the signed image digest (inside SpcIndirectDataContent)
	hexdig=$(sed -n 's/^signed_digest: //p' <("$DRIVER" signed.efi))
	pos=$(LC_ALL=C grep -obUaP "$(echo "$hexdig" | sed 's/../\\x&/g')" signed.efi | head -1 | cut -d: -f1)
	if [ -n "$pos" ]; then
		cp signed.efi baddigest.efi; flip baddigest.efi $((pos + 5))
		NAME="byte flipped in the signed digest"; inspect baddigest.efi
		is result 0; is digest_match 0; is sig_valid 0
		like error 'messageDigest attribute does not match'
	else
		skip "signed digest not found in the file"
	fi

	# WIN_CERTIFICATE of a type we do not know
	cp signed.efi badtype.efi; flip badtype.efi $((off + 6))
	NAME="certificate of another type"; inspect badtype.efi
	is result 0; is signed 1; is signatures 0; like error 'no PKCS#7 signature'

	# SHA-1 and SHA-512 Authenticode, by another signer
	if command -v osslsigncode >/dev/null; then
		for alg in sha1 sha512; do
			osslsigncode sign -h $alg -certs test.crt -key test.key -in "$UNSIGNED" \
				-out "$alg.efi" >/dev/null 2>&1
			NAME="osslsigncode $alg"; inspect "$alg.efi"
			is result 0; is alg $alg; is digest_match 1; is sig_valid 1
			is subject "O=migrator,CN=migrator test signer"
			want=$(osslsigncode verify -in "$alg.efi" 2>/dev/null | sed -n 's/^Calculated message digest : *\([0-9A-F]*\).*/\1/p' | head -1 | tr A-F a-f)
			is image_digest "$want"
		done
	else
		skip "osslsigncode not installed"
	fi
else
	skip "no unsigned EFI binary, sbsign or openssl"
fi

# --- not a PE -------------------------------------------------------------------
head -c 65536 /dev/urandom >random.bin
NAME="random bytes"; inspect random.bin
is result -74; is why "no MZ header"
printf 'MZ' >mz.bin; head -c 200 /dev/urandom >>mz.bin
NAME="MZ and noise"; inspect mz.bin
is result -74
: >empty.bin
NAME="empty file"; inspect empty.bin
is result -74

done_testing
