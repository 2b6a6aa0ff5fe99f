# SPDX-License-Identifier: Apache-2.0
#
# 060-corrupt-media: damaged cache devices written by pcache-corrupt (built
# from the Swift format library, Tests/reliability/pcache-corrupt) straight
# onto $PMEM, one case at a time: a valid cache of 300 dirty 4 KiB extents
# for $BACKING in 8 segments (3 key segments linked by LAST ksets, every
# two-copy record with both slots valid), then one structure damaged.
#
# For every case:
#   - `pcachectl check` must report the damage: exit 2 for a damaged copy next
#     to a good one ("recover" cases), 65 for fatal damage ("refuse"), non-zero
#     for the rest ("any"), 0 for the controls. Under TCG a Swift process
#     costs seconds, so `make test` checks every image natively on the host
#     (060-corrupt-media.host.sh) and this suite repeats the check in the
#     guest only under `make soak`;
#   - register, backing-start, read every extent through /dev/pcacheN,
#     backing-stop and unregister, each bounded by a timeout (a hang fails);
#     a clean stop refused with EIO (dirty data failing data_crc, which
#     writeback must not pass; stall bound 5 s here) is followed by force=1;
#   - "recover": everything succeeds and all 300 extents read back intact;
#   - "refuse": register or start is refused, or the damaged part is dropped,
#     and in every case a kernel line (warning or worse) names it; superblock
#     damage must make register fail with EINVAL;
#   - always: data that reads back wrong after a successful start must come
#     with a kernel warning (no silent loss), and nothing is left registered.
# The harness fails a test on any BUG/Oops/WARNING in the kernel log.
# `make test` runs a representative subset (BOUNDED below, every structure);
# `make soak` (pcache_soak=N) runs every case and 10*N random seeds.

TIMEOUT=600

. "$REPO/Tests/reliability/common.bash"

# pcachectl check in the guest too (slow under TCG): under `make soak` only.
CHECK_IN_GUEST=
((SOAK > 1)) && CHECK_IN_GUEST=1

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	rel_tool pcache-corrupt >/dev/null || { echo "pcache-corrupt not built (swift build -c release --product pcache-corrupt)"; return 1; }
	[[ -x "$PCACHECTL" ]] || { echo "pcachectl not built"; return 1; }
}

setup() {
	load_module
	# A clean stop that cannot write everything back (a dirty extent failing
	# data_crc stays an error until overwritten) gives up after this bound.
	echo 5 >/sys/module/pcache/parameters/stall_timeout_s || fail "no stall_timeout_s parameter"
	CORRUPT=$(rel_tool pcache-corrupt)
	"$CORRUPT" list >"$RESULTS/cases.txt" || fail "pcache-corrupt list failed"
}

teardown() {
	rel_teardown
	dmsetup remove pcache-t060 2>/dev/null
	unload_module
	[[ -r "$RESULTS/case-results.txt" ]] && cat "$RESULTS/case-results.txt"
	true
}

CORRUPT=$(rel_tool pcache-corrupt 2>/dev/null)

# The cases `make test` runs: at least one per structure and field class.
BOUNDED=" clean data-crc-clean sb0-crc sb-both-crc sb-version sb-incompat sb-seg-num-plus1
 sb-dev-size backing-latest-crc backing-both-crc backing-first-seg-max backing-cache-segs-max
 backing-path-no-nul seginfo-latest-crc seginfo-both-crc seginfo-next-max seginfo-loop-first
 seginfo-owner seginfo-chain-short gen-latest-crc gen-both-crc keytail-older-crc keytail-mid-kset
 dirtytail-mid-kset kset0-crc kset-flags kset-keynum-past-segment last-loop-first
 key-len-zero key-crosses-4m data-crc-mismatch
 kset0-zeroed kset0-random kset0-foreign-stamp leftover-reused-segment "
BOUNDED=" $(echo $BOUNDED) " # one line, every name between blanks

# gen_start / gen_stop: one pcache-corrupt process serving a whole test.
gen_start() {
	coproc GEN { "$CORRUPT" serve "$PMEM" --backing-path "$BACKING" --backing-sectors "$(blockdev --getsz "$BACKING")"; }
}
gen_stop() {
	[[ -n "${GEN_PID:-}" ]] || return 0
	exec {GEN[1]}>&-
	wait "$GEN_PID" 2>/dev/null
}
# gen_request LINE: one request; prints the answer, fails on none.
gen_request() {
	local answer
	echo "$1" >&"${GEN[1]}"
	read -r -t 300 answer <&"${GEN[0]}" || answer="error no answer from pcache-corrupt serve"
	echo "$answer"
	[[ $answer == ok* ]]
}

# run_case NAME EXPECT CHECK: one damaged image through check, register,
# start, read, stop, unregister. EXPECT is the kernel's expectation
# (recover, refuse, any), CHECK pcachectl check's (clean, repairable, fatal,
# damaged, any). Prints one line; returns 1 when the case broke an
# expectation (the line says why).
run_case() {
	local name=$1 expect=$2 chkexp=$3 dev=$PMEM seq reg start="-" rd="-" stop="-" unreg="-" chk probs id pdev why=
	dd if=/dev/zero of="$BACKING" bs=1M count=4 oflag=direct status=none
	if ! gen_request "write $name" >"$RESULTS/case-$name.gen" 2>&1; then
		echo "$name $expect: GENERATOR FAILED: $(tail -n 1 "$RESULTS/case-$name.gen")" | tee -a "$RESULTS/case-results.txt"
		return 1
	fi
	chk=host chkexp=${CHECK_IN_GUEST:+$chkexp}
	if [[ -n $chkexp ]]; then
		"$PCACHECTL" check "$dev" >"$RESULTS/case-$name.check" 2>&1
		chk=$?
	fi
	case "$chkexp" in
	clean) [[ $chk == 0 ]] || why+=" check exit $chk on a clean image;" ;;
	repairable) [[ $chk == 2 ]] || why+=" check exit $chk, want 2 (repairable);" ;;
	fatal) [[ $chk == 65 ]] || why+=" check exit $chk, want 65 (fatal);" ;;
	damaged) [[ $chk == 2 || $chk == 65 ]] || why+=" check exit $chk, want 2 or 65 (damage reported);" ;;
	esac

	seq=$(rel_kmsg_seq)
	reg=$(rel_write $BUS/cache_dev_register "path=$dev" 60)
	if [[ $reg == OK ]]; then
		start=$(rel_write $CD0/adm "op=backing-start,path=$BACKING" 120)
		if [[ $start == OK ]]; then
			id=
			for b in $CD0/backing_dev*; do
				[[ "$(cat "$b/path" 2>/dev/null)" == "$BACKING" ]] && id=$(cat "$b/mapped_id" 2>/dev/null)
			done
			pdev=/dev/pcache$id
			for _ in $(seq 50); do [[ -b $pdev ]] && break; sleep 0.1; done
			if [[ -n "$id" && -b $pdev ]]; then
				gen_request "verify $pdev" >"$RESULTS/case-$name.verify" 2>&1
				case $(cat "$RESULTS/case-$name.verify") in
				ok*) rd=intact ;;
				"error no answer"*) rd=TIMEOUT ;;
				*) rd="differs($(tr '\n' ' ' <"$RESULTS/case-$name.verify" | cut -c1-80))" ;;
				esac
			else
				rd="no-device"
			fi
			for b in $CD0/backing_dev*; do
				[[ -d $b && -n "$(cat "$b/mapped_id" 2>/dev/null)" ]] || continue
				stop=$(rel_write $CD0/adm "op=backing-stop,backing_id=${b##*backing_dev}" 120)
				# writeback cannot pass damaged dirty data: keep it for replay instead
				[[ $stop == EIO ]] &&
					stop="EIO,force:$(rel_write $CD0/adm "op=backing-stop,backing_id=${b##*backing_dev},force=1" 60)"
			done
		fi
		unreg=$(rel_write $BUS/cache_dev_unregister cache_dev_id=0 60)
	fi
	probs=$(rel_kmsg_problems "$seq")
	printf '%s\n' "$probs" >"$RESULTS/case-$name.kmsg"

	[[ "$reg $start $rd $stop $unreg" == *TIMEOUT* ]] && why+=" a step hung (timeout);"
	[[ $rd == differs* || $rd == no-device ]] && [[ -z "$probs" ]] &&
		why+=" started, data reads back wrong, and the kernel logged nothing (silent loss);"
	case "$expect" in
	recover)
		[[ $reg == OK ]] || why+=" register $reg;"
		[[ $start == OK ]] || why+=" start $start;"
		[[ $rd == intact ]] || why+=" data $rd;"
		;;
	refuse)
		[[ -n "$probs" ]] || why+=" no kernel warning/error line names the damage;"
		[[ $name == sb-* && $reg == OK ]] && why+=" a superblock with $name was registered;"
		[[ $name == sb-* && $reg != OK && $reg != EINVAL ]] && why+=" register failed with $reg, want EINVAL;"
		;;
	esac
	if [[ $reg == OK ]]; then
		[[ $stop == - || $stop == OK || $stop == EBUSY || $stop == EIO,force:OK ]] || why+=" stop $stop;"
		[[ $unreg == OK ]] || why+=" unregister $unreg;"
	fi
	# Nothing may stay behind: a refused or unregistered device is gone.
	[[ -e $CD0 ]] && {
		why+=" cache_dev0 still registered;"
		rel_teardown
	}
	local line="$name $expect: check=$chk register=$reg start=$start data=$rd stop=$stop unregister=$unreg"
	[[ -n "$probs" ]] && line+=" kmsg='$(head -n 1 <<<"$probs" | cut -c1-120)'"
	echo "$line${why:+ -- FAIL:$why}" | tee -a "$RESULTS/case-results.txt"
	[[ -z "$why" ]]
}

# run_group PREFIX...: every case whose name starts with one of PREFIX.
run_group() {
	local name expect chkexp what failed=() n=0 p match
	gen_start
	while read -r name expect chkexp what; do
		match=
		for p in "$@"; do [[ $name == "$p"* ]] && match=1; done
		[[ -n $match ]] || continue
		((SOAK > 1)) || [[ $BOUNDED == *" $name "* ]] || continue
		n=$((n + 1))
		run_case "$name" "$expect" "$chkexp" || failed+=("$name")
	done <"$RESULTS/cases.txt"
	gen_stop
	rel_tally corrupt_images "$n"
	((n > 0)) || fail "no case matches $*"
	((${#failed[@]} == 0)) || fail "${#failed[@]} of $n cases broke their expectation: ${failed[*]}"
	echo "$n cases as expected"
}

test_control_images() { run_group clean data-crc-clean; }
test_superblock() { run_group sb; }
test_backing_records() { run_group backing; }
test_segment_infos() { run_group seginfo; }
test_generations() { run_group gen; }
test_key_and_dirty_tails() { run_group keytail dirtytail; }
test_ksets() { run_group kset last end-garbage; }
# (test_ksets includes kset0-zeroed/-random/-foreign-stamp: the first kset after
# dirty_tail lost with dirty ksets behind it is refused, never a shorter log.)
# Leftovers of earlier uses of the key segment behind the log end: not damage.
test_leftover_ksets() { run_group leftover; }
test_keys() { run_group key data-crc-mismatch; }

# A device shorter than the one formatted: a linear device-mapper target over
# the first part of $PMEM (DAX passes through dm-linear).
test_truncated_device() {
	local mb reg seq probs chk failed=() n=0
	for mb in 600 2; do
		n=$((n + 1))
		"$CORRUPT" write clean "$PMEM" --backing-path "$BACKING" --backing-sectors "$(blockdev --getsz "$BACKING")" \
			>/dev/null || fail "pcache-corrupt write clean failed"
		dmsetup create pcache-t060 --table "0 $((mb * 2048)) linear $PMEM 0" || fail "dmsetup create failed"
		dmsetup mknodes pcache-t060 >/dev/null 2>&1
		[[ -b /dev/mapper/pcache-t060 ]] || fail "/dev/mapper/pcache-t060 did not appear"
		"$PCACHECTL" check /dev/mapper/pcache-t060 >"$RESULTS/trunc-$mb.check" 2>&1
		chk=$?
		seq=$(rel_kmsg_seq)
		reg=$(rel_write $BUS/cache_dev_register "path=/dev/mapper/pcache-t060" 60)
		probs=$(rel_kmsg_problems "$seq")
		echo "truncated to $mb MiB: check=$chk register=$reg kmsg='$(head -n 1 <<<"$probs")'" |
			tee -a "$RESULTS/case-results.txt"
		[[ $chk == 65 ]] || failed+=("${mb}MiB:check-exit-$chk")
		[[ $reg != OK ]] || failed+=("${mb}MiB:registered")
		[[ $reg == OK || -n "$probs" ]] || failed+=("${mb}MiB:no-log-line")
		[[ $reg == TIMEOUT ]] && failed+=("${mb}MiB:hung")
		rel_teardown
		dmsetup remove pcache-t060 || fail "dmsetup remove failed (device still held?)"
	done
	rel_tally corrupt_images "$n"
	((${#failed[@]} == 0)) || fail "truncated devices: ${failed[*]}"
}

# Random bytes of the metadata flipped (half of them resealed past the crc):
# no expectation on the outcome except no crash, no hang, no silent loss,
# nothing left registered, and a clean `check` implying full recovery.
test_random_damage() {
	local count=$((SOAK > 1 ? 10 * SOAK : 3)) base=${RANDOM_SEED_BASE:-$((1000 + $(date +%s) % 100000))} s failed=() chk
	echo "seeds $base..$((base + count - 1))"
	gen_start
	for ((s = base; s < base + count; s++)); do
		run_case "random-$s" any any || failed+=("random-$s")
		chk=$(sed -n "s/^random-$s any: check=\([0-9]*\) .*/\1/p" "$RESULTS/case-results.txt" | tail -n 1)
		if [[ $chk == 0 ]] && ! grep -q "^random-$s any: .*data=intact" "$RESULTS/case-results.txt"; then
			failed+=("random-$s:check-clean-but-not-recovered")
		fi
	done
	gen_stop
	rel_tally corrupt_images "$count"
	((${#failed[@]} == 0)) || fail "${#failed[@]} of $count random images: ${failed[*]}"
}
