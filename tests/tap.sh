# tests/tap.sh — TAP output for the shell tests (CLI and QEMU), sourced.
TAP_N=0
TAP_FAILED=0
ok() { TAP_N=$((TAP_N+1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N+1)); TAP_FAILED=$((TAP_FAILED+1)); echo "not ok $TAP_N - $*"; }
diag() { printf '# %s\n' "$@"; }
# check DESCRIPTION COMMAND... : one TAP line from a command's status
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# not COMMAND...: succeeds when COMMAND fails (for use with check)
not() { ! "$@"; }
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
