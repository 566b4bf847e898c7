#!/bin/sh
# Checks that every symbol a miniconfig asks for survived into the final .config.
#
#   kernel-config/check-config.sh MINICONFIG DOTCONFIG [SRCTREE]
#
# Kconfig silently drops a request whose dependencies are not met (a leaf
# driver under a menu that allnoconfig left off, an option that needs another
# subsystem). This compares each request against the result:
#   CONFIG_X=y | CONFIG_X=123 | CONFIG_X="str"   must appear with that value;
#   CONFIG_X=n | # CONFIG_X is not set          must be unset or absent.
# A symbol unset because it does not exist at all (a typo, a rename) passes the
# second rule silently; with SRCTREE, such "=n" symbols must be defined in some
# Kconfig file, and each dropped symbol is shown with its "depends on" lines.
#
# Prints one line per problem on stderr; exit status 0 when none, 1 otherwise,
# 2 on misuse.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: check-config.sh MINICONFIG DOTCONFIG [SRCTREE]" >&2
	exit 2
fi
mini=$1 dot=$2 src=${3:-}
for f in "$mini" "$dot"; do
	[ -r "$f" ] || { echo "check-config: cannot read $f" >&2; exit 2; }
done

# One line per problem: "<kind>\t<SYMBOL>\t<requested>\t<actual>", kind being
# dropped (absent from .config), differs, unset-unknown (an =n request for an
# absent symbol, to be looked up in the Kconfig files) or duplicate.
problems=$(awk '
	function want(sym, val, where) {
		if (sym in req && req[sym] != val)
			printf "duplicate\t%s\t%s\t%s\n", sym, req[sym], where
		req[sym] = val
		order[++n] = sym
	}
	FNR == 1 { file++ }
	file == 1 && /^CONFIG_[A-Za-z0-9_]+=/ {
		i = index($0, "="); sym = substr($0, 8, i - 8); val = substr($0, i + 1)
		sub(/[ \t]+$/, "", val)
		want(sym, val, FILENAME ":" FNR)
		next
	}
	file == 1 && /^# CONFIG_[A-Za-z0-9_]+ is not set/ { want(substr($2, 8), "n", FILENAME ":" FNR); next }
	file == 1 && /^[ \t]*(#.*)?$/ { next }
	file == 1 { printf "syntax\t-\t-\t%s:%d\n", FILENAME, FNR; next }
	file == 2 && /^CONFIG_[A-Za-z0-9_]+=/ {
		i = index($0, "="); got[substr($0, 8, i - 8)] = substr($0, i + 1); next
	}
	file == 2 && /^# CONFIG_[A-Za-z0-9_]+ is not set/ { got[substr($2, 8)] = "n"; next }
	END {
		for (k = 1; k <= n; k++) {
			sym = order[k]
			if (sym in seen) continue
			seen[sym] = 1
			w = req[sym]
			if (!(sym in got)) {
				if (w == "n") printf "unset-unknown\t%s\tn\t-\n", sym
				else printf "dropped\t%s\t%s\t-\n", sym, w
			} else if (got[sym] != w)
				printf "differs\t%s\t%s\t%s\n", sym, w, got[sym]
		}
	}' "$mini" "$dot")

# Where a symbol is defined and what it depends on, from the Kconfig files:
# its own "depends on" lines, then the enclosing "if"/"menu ... depends on"
# blocks of its file and of the files that source it, innermost first.
kconfig_of() {
	grep -rlE --include='Kconfig*' "^[[:space:]]*(menu)?config $1[[:space:]]*\$" "$src" 2>/dev/null |
		grep -v "^$src/arch/" ; grep -rlE --include='Kconfig*' \
		"^[[:space:]]*(menu)?config $1[[:space:]]*\$" "$src/arch/x86" 2>/dev/null
}
# Conditions of the if/menu blocks open at line $2 of file $1.
enclosing() {
	awk -v stop="$2" '
		NR >= stop { exit }
		/^if[ \t]/ { c = $0; sub(/^if[ \t]+/, "", c); st[++d] = "if " c; m = 0; next }
		/^endif/ { d--; next }
		/^menu[ \t]+"/ { st[++d] = ""; m = 1; next }
		/^endmenu/ { d--; next }
		/^[ \t]*(menu)?config[ \t]|^[ \t]*(choice|comment)/ { m = 0 }
		m && /^[ \t]*depends on/ { c = $0; sub(/^[ \t]*/, "", c); st[d] = (st[d] == "" ? "" : st[d] " && ") c }
		END { for (i = d; i > 0; i--) if (st[i] != "") print st[i] }
	' "$1"
}
explain() {
	for kf in $(kconfig_of "$1"); do
		rel=${kf#"$src"/}
		line=$(grep -nE "^[[:space:]]*(menu)?config $1[[:space:]]*\$" "$kf" | head -n 1 | cut -d: -f1)
		awk -v s="$1" -v f="$rel" '
			$0 ~ "^[ \t]*(menu)?config " s "[ \t]*$" { p = 1; next }
			p && /^[ \t]*((menu)?config|(end)?(menu|if|choice)|comment|source)([ \t]|$)/ { p = 0 }
			p && /^[ \t]*depends on/ { sub(/^[ \t]*/, ""); printf "    %s: %s\n", f, $0 }
		' "$kf"
		# Walk up the chain of files that source this one (at most 8 levels).
		f=$kf n=0
		while [ -n "$line" ] && [ $n -lt 8 ]; do
			enclosing "$f" "$line" | sed "s|^|    ${f#"$src"/} (enclosing): |"
			hit=$(grep -rnF --include='Kconfig*' "source \"${f#"$src"/}\"" "$src" | head -n 1)
			f=${hit%%:*} rest=${hit#*:} line=${rest%%:*} n=$((n + 1))
		done
	done
}

tab=$(printf '\t')
echo "$problems" | while IFS=$tab read -r kind sym want got; do
	case $kind in
	'') continue ;;
	dropped)
		echo "check-config: CONFIG_$sym=$want requested, not in .config (dependencies not met?)" >&2
		[ -n "$src" ] && explain "$sym" >&2 ;;
	differs)
		[ "$got" = n ] && got="not set"
		echo "check-config: CONFIG_$sym=$want requested, .config has $got" >&2
		[ -n "$src" ] && explain "$sym" >&2 ;;
	unset-unknown)
		# Absent is fine for "=n" if the symbol exists (dependencies unmet);
		# without SRCTREE it cannot be told from a typo, so accept it.
		if [ -z "$src" ] || [ -n "$(kconfig_of "$sym")" ]; then continue; fi
		echo "check-config: CONFIG_$sym=n requested, but no Kconfig file defines $sym" >&2 ;;
	duplicate)
		echo "check-config: CONFIG_$sym given twice with different values ($want, then at $got)" >&2 ;;
	syntax)
		echo "check-config: $got: not a CONFIG_ line or comment" >&2 ;;
	esac
	echo x
done | {
	n=$(wc -l)
	if [ "$n" -gt 0 ]; then
		echo "check-config: $n problem(s): requested symbols missing from $dot" >&2
		exit 1
	fi
}
