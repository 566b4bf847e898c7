#!/bin/bash
# Block copy over HTTPS on loopback: round trip, wrong token, wrong pin, bad
# token files, refused targets, and links that a proxy cuts again and again
# or tampers with. Each refusal has its own message and leaves the target
# unchanged; the source is never written.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

mk_copy_source src.img
src_sha=$(sha256sum <src.img)
echo "test-token-0123456789" >tok
RX_PID=

# receiver ARGS...: starts `migrator receive` on an ephemeral port; sets PORT PIN
receiver() {
	rm -f info.json
	"$MIGRATOR" receive --listen 127.0.0.1:0 --info-file info.json --state-dir "$SCRATCH/state" "$@" \
		>rx.out 2>rx.err &
	RX_PID=$!
	for _ in $(seq 100); do [ -s info.json ] && break; kill -0 $RX_PID 2>/dev/null || break; sleep 0.1; done
	PORT=$(jq -r .port info.json 2>/dev/null) PIN=$(jq -r .pin info.json 2>/dev/null)
}
# receiver_status: waits (at most 60 s) for the receiver; returns its exit status
receiver_status() {
	local i
	for i in $(seq 600); do kill -0 $RX_PID 2>/dev/null || break; sleep 0.1; done
	kill $RX_PID 2>/dev/null
	wait $RX_PID
}
stop_receiver() { kill $RX_PID 2>/dev/null; wait $RX_PID 2>/dev/null; }
send() { timeout 120 "$MIGRATOR" send -q --retries 4 --to "https://127.0.0.1:${SEND_PORT:-$PORT}" --pin "$PIN" "$@" >tx.out 2>&1; }
sanitizer_clean() { not grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' rx.err tx.out; }
mkdir -p state

# Round trip.
receiver --token-file tok --map "0=$SCRATCH/t1.img"
check "receiver prints its pin" grep -q "^pin sha256//" rx.out
send --token-file tok src.img
check "send over TLS: exit 0" test $? -eq 0
receiver_status
check "receiver: exit 0" test $? -eq 0
check "target equals the source" test "$(sha256sum <t1.img)" = "$src_sha"
check "receiver checked the digest" grep -q "digest matches" rx.err
check "progress is JSON lines when not on a terminal" jq -se 'map(select(.event=="progress" and .total > 0)) | length > 0' rx.err
check "no sanitizer report" sanitizer_clean

# A generated token is printed, and works.
receiver --map "0=$SCRATCH/t2.img"
jq -r .token info.json >gen.tok
check "a generated token is printed" grep -q "^token $(cat gen.tok)\$" rx.out
send --token-file gen.tok src.img
check "the printed token works" test $? -eq 0 -a "$(sha256sum <t2.img)" = "$src_sha"
receiver_status

# Wrong token, wrong pin, bad token files: refused, target untouched.
truncate -s 128M t3.img
t3_sha=$(sha256sum <t3.img)
receiver --token-file tok --map "0=$SCRATCH/t3.img"
echo "wrong-token-9876543210" >bad.tok
send --token-file bad.tok src.img
check "wrong token: exit 1" test $? -eq 1
check "wrong token: says so" grep -q "refused the token" tx.out
check "wrong token: the receiver logs the refusal" grep -q "wrong or missing token" rx.err
good_pin=$PIN
PIN="sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
send --token-file tok src.img
check "wrong pin: exit 1, says the key does not match" test $? -eq 1 -a -n "$(grep "does not match --pin" tx.out)"
PIN=$good_pin
: >empty.tok
send --token-file empty.tok src.img
check "empty token file: exit 1, says empty" test $? -eq 1 -a -n "$(grep "token file .*empty.tok is empty" tx.out)"
send --token-file "$SCRATCH/no-such.tok" src.img
check "unreadable token file: exit 1, says it cannot read it" grep -q "cannot read the token file" tx.out
check "after all of these the target is unchanged" test "$(sha256sum <t3.img)" = "$t3_sha"
code() { curl -sk -o body.txt -w '%{http_code}' "$@"; }
check "a request without token: 401" test "$(code "https://127.0.0.1:$PORT/v1/status")" = 401
check "with the token: 200 and the status" test "$(code -H "Authorization: Bearer $(cat tok)" "https://127.0.0.1:$PORT/v1/status")" = 200 -a -n "$(grep '^finished 0' body.txt)"
check "an unknown endpoint: 404" test "$(code -H "Authorization: Bearer $(cat tok)" "https://127.0.0.1:$PORT/v1/nope")" = 404
check "a GET of the stream endpoint: 405" test "$(code -H "Authorization: Bearer $(cat tok)" "https://127.0.0.1:$PORT/v1/stream")" = 405
{ printf 'X-Big: '; head -c 300000 /dev/zero | tr '\0' a; echo; } >big.hdr
c=$(code -H @big.hdr -H "Authorization: Bearer $(cat tok)" "https://127.0.0.1:$PORT/v1/status")
check "a 300 KB request header is refused (HTTP $c; 000: connection closed)" test "$c" != 200
check "after all of these the target is unchanged" test "$(sha256sum <t3.img)" = "$t3_sha"
check "and the receiver still waits" kill -0 $RX_PID
stop_receiver

# Targets the receiver refuses.
truncate -s 100M small.img
receiver --token-file tok --map "0=$SCRATCH/small.img"
send --token-file tok src.img
check "target too small: sender exit 1 with the receiver's reason" test $? -eq 1 -a -n "$(grep "receiver refused: .*small.img is too small" tx.out)"
receiver_status
check "target too small: receiver exit 1" test $? -eq 1
check "target too small: unchanged" test "$(sha256sum <small.img)" = "$(head -c 100M /dev/zero | sha256sum)"

truncate -s 128M used.img
mkfs.ext4 -q -F used.img
used_sha=$(sha256sum <used.img)
receiver --token-file tok --map "0=$SCRATCH/used.img"
send --token-file tok src.img
check "target with a filesystem: refused, names it and --allow-overwrite" grep -q "used.img is not empty (ext4).*--allow-overwrite" tx.out
receiver_status
check "target with a filesystem: unchanged" test "$(sha256sum <used.img)" = "$used_sha"
receiver --token-file tok --map "0=$SCRATCH/used.img" --allow-overwrite
send --token-file tok src.img
check "with --allow-overwrite: copied" test $? -eq 0 -a "$(sha256sum <used.img)" = "$src_sha"
receiver_status

truncate -s 128M rescue.img
mkfs.vfat -n MIGRATOR rescue.img >/dev/null
receiver --token-file tok --map "0=$SCRATCH/rescue.img" --allow-overwrite
send --token-file tok src.img
check "the rescue medium as target: refused even with --allow-overwrite" grep -q "holds the rescue system" tx.out
receiver_status

# A link cut again and again: the copy resumes and completes.
start_proxy() {
	rm -f proxy.port
	python3 "$TESTS_DIR/fixtures/cutproxy.py" proxy.port "$PORT" "$@" 2>proxy.log &
	PROXY_PID=$!
	for _ in $(seq 50); do [ -s proxy.port ] && break; sleep 0.1; done
	SEND_PORT=$(cat proxy.port)
}
receiver --token-file tok --map "0=$SCRATCH/cut.img"
start_proxy cut 6000000 5
send --token-file tok --chunk-size 256K --retries 5 src.img
rc=$?
check "link cut 5 times: send exit 0" test $rc -eq 0
receiver_status
check "link cut: receiver exit 0" test $? -eq 0
check "link cut: target equals the source" test "$(sha256sum <cut.img)" = "$src_sha"
check "link cut: the receiver committed and waited" grep -q "connection lost; committed" rx.err
check "link cut: the sender resumed from committed bytes" grep -q "committed; resuming there" tx.out
check "link cut: the proxy cut 5 connections" test "$(grep -c 'cut at' proxy.log)" -eq 5
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null

receiver --token-file tok --map "0=$SCRATCH/tamper.img"
start_proxy tamper 3000000 2
send --token-file tok --chunk-size 256K src.img
check "a tampered byte on the wire: send exit 0 after resuming" test $? -eq 0
receiver_status
check "tampered: target equals the source" test "$(sha256sum <tamper.img)" = "$src_sha"
check "tampered: the connection was dropped and resumed" grep -q "retrying" tx.out
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null
SEND_PORT=

# Two disks in one session, the link cut between and inside them: each
# target equals its own source (the read-ahead claims chunks across disks).
{ head -c 12M /dev/urandom; head -c 2M /dev/zero; head -c 12M /dev/urandom; } >src2.img
src2_sha=$(sha256sum <src2.img)
truncate -s 26M two-b.img
receiver --token-file tok --map "0=$SCRATCH/two-a.img" --map "1=$SCRATCH/two-b.img" --allow-overwrite
start_proxy cut 4000000 30
send --token-file tok --chunk-size 256K --retries 6 src.img src2.img
check "two disks, link cut again and again: send exit 0" test $? -eq 0
receiver_status
check "two disks: receiver exit 0" test $? -eq 0
check "two disks: the first target equals the first source" test "$(sha256sum <two-a.img)" = "$src_sha"
check "two disks: the second target equals the second source" test "$(sha256sum <two-b.img)" = "$src2_sha"
check "two disks: each digest checked" test "$(grep -c "digest matches" rx.err)" -eq 2
# resumed inside the second disk: more committed than the whole first disk
check "two disks: a cut inside the second disk resumed there" \
	awk '/committed; resuming there/ { for (i = 1; i <= NF; i++) if ($i == "has" && $(i+1) > 134217728) ok = 1 } END { exit !ok }' tx.out
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null
SEND_PORT=

check "no sanitizer report" sanitizer_clean
check "the source is unchanged" test "$(sha256sum <src.img)" = "$src_sha"
done_testing
