#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Static checks of the whole tree, each must be silent:
#   module  sparse (C=2) + W=1 on KernelShim, built in a private copy of the
#           sources so it never races another build in KernelShim/;
#   swift   swift build with -warnings-as-errors (own scratch path);
#   pmem    no plain CPU loads from pmem in KernelShim (crc, compare or
#           memcpy source over a pmem address): Tests/reliability/pmem-loads.py.
#
#   Tests/reliability/static-checks.sh [module|swift|pmem]...   (default: all)
#
# Prints every warning and one line per check; exits non-zero if any check
# found something. Run by Tests/kernel/064-static.host.sh in `make test`.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
checks=("$@")
((${#checks[@]})) || checks=(module swift pmem)
rc=0

check_module() {
	local kver tmp log n
	kver=$(Tests/vm/kver.sh) || { echo "static: no 6.12 kernel headers (make deps)"; return 1; }
	tmp=$(mktemp -d)
	mkdir -p "$tmp/KernelShim" "$tmp/Sources/CPcacheFormat"
	cp KernelShim/*.c KernelShim/*.h KernelShim/Kbuild KernelShim/Makefile "$tmp/KernelShim/" 2>/dev/null
	cp -r Sources/CPcacheFormat/include "$tmp/Sources/CPcacheFormat/"
	log=$tmp/check.log
	if ! make -C "/usr/src/linux-headers-$kver" M="$tmp/KernelShim" C=2 W=1 modules >"$log" 2>&1; then
		echo "static: module: the build failed:"
		grep -E 'error|warning' "$log" | sed "s|$tmp/||" | head -n 40
		rm -rf "$tmp"
		return 1
	fi
	n=$(grep -cE 'warning:|error:' "$log")
	if ((n > 0)); then
		echo "static: module: $n sparse/W=1 diagnostics:"
		grep -E 'warning:|error:' "$log" | sed "s|$tmp/||" | head -n 60
		rm -rf "$tmp"
		return 1
	fi
	echo "static: module: sparse C=2 + W=1 clean ($(grep -c ' CHECK ' "$log") files checked)"
	rm -rf "$tmp"
}

check_swift() {
	local log n
	log=$(mktemp)
	if ! swift build --scratch-path "$repo/.build-werror" -Xswiftc -warnings-as-errors >"$log" 2>&1; then
		n=$(grep -cE 'warning:|error:' "$log")
		echo "static: swift: build with -warnings-as-errors failed ($n diagnostics):"
		grep -E 'warning:|error:' "$log" | sort -u | head -n 60
		rm -f "$log"
		return 1
	fi
	echo "static: swift: every target builds with -warnings-as-errors"
	rm -f "$log"
}

check_pmem() {
	if ! python3 Tests/reliability/pmem-loads.py KernelShim/*.c; then
		echo "static: pmem: plain loads from pmem (above); read pmem with copy_mc_to_kernel"
		return 1
	fi
	echo "static: pmem: no plain loads from pmem in KernelShim"
}

for c in "${checks[@]}"; do
	case "$c" in
	module) check_module || rc=1 ;;
	swift) check_swift || rc=1 ;;
	pmem) check_pmem || rc=1 ;;
	*) echo "usage: $0 [module|swift|pmem]..." >&2; exit 64 ;;
	esac
done
exit $rc
