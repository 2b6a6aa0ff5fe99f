#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make test`: the Swift unit tests, a short fuzz run, then every kernel suite in QEMU
# (Tests/vm/vm.sh run-all), then one closing line "N passed, N failed" that
# sums both. Exits non-zero on any failure. --swift-only skips the VMs.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
mkdir -p results
swift_pass=0 swift_fail=0 kernel_pass=0 kernel_fail=0 kernel_skip=0 rc=0
t0=$(date +%s)

echo "==== swift test"
rm -f results/swift-xunit*.xml
swift test --parallel --xunit-output results/swift-xunit.xml 2>&1 | tee results/swift-test.log
swift_rc=${PIPESTATUS[0]}
# swift-testing writes results/swift-xunit-swift-testing.xml, XCTest
# results/swift-xunit.xml; count test cases and failures in both.
for x in results/swift-xunit*.xml; do
	[[ -s "$x" ]] || continue
	cases=$(grep -o '<testcase ' "$x" | wc -l)
	failed=$(grep -c '<failure' "$x")
	swift_pass=$((swift_pass + cases - failed))
	swift_fail=$((swift_fail + failed))
done
if ((swift_pass + swift_fail == 0)); then
	# No xUnit file: fall back to swift-testing's closing line,
	# "Test run with N tests in M suites passed/failed after ... with K issues".
	line=$(grep -E 'Test run with [0-9]+ tests?' results/swift-test.log | tail -n 1)
	n=$(sed -nE 's/.*Test run with ([0-9]+) tests?.*/\1/p' <<<"$line")
	if [[ -n "$n" ]]; then
		if [[ "$line" == *failed* ]]; then
			swift_fail=$(sed -nE 's/.*with ([0-9]+) (test )?(issues?|failures?).*/\1/p' <<<"$line")
			swift_fail=${swift_fail:-1}
			((swift_fail > n)) && swift_fail=$n
		fi
		swift_pass=$((n - swift_fail))
	fi
fi
if ((swift_rc != 0)); then
	rc=1
	if ((swift_fail == 0)); then
		# Build failure or crash: no per-test verdicts to count.
		echo "swift test failed (exit $swift_rc) before reporting per-test results; see results/swift-test.log"
		swift_fail=1
	fi
fi
echo "---- swift: $swift_pass passed, $swift_fail failed ($(($(date +%s) - t0))s)"

# A short coverage-guided fuzz run of the on-media decoder and checker
# (make fuzz runs it longer); one test: no crash in FUZZ_SECONDS.
echo "==== fuzz (${FUZZ_SECONDS:=30}s)"
t1=$(date +%s)
if Tests/fuzz/run.sh "$FUZZ_SECONDS" >results/fuzz.log 2>&1; then
	swift_pass=$((swift_pass + 1))
	echo "---- fuzz: passed ($(($(date +%s) - t1))s; $(sed -n 's/^Done \([0-9]*\) runs.*/\1 inputs/p' results/fuzz.log | tail -n 1), log in results/fuzz.log)"
else
	swift_fail=$((swift_fail + 1))
	rc=1
	tail -n 15 results/fuzz.log
	echo "---- fuzz: FAILED (log and reproducers: results/fuzz.log, .build-fuzz/)"
fi

if [[ "${1:-}" != --swift-only ]]; then
	rm -f results/summary.env
	Tests/vm/vm.sh run-all || rc=1
	if [[ -r results/summary.env ]]; then
		. results/summary.env
		kernel_pass=$kernel_passed kernel_fail=$kernel_failed kernel_skip=$kernel_skipped
	else
		echo "the kernel suites did not produce a summary"
		kernel_fail=$((kernel_fail + 1))
		rc=1
	fi
fi

((swift_fail + kernel_fail == 0)) || rc=1
echo "(swift $swift_pass/$swift_fail, kernel $kernel_pass/$kernel_fail, $kernel_skip skipped; $(($(date +%s) - t0))s)"
echo "$((swift_pass + kernel_pass)) passed, $((swift_fail + kernel_fail)) failed"
exit $rc
