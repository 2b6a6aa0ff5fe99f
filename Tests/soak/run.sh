#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make soak`: the long versions of the reliability suites, then a tally.
#
#   Tests/soak/run.sh [-n MULT] [-c CUTS] [SUITE...]
#
#   -n MULT   loop multiplier handed to the suites (default 10): the guest
#             suites read pcache_soak=MULT from the kernel command line,
#             host suites PCACHE_SOAK=MULT. 060 then runs every corrupted
#             image plus 10*MULT random ones, 061 repeats its table MULT
#             times and its concurrent phase for 15*MULT s, 062 keeps the
#             disk flakey MULT times longer, 063 runs MULT times the races.
#   -c CUTS   power cuts for the engine's 035-powercut.host.sh (default 200;
#             PCACHE_POWERCUTS); 036-powercut-fs.host.sh makes CUTS/4 per
#             filesystem (at least 5), 065-powercut-meta.host.sh 20*MULT.
#   -m        memory debugging in every guest (slub_debug=FZPU page_poison=1):
#             SLUB red zones, poisoning and free-pointer checks, poisoned
#             free pages; a corruption is a "BUG ..." line, which fails the
#             suite. Much slower; use with fewer cuts.
#   SUITE     suite files to run instead of the default list.
#
# SOAK_RESULTS sets <results>, the results directory (default results/soak).
#
# Suite timeouts are scaled by MULT (each suite is run from a copy whose
# TIMEOUT= line is raised). Results go to <results>/<suite>/; the tally
# sums the counters the suites wrote (tally.txt, "TALLY name n" lines) and
# every pass/fail.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
mult=10 cuts=200 memdebug=
while getopts "n:c:m" o; do
	case $o in
	n) mult=$OPTARG ;;
	c) cuts=$OPTARG ;;
	m) memdebug=" slub_debug=FZPU page_poison=1" ;;
	*) sed -n '4,28p' "$0"; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
suites=("$@")
if ((${#suites[@]} == 0)); then
	suites=(Tests/kernel/060-corrupt-media.host.sh Tests/kernel/060-corrupt-media.sh
		Tests/kernel/061-hostile-sysfs.sh Tests/kernel/062-faults.sh Tests/kernel/063-concurrency.sh)
	suites+=(Tests/kernel/035-powercut.host.sh Tests/kernel/036-powercut-fs.host.sh
		Tests/kernel/065-powercut-meta.host.sh)
fi

export RESULTS_ROOT=${SOAK_RESULTS:-$repo/results/soak}
export VM_APPEND="pcache_soak=$mult$memdebug"
export PCACHE_SOAK=$mult PCACHE_POWERCUTS=$cuts PCACHE_FS_POWERCUTS=$((cuts / 4 > 5 ? cuts / 4 : 5))
export RUN_ALL_TIMEOUT=$((86400 * 7))
# Suites without a TIMEOUT= line get the default suite timeout, scaled too.
export SUITE_TIMEOUT=$((600 * mult))
mkdir -p "$RESULTS_ROOT"
# The scaled copies live inside the repository: the guest sees the checkout,
# not the host's /tmp.
tmp=$(mktemp -d "$RESULTS_ROOT/.suites.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

t0=$(date +%s)
pass=0 fail=0 skip=0
failed=()
for s in "${suites[@]}"; do
	[[ -r "$s" ]] || { echo "soak: no such suite $s"; fail=$((fail + 1)); continue; }
	copy=$tmp/$(basename "$s")
	t=$(sed -n 's/^TIMEOUT=\([0-9]\+\).*/\1/p' "$s" | tail -n 1)
	sed "s/^TIMEOUT=[0-9]\+/TIMEOUT=$((${t:-600} * mult))/" "$s" >"$copy"
	echo "==== soak: $(basename "$s") (x$mult)"
	# (tee to a process, not to /dev/stderr: reopening a redirected log
	# file would truncate it)
	out=$(Tests/vm/vm.sh run-suite "$copy" 2>&1 | tee >(cat >&2))
	p=$(grep -c '^PASS ' <<<"$out")
	f=$(grep -c '^FAIL ' <<<"$out")
	k=$(grep -c '^SKIP ' <<<"$out")
	if ((p + f + k == 0)); then
		echo "soak: $(basename "$s") ran no test"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + k))
	((f == 0)) || failed+=("$(basename "$s" .sh)")
	grep -h '^TALLY ' "$RESULTS_ROOT/$(basename "$s" .sh)"/*.out 2>/dev/null | cut -d' ' -f2- >>"$tmp/tally"
	cat "$RESULTS_ROOT/$(basename "$s" .sh)/tally.txt" >>"$tmp/tally" 2>/dev/null
	if [[ $(basename "$s") == 036-powercut-fs.host.sh ]]; then
		grep -ho '[0-9]* acknowledged fsynced operations checked over [0-9]* power cuts' \
			"$RESULTS_ROOT/036-powercut-fs.host"/*.out 2>/dev/null |
			awk '{ print "fs_ops_checked", $1; print "power_cuts", $7 }' >>"$tmp/tally"
	fi
	if [[ $(basename "$s") == 035-powercut.host.sh ]]; then
		grep -ho 'acknowledged block writes checked: [0-9]* over [0-9]* power cuts' \
			"$RESULTS_ROOT/035-powercut.host"/*.out 2>/dev/null |
			awk '{ print "acked_writes_checked", $5; print "power_cuts", $7 }' >>"$tmp/tally"
	fi
done

echo
echo "==== soak tally (x$mult, $(($(date +%s) - t0)) s)"
if [[ -s "$tmp/tally" ]]; then
	awk '{ n[$1] += $2 } END { for (k in n) printf "  %-32s %d\n", k, n[k] }' "$tmp/tally" | sort
fi
echo "  data lost or crash: see the FAIL lines above (${#failed[@]} suites with failures${failed:+: ${failed[*]}})"
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))
