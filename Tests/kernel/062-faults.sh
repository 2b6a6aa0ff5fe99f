# SPDX-License-Identifier: Apache-2.0
#
# 062-faults: I/O errors below the cache. The backing device is a
# device-mapper device over $BACKING (/dev/mapper/pcache-f062, made without
# udev: dmsetup mknodes) whose table is switched at run time between linear
# (healthy), error (every I/O fails) and flakey (fails in bursts):
#   - writeback against a failing disk: the errors show in stats
#     (writeback_errors) and the kernel log; the dirty data stays in pmem,
#     reads still return it, and after the disk heals writeback retries and
#     the disk ends up holding exactly what was acknowledged;
#   - a read miss against a failing disk fails with EIO (never zeros or stale
#     data), and succeeds once the disk heals;
#   - bursts of errors (flakey) during a write workload: nothing acknowledged
#     is lost once the disk heals;
#   - backing-stop with flush=1 while the disk fails returns within a bound
#     (it may fail), and the dirty data is still there after the disk heals;
#   - with the disk failing and the cache full of dirty data, a writer gets
#     EIO within the stall bound (stall_timeout_s, set to $STALL s here)
#     instead of sleeping in queue_rq forever, reads of cached data still
#     work, a flush ends, stats show the failing writeback, and the kernel
#     log has one line for it, not one per retry (which back off);
#   - backing-stop with flush=1 against a dead disk: a signal ends it at
#     once, without a signal it gives up with EIO after the bound, and either
#     way /dev/pcache0 keeps running; an unregister behind it returns too;
#     a stop without flush (force=1, as old scripts write it) stops at once
#     and the next start replays the dirty data.
# Under `make soak` (pcache_soak=N) the flakey phase runs N times longer.

TIMEOUT=840

. "$REPO/Tests/reliability/common.bash"

DM=pcache-f062
DMDEV=/dev/mapper/$DM
ADM=$CD0/adm
# stall_timeout_s for this suite (a module parameter; the old module has none)
STALL=6
PARAMS=/sys/module/pcache/parameters

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	command -v dmsetup >/dev/null || { echo "dmsetup missing"; return 1; }
}

# dm_switch KIND [ARGS]: dm_backing_table KIND (linear, error, flakey UP
# DOWN, delay MS) into $DM, counted as an injected fault.
dm_switch() {
	dm_backing_switch $DM "$@"
	rel_tally injected_faults_$1 1
}

stat_of() { awk -v n="$1" '$1 == n { print $2 }' $CD0/backing_dev0/stats 2>/dev/null; }

# wait_clean SECS: dirty_bytes reaches 0.
wait_clean() {
	local i d
	for ((i = 0; i < $1 * 2; i++)); do
		d=$(stat_of dirty_bytes)
		[[ $d == 0 ]] && return 0
		sleep 0.5
	done
	echo "dirty_bytes still $(stat_of dirty_bytes) after $1 s"
	return 1
}

start_backing() {
	local r
	r=$(rel_write $ADM "op=backing-start,path=$DMDEV${1:+,$1}" 120)
	[[ $r == OK ]] || fail "backing-start on $DMDEV: $r"
	for _ in $(seq 50); do [[ -b /dev/pcache0 ]] && break; sleep 0.1; done
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 did not appear"
}

setup() {
	load_module
	[[ -w $PARAMS/stall_timeout_s ]] && echo $STALL >$PARAMS/stall_timeout_s
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	dmsetup create --noudevsync $DM --table "$(dm_backing_table linear)" || fail "dmsetup create failed"
	dmsetup mknodes $DM
	[[ -b $DMDEV ]] || fail "$DMDEV did not appear"
	start_backing cache_size=128
	dd if=/dev/urandom of=/tmp/f062.a bs=1M count=4 status=none
	dd if=/dev/urandom of=/tmp/f062.b bs=1M count=4 status=none
	dd if=/dev/urandom of=/tmp/f062.c bs=1M count=8 status=none
}

teardown() {
	dmsetup reload --noudevsync $DM --table "$(dm_backing_table linear)" 2>/dev/null &&
		dmsetup resume --noudevsync $DM 2>/dev/null
	rel_teardown
	dmsetup remove --noudevsync $DM 2>/dev/null
	unload_module
}

# read_back DEV OFFSET_MB FILE: DEV at OFFSET_MB equals FILE (O_DIRECT).
read_back() {
	local mb
	mb=$(($(stat -c %s "$3") >> 20))
	cmp <(dd if="$1" bs=1M skip="$2" count="$mb" iflag=direct status=none) "$3" >/dev/null
}

test_writeback_errors_keep_dirty_data() {
	local seq e0 e1 d
	seq=$(rel_kmsg_seq)
	e0=$(stat_of writeback_errors)
	[[ -n $e0 ]] || fail "stats has no writeback_errors line: $(tr '\n' ' ' <$CD0/backing_dev0/stats)"
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=0 conv=nocreat,notrunc oflag=direct status=none ||
		fail "a write to /dev/pcache0 failed while only the backing disk fails (the cache should take it)"
	sync
	# Writeback runs in the background: give it time to hit the errors.
	for _ in $(seq 60); do
		e1=$(stat_of writeback_errors)
		((e1 > e0)) && break
		sleep 0.5
	done
	((e1 > e0)) || fail "writeback_errors stayed $e0 with a failing backing disk and $(stat_of dirty_bytes) dirty bytes"
	d=$(stat_of dirty_bytes)
	((d > 0)) || fail "dirty_bytes is $d: the dirty data left the cache although the disk failed every write"
	rel_kmsg_problems "$seq" | grep -qi 'writeback' || fail "no kernel warning about the failing writeback"
	read_back /dev/pcache0 0 /tmp/f062.a || fail "reading the dirty data back from the cache failed or differs"
	echo "writeback_errors $e0 -> $e1, dirty_bytes $d"
	dm_switch linear
	wait_clean 120 || fail "writeback did not finish after the disk healed"
	read_back $DMDEV 0 /tmp/f062.a || fail "after healing, the disk does not hold the data that was acknowledged"
}

test_read_miss_error_is_eio() {
	local seq out
	# 1 GiB in: never written, not cached.
	dm_switch error
	seq=$(rel_kmsg_seq)
	if out=$(dd if=/dev/pcache0 of=/dev/null bs=64k skip=16384 count=4 iflag=direct 2>&1); then
		fail "a read miss succeeded while the backing disk fails every read"
	fi
	grep -qi 'error' <<<"$out" || fail "dd failed without an I/O error: $out"
	echo "read miss: $(tail -n 1 <<<"$out")"
	# A cached extent is still readable while the disk fails.
	read_back /dev/pcache0 0 /tmp/f062.a || echo "note: the cached extent at 0 was not readable with the disk failing (clean data may have been dropped)"
	dm_switch linear
	dd if=/dev/pcache0 of=/dev/null bs=64k skip=16384 count=4 iflag=direct status=none ||
		fail "the read miss still fails after the disk healed"
}

test_flakey_bursts_lose_nothing() {
	local secs=$((8 * SOAK)) e0 e1 i
	e0=$(stat_of writeback_errors)
	# 1 s up, 1 s down: writes and reads fail half of the time.
	dm_switch flakey 1 1
	for ((i = 0; i < secs; i++)); do
		dd if=/tmp/f062.c of=/dev/pcache0 bs=1M seek=$((64 + (i % 4) * 8)) conv=nocreat,notrunc oflag=direct status=none ||
			fail "write $i to /dev/pcache0 failed during flakey bursts"
	done
	sleep 3
	e1=$(stat_of writeback_errors)
	dm_switch linear
	wait_clean 180 || fail "writeback did not finish after the flakey disk healed"
	for i in 0 1 2 3; do
		((i < secs)) || continue
		read_back /dev/pcache0 $((64 + i * 8)) /tmp/f062.c || fail "extent $i reads back wrong through the cache"
		read_back $DMDEV $((64 + i * 8)) /tmp/f062.c || fail "extent $i is not on the disk after healing"
	done
	echo "writeback_errors during the bursts: $e0 -> $e1"
}

test_stop_with_failing_disk_is_bounded() {
	local t0 r secs
	dm_switch error
	dd if=/tmp/f062.b of=/dev/pcache0 bs=1M seek=200 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write to /dev/pcache0 failed"
	t0=$(date +%s)
	r=$(rel_write $ADM "op=backing-stop,backing_id=0,flush=1" 150)
	secs=$(($(date +%s) - t0))
	echo "backing-stop with a failing disk: $r after ${secs}s"
	[[ $r != TIMEOUT ]] || fail "backing-stop hung (> 150 s) with a failing disk"
	dm_switch linear
	if [[ ! -b /dev/pcache0 ]]; then
		# Stopped: the dirty data must come back with the restart.
		start_backing
	fi
	read_back /dev/pcache0 200 /tmp/f062.b || fail "the data written before the failed stop is lost"
	wait_clean 120 || fail "writeback did not finish after healing"
	read_back $DMDEV 200 /tmp/f062.b || fail "the disk does not hold the data after healing"
	r=$(rel_write $ADM "op=backing-stop,backing_id=0" 150)
	[[ $r == OK ]] || fail "backing-stop on a healthy disk: $r"
	start_backing
}

# A stop right after the disk recovered from a stall writes everything back:
# writeback that had failed for longer than stall_timeout_s before the stop
# gets the stall bound anew, counted from the stop (here the first retry
# batch is slow, every I/O of the healed disk delayed by 1.5 s; the stop used
# to give up after about a second with EIO, the old failure still counted).
test_stop_drains_after_recovery_from_a_stall() {
	local t0 r secs
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=320 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	sleep $((STALL + 3))
	[[ "$(stat_of writeback_failing)" == 1 ]] || fail "writeback is not failing ($(stat_of writeback_failing))"
	dm_switch delay 1500
	t0=$(date +%s)
	r=$(rel_write $ADM "op=backing-stop,backing_id=0,flush=1" 150)
	secs=$(($(date +%s) - t0))
	echo "backing-stop right after the disk recovered (I/O delayed 1.5 s): $r after ${secs}s"
	dm_switch linear
	[[ $r == OK ]] || fail "the stop gave up with $r after ${secs}s although the disk works again"
	read_back $DMDEV 320 /tmp/f062.a || fail "the disk does not hold the data after the stop"
	start_backing
}

# The power is not cut here, but a crash-like unregister/register cycle
# with dirty data while the disk fails must keep the data too.
test_restart_while_failing_keeps_data() {
	local r
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=300 conv=nocreat,notrunc oflag=direct status=none || fail "write failed"
	r=$(rel_write $ADM "op=backing-stop,backing_id=0" 150)
	[[ $r != TIMEOUT ]] || fail "backing-stop hung"
	if [[ ! -b /dev/pcache0 ]]; then
		r=$(rel_write $BUS/cache_dev_unregister cache_dev_id=0 60)
		echo "unregister with dirty data on a failing disk: $r"
		if [[ $r == OK ]]; then
			r=$(rel_write $BUS/cache_dev_register "path=$PMEM" 60)
			[[ $r == OK ]] || fail "register again: $r"
		fi
	fi
	dm_switch linear
	[[ -b /dev/pcache0 ]] || start_backing
	read_back /dev/pcache0 300 /tmp/f062.a || fail "dirty data lost across stop/unregister with a failing disk"
	wait_clean 120 || fail "writeback did not finish after healing"
	read_back $DMDEV 300 /tmp/f062.a || fail "the disk does not hold the data after healing"
}

# bg_wait PID SECS: wait up to SECS for PID to exit; 0 if it did.
bg_wait() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# Fill the cache with dirty data while the disk fails: the writer must get
# EIO within the bound, not sleep in queue_rq until the disk comes back.
test_full_cache_write_fails_in_bound() {
	local seq t0 secs rc pid limit=$((STALL + 40)) f e n
	seq=$(rel_kmsg_seq)
	echo 600000 >$PARAMS/writeback_idle_ms	# only space pressure starts writeback
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=0 conv=nocreat,notrunc oflag=direct status=none ||
		fail "a write the cache can absorb failed"
	t0=$(date +%s)
	rm -f /tmp/f062.rc
	(
		dd if=/dev/zero of=/dev/pcache0 bs=1M seek=512 count=256 oflag=direct status=none 2>/tmp/f062.err
		echo $? >/tmp/f062.rc
	) &
	pid=$!
	if ! bg_wait $pid $limit; then
		echo "writer still blocked after ${limit}s"
		echo "stats: $(tr '\n' ' ' <$CD0/backing_dev0/stats)"
		dm_switch linear	# let it finish, or nothing below can clean up
		bg_wait $pid 300
		echo 1000 >$PARAMS/writeback_idle_ms
		fail "a writer to a full cache over a failing disk hung for more than ${limit}s (stall bound ${STALL}s)"
	fi
	secs=$(($(date +%s) - t0))
	rc=$(cat /tmp/f062.rc)
	echo "writer ended after ${secs}s, rc $rc: $(cat /tmp/f062.err)"
	[[ $rc != 0 ]] || fail "256 MiB into a 128 MiB cache over a dead disk succeeded?"
	grep -qi 'input/output error' /tmp/f062.err || fail "the writer failed without EIO: $(cat /tmp/f062.err)"
	f=$(stat_of writeback_failing)
	e=$(stat_of writeback_last_error)
	n=$(stat_of write_errors)
	echo "stats: writeback_failing=$f writeback_last_error=$e writeback_failing_s=$(stat_of writeback_failing_s) write_errors=$n writeback_errors=$(stat_of writeback_errors)"
	[[ $f == 1 ]] || fail "stats writeback_failing is '$f' with a dead disk (want 1)"
	[[ $e == 5 ]] || fail "stats writeback_last_error is '$e' (want 5, EIO)"
	((n > 0)) || fail "stats write_errors is '$n' after a write failed"
	# Cached data still reads back; a flush ends (either way) within the bound.
	read_back /dev/pcache0 0 /tmp/f062.a || fail "cached data does not read back while the disk fails"
	t0=$(date +%s)
	timeout -k 5 $limit blockdev --flushbufs /dev/pcache0
	rc=$?
	echo "flush: rc $rc after $(($(date +%s) - t0))s"
	((rc != 124 && rc != 137)) || fail "a flush of a full cache over a dead disk did not end in ${limit}s"
	# One log line for the failing writeback, not one per retry.
	n=$(rel_kmsg_problems "$seq" | grep -cE 'writeback(:| failing| still failing)')
	echo "kernel log lines about writeback: $n"
	rel_kmsg_problems "$seq" | head -n 8
	((n <= 2)) || fail "$n kernel log lines about the failing writeback in ${secs}s (want one, rate-limited)"
	echo 1000 >$PARAMS/writeback_idle_ms
	dm_switch linear
	wait_clean 240 || fail "writeback did not finish after the disk healed"
	[[ $(stat_of writeback_failing) == 0 ]] || fail "writeback_failing still $(stat_of writeback_failing) after recovery"
	kmsg_after_seq "$seq" | grep -q 'writeback recovered' || fail "no log line saying writeback recovered"
	read_back $DMDEV 0 /tmp/f062.a || fail "after healing, the disk does not hold the acknowledged data"
}

# A failing writeback retries with backoff, not every second.
test_writeback_backs_off() {
	local e0 e1 secs=12
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=32 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	sleep 4	# idle writeback (writeback_idle_ms 1000) starts failing
	e0=$(stat_of writeback_errors)
	sleep $secs
	e1=$(stat_of writeback_errors)
	echo "writeback_errors $e0 -> $e1 in ${secs}s"
	dm_switch linear
	wait_clean 120 || fail "writeback did not finish after the disk healed"
	((e1 - e0 <= 4)) || fail "writeback retried $((e1 - e0)) times in ${secs}s (no backoff)"
}

# pcachectl status names a failing writeback (text and --json).
test_status_shows_failing_writeback() {
	local out json i
	dm_switch error
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=40 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	for ((i = 0; i < 40; i++)); do
		[[ $(stat_of writeback_failing) == 1 ]] && break
		sleep 0.5
	done
	sleep 1
	out=$("$PCACHECTL" status 2>&1)
	json=$("$PCACHECTL" status --json 2>&1)
	echo "$out"
	echo "$json" | grep -E '"writeback_(state|last_error|failing_s)"|"write_errors"'
	dm_switch linear
	wait_clean 120 || fail "writeback did not finish after the disk healed"
	grep -q 'WRITEBACK FAILING' <<<"$out" || fail "pcachectl status does not show the failing writeback"
	grep -q 'errno 5' <<<"$out" || fail "pcachectl status does not name the error (EIO, errno 5)"
	grep -Eq '"writeback_state" *: *"failing"' <<<"$json" || fail "pcachectl status --json has no writeback_state \"failing\""
	out=$("$PCACHECTL" status 2>&1)
	! grep -q 'WRITEBACK FAILING' <<<"$out" || fail "pcachectl status still shows a failing writeback after recovery"
}

# backing-stop against a dead disk: interruptible, bounded, device kept.
test_stop_dead_disk_interruptible_bounded() {
	local t0 secs r
	dm_switch error
	dd if=/tmp/f062.b of=/dev/pcache0 bs=1M seek=200 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	t0=$(date +%s)
	timeout -s INT -k 60 3 pcache-rawwrite $ADM "op=backing-stop,backing_id=0,flush=1"
	secs=$(($(date +%s) - t0))
	echo "backing-stop interrupted by SIGINT after 3 s: returned after ${secs}s"
	[[ -b /dev/pcache0 ]] || fail "the interrupted stop tore /dev/pcache0 down"
	((secs <= 8)) || fail "SIGINT did not end backing-stop (it returned after ${secs}s)"
	read_back /dev/pcache0 200 /tmp/f062.b || fail "the data does not read back after the interrupted stop"

	t0=$(date +%s)
	r=$(rel_write $ADM "op=backing-stop,backing_id=0,flush=1" 120)
	secs=$(($(date +%s) - t0))
	echo "backing-stop with a dead disk: $r after ${secs}s (bound ${STALL}s)"
	[[ $r == EIO ]] || fail "backing-stop with a dead disk returned $r (want EIO, device kept)"
	((secs <= STALL + 10)) || fail "backing-stop took ${secs}s, bound ${STALL}s"
	[[ -b /dev/pcache0 ]] || fail "the failed stop tore /dev/pcache0 down"
	read_back /dev/pcache0 200 /tmp/f062.b || fail "the data does not read back after the failed stop"
	dd if=/tmp/f062.a of=/dev/pcache0 bs=1M seek=220 conv=nocreat,notrunc oflag=direct status=none ||
		fail "/dev/pcache0 does not take writes after the failed stop"
	dm_switch linear
	wait_clean 120 || fail "writeback did not finish after healing"
	read_back $DMDEV 200 /tmp/f062.b || fail "the disk does not hold the data after healing"
	read_back $DMDEV 220 /tmp/f062.a || fail "the disk does not hold the later write after healing"
}

# An unregister behind a backing-stop that waits on a dead disk returns, and
# so does a reader of backing_records.
test_unregister_behind_stuck_stop() {
	local pid t0 secs r
	dm_switch error
	dd if=/tmp/f062.b of=/dev/pcache0 bs=1M seek=240 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	rel_write $ADM "op=backing-stop,backing_id=0,flush=1" 120 >/tmp/f062.stop &
	pid=$!
	sleep 1
	# a reader of backing_records (pcachectl devices, udev) behind the stop is interruptible
	t0=$(date +%s)
	timeout -s INT -k 60 2 cat $CD0/backing_records >/dev/null 2>&1
	secs=$(($(date +%s) - t0))
	echo "backing_records read behind the stop, SIGINT after 2 s: returned after ${secs}s"
	((secs <= 4)) || fail "a backing_records reader behind a stuck stop ignored SIGINT (${secs}s)"
	t0=$(date +%s)
	timeout -s INT -k 60 2 pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0
	secs=$(($(date +%s) - t0))
	echo "unregister behind the stop, SIGINT after 2 s: returned after ${secs}s"
	((secs <= 7)) || fail "unregister behind a stuck stop ignored SIGINT (${secs}s)"
	t0=$(date +%s)
	r=$(rel_write $BUS/cache_dev_unregister cache_dev_id=0 120)
	secs=$(($(date +%s) - t0))
	wait $pid
	echo "unregister behind the stop: $r after ${secs}s; the stop: $(cat /tmp/f062.stop)"
	[[ $r == EBUSY ]] || fail "unregister behind a stuck stop returned $r (want EBUSY: the device keeps running)"
	((secs <= STALL + 10)) || fail "unregister waited ${secs}s behind the stop (bound ${STALL}s)"
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 is gone"
	dm_switch linear
	wait_clean 120 || fail "writeback did not finish after healing"
	read_back $DMDEV 240 /tmp/f062.b || fail "the disk does not hold the data after healing"
}

# force=1 stops at once with a dead disk; the next start replays the data.
test_force_stop_keeps_dirty_data() {
	local t0 secs r d
	dm_switch error
	dd if=/tmp/f062.c of=/dev/pcache0 bs=1M seek=260 conv=nocreat,notrunc oflag=direct status=none ||
		fail "write failed"
	dd if=/tmp/f062.b of=/dev/pcache0 bs=1M seek=280 conv=nocreat,notrunc oflag=direct,sync status=none ||
		fail "write failed"
	sleep 2	# writeback is failing
	t0=$(date +%s)
	r=$(rel_write $ADM "op=backing-stop,backing_id=0,force=1" 120)
	secs=$(($(date +%s) - t0))
	echo "backing-stop force=1 with a dead disk: $r after ${secs}s"
	[[ $r == OK ]] || fail "backing-stop force=1 returned $r"
	((secs <= 10)) || fail "backing-stop force=1 took ${secs}s with a dead disk"
	for _ in $(seq 50); do [[ -b /dev/pcache0 ]] || break; sleep 0.1; done
	[[ ! -b /dev/pcache0 ]] || fail "/dev/pcache0 still exists after the forced stop"
	dm_switch linear
	start_backing
	d=$(stat_of dirty_bytes)
	echo "after the restart: dirty_bytes $d"
	read_back /dev/pcache0 260 /tmp/f062.c || fail "dirty data lost across a forced stop (extent 260)"
	read_back /dev/pcache0 280 /tmp/f062.b || fail "dirty data lost across a forced stop (extent 280)"
	wait_clean 120 || fail "writeback did not finish after the restart"
	read_back $DMDEV 260 /tmp/f062.c || fail "the disk does not hold the replayed data (260)"
	read_back $DMDEV 280 /tmp/f062.b || fail "the disk does not hold the replayed data (280)"
}
