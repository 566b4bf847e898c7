#!/bin/sh
# One small harness for every test: each test is one process.
#   tests/run.sh TEST ...
# A test may print TAP lines ("ok N - what" / "not ok N - what" / "ok N # SKIP why");
# those are counted one by one. A test that prints none counts as one test by its
# exit status: 0 passed, 77 skipped, anything else failed. A test that prints TAP
# lines and exits non-zero adds one failure for the exit itself.
# Each test runs with a hard timeout (TEST_TIMEOUT, seconds, default 300).
# Output: TAP ("ok"/"not ok" per test, test output as "#" diagnostics on failure)
# and a closing line "N passed, N failed, N skipped".
set -u
passed=0 failed=0 skipped=0 n=0
timeout=${TEST_TIMEOUT:-300}
log=$(mktemp) || exit 2
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	name=${t#./}
	start=$(date +%s.%N)
	timeout --kill-after=10 "$timeout" "$t" >"$log" 2>&1
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.2f", e-s}')
	subtests=$(grep -cE '^(not )?ok [0-9]+' "$log")
	if [ "$subtests" -gt 0 ]; then
		while IFS= read -r line; do
			case $line in
			"not ok "*) n=$((n+1)); failed=$((failed+1))
				echo "not ok $n - $name: ${line#not ok * - }" ;;
			"ok "*"# SKIP"*|"ok "*"# skip"*) n=$((n+1)); skipped=$((skipped+1))
				echo "ok $n - $name: ${line#ok * - }" ;;
			"ok "*) n=$((n+1)); passed=$((passed+1))
				echo "ok $n - $name: ${line#ok * - }" ;;
			esac
		done <"$log"
		if [ $rc -ne 0 ]; then
			n=$((n+1)); failed=$((failed+1))
			echo "not ok $n - $name: exited with status $rc"
		fi
	else
		n=$((n+1))
		case $rc in
		0) passed=$((passed+1)); echo "ok $n - $name (${secs}s)" ;;
		77) skipped=$((skipped+1)); echo "ok $n - $name # SKIP $(tail -n1 "$log")" ;;
		*) failed=$((failed+1)); echo "not ok $n - $name (exit $rc, ${secs}s)" ;;
		esac
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] || grep -q '^not ok' "$log"; then
		sed 's/^/#   /' "$log" | tail -n 60
	fi
	[ -n "${TEST_VERBOSE:-}" ] && sed 's/^/#   /' "$log"
	echo "# $name: ${secs}s"
done
echo "1..$n"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
