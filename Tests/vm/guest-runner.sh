#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Guest side of `vm.sh run-suite`: runs one kernel suite inside the VM.
#
#   guest-runner.sh /path/to/Tests/kernel/NNN-name.sh
#
# Sources Tests/kernel/lib.sh and the suite, then runs, in this order:
# `requires` (non-zero: every test is skipped with its output as the reason),
# `setup`, every test_* function in file order, `teardown`. Each runs in its
# own subshell with stdout/stderr captured in $RESULTS/<test>.out. After each
# one the kernel log records it produced are scanned for VM_BAD_KMSG (BUG,
# Oops, WARNING, ...); a match fails the test and is kept in <test>.kmsg.
#
# selftest_* functions are the harness's own self-tests (see 000-harness.sh):
# they must be judged failed by exactly the same rules; a caught one is
# recorded XFAIL (counted as a pass by the host), a missed one FAIL.
#
# Console protocol (read by vm.sh): "=== SUITE START <name>",
# "=== RUN <test>", "--- PASS|FAIL|SKIP: <test> ...", "=== SUITE END <name>".
# Results: $RESULTS/results.txt, one line per test:
# STATUS<TAB>test<TAB>seconds<TAB>reason.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
oneline() { tr '\n\t' '  ' | sed 's/[[:space:]]*$//' | cut -c1-300; }

record() { # STATUS TEST SECONDS REASON
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results_txt"
	if [[ -n "$4" ]]; then
		echo "--- $1: $2 ($3s): $4"
	else
		echo "--- $1: $2 ($3s)"
	fi
}

# run_step NAME FUNC: runs FUNC in a subshell with output in NAME.out and
# sets STEP_RC, STEP_REASON, STEP_BAD (offending kernel lines) and STEP_SECS.
run_step() {
	local name=$1 func=$2 t0 seq
	seq=$(kmsg_last_seq)
	t0=$(now)
	rm -f "$RESULTS/$name.reason"
	(
		export TEST_REASON_FILE=$RESULTS/$name.reason
		KMSG_MARK=$seq
		"$func"
	) >"$RESULTS/$name.out" 2>&1 </dev/null
	STEP_RC=$?
	STEP_SECS=$(elapsed "$t0")
	kmsg_after_seq "$seq" | cut -d' ' -f2- >"$RESULTS/$name.kmsg.all"
	STEP_BAD=$(grep -E -- "$VM_BAD_KMSG" "$RESULTS/$name.kmsg.all" | head -n 20)
	if [[ -n "$STEP_BAD" ]]; then
		# The offending lines plus what followed them (trace), for the report.
		grep -E -A 12 -- "$VM_BAD_KMSG" "$RESULTS/$name.kmsg.all" | head -n 40 >"$RESULTS/$name.kmsg"
	fi
	STEP_REASON=
	[[ -r "$RESULTS/$name.reason" ]] && STEP_REASON=$(oneline <"$RESULTS/$name.reason")
}

# verdict: PASS, FAIL or SKIP with VERDICT_REASON, from the last run_step.
verdict() {
	if [[ -n "$STEP_BAD" ]]; then
		VERDICT=FAIL
		VERDICT_REASON="kernel log: $(head -n 1 <<<"$STEP_BAD" | oneline)"
		[[ $STEP_RC == 0 || $STEP_RC == 77 ]] || VERDICT_REASON+="; test also failed: ${STEP_REASON:-returned $STEP_RC}"
	elif [[ $STEP_RC == 0 ]]; then
		VERDICT=PASS VERDICT_REASON=
	elif [[ $STEP_RC == 77 ]]; then
		VERDICT=SKIP VERDICT_REASON=${STEP_REASON:-skipped}
	else
		VERDICT=FAIL
		VERDICT_REASON=${STEP_REASON:-"returned $STEP_RC; last output: $(tail -n 1 "$RESULTS/$1.out" | oneline)"}
	fi
}

# The whole run is one function: bash parses it completely before running it,
# so an edit of this file on the host during a run cannot derail the guest.
main() {
	suite_file=$1
	suite=$(basename "$suite_file" .sh)
	RESULTS=${RESULTS:-/results}
	results_txt=$RESULTS/results.txt
	: >"$results_txt"

	# shellcheck source=../kernel/lib.sh
	. "$TESTS_DIR/lib.sh"

	lib_guest_prepare >"$RESULTS/prepare.log" 2>&1 ||
		echo "=== WARNING: standard devices missing: $(tr '\n' ' ' <"$RESULTS/prepare.log")"

	# shellcheck disable=SC1090
	. "$suite_file"

	# Test functions in file order: definitions at the start of a line.
	mapfile -t tests < <(grep -oE '^(function[[:space:]]+)?(test|selftest)_[A-Za-z0-9_]+[[:space:]]*\(\)' "$suite_file" |
		sed -E 's/^(function[[:space:]]+)?//; s/[[:space:]]*\(\)$//' | awk '!seen[$0]++')
	# VM_TESTS (vm.sh): only the tests whose names match this extended regex.
	if [[ -n "${VM_TESTS:-}" ]]; then
		mapfile -t tests < <(printf '%s\n' "${tests[@]}" | grep -E -- "$VM_TESTS")
	fi

	echo "=== SUITE START $suite (${#tests[@]} tests)"
	suite_t0=$(now)

	blocked= blocked_status=
	if declare -F requires >/dev/null; then
		run_step requires requires
		if [[ $STEP_RC != 0 ]]; then
			blocked_status=SKIP
			blocked="requirement not met: ${STEP_REASON:-$(tail -n 1 "$RESULTS/requires.out" | oneline)}"
		fi
	fi
	if [[ -z "$blocked" ]] && declare -F setup >/dev/null; then
		run_step setup setup
		verdict setup
		if [[ $VERDICT == FAIL ]]; then
			record FAIL setup "$STEP_SECS" "$VERDICT_REASON"
			blocked_status=FAIL blocked="not run: setup failed"
		elif [[ $VERDICT == SKIP ]]; then
			blocked_status=SKIP blocked=$VERDICT_REASON
		fi
	fi

	for _gr_t in "${tests[@]}"; do
		if ! declare -F "$_gr_t" >/dev/null; then
			continue
		fi
		echo "=== RUN $_gr_t"
		if [[ -n "$blocked" ]]; then
			record "$blocked_status" "$_gr_t" 0 "$blocked"
			continue
		fi
		run_step "$_gr_t" "$_gr_t"
		verdict "$_gr_t"
		if [[ $_gr_t == selftest_* ]]; then
			expect_var="SELFTEST_EXPECT_${_gr_t#selftest_}"
			expect=${!expect_var:-}
			if [[ $VERDICT != FAIL ]]; then
				record FAIL "$_gr_t" "$STEP_SECS" "harness self-test NOT caught: the runner judged it $VERDICT"
			elif [[ -n "$expect" ]] && ! grep -Eq -- "$expect" <<<"$VERDICT_REASON"; then
				record FAIL "$_gr_t" "$STEP_SECS" "harness self-test failed for the wrong reason: '$VERDICT_REASON' (expected /$expect/)"
			else
				record XFAIL "$_gr_t" "$STEP_SECS" "$VERDICT_REASON"
			fi
			continue
		fi
		record "$VERDICT" "$_gr_t" "$STEP_SECS" "$VERDICT_REASON"
		if [[ $VERDICT == FAIL ]]; then
			[[ -s "$RESULTS/$_gr_t.kmsg" ]] && sed 's/^/    kernel: /' "$RESULTS/$_gr_t.kmsg" | head -n 20
			tail -n 20 "$RESULTS/$_gr_t.out" | sed 's/^/    | /'
		fi
	done

	if [[ -z "$blocked" || $blocked_status == FAIL ]] && declare -F teardown >/dev/null; then
		run_step teardown teardown
		verdict teardown
		[[ $VERDICT == FAIL ]] && record FAIL teardown "$STEP_SECS" "$VERDICT_REASON"
	fi

	dmesg >"$RESULTS/dmesg.log" 2>&1
	sync
	echo "=== SUITE END $suite ($(elapsed "$suite_t0")s)"
}

main "$@"
exit $?
