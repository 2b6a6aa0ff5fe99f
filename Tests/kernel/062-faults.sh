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
#   - backing-stop while the disk fails returns within a bound (it may fail),
#     and the dirty data is still there after the disk heals.
# Under `make soak` (pcache_soak=N) the flakey phase runs N times longer.

TIMEOUT=560

. "$REPO/Tests/reliability/common.bash"

DM=pcache-f062
DMDEV=/dev/mapper/$DM
ADM=$CD0/adm
SECTORS=

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	command -v dmsetup >/dev/null || { echo "dmsetup missing"; return 1; }
}

SECTORS=$(blockdev --getsz "$BACKING" 2>/dev/null)

table() { # table linear|error|flakey UP DOWN
	case $1 in
	linear) echo "0 $SECTORS linear $BACKING 0" ;;
	error) echo "0 $SECTORS error" ;;
	flakey) echo "0 $SECTORS flakey $BACKING 0 $2 $3" ;;
	esac
}

# dm_switch KIND [ARGS]: load a new table and resume (no udev: --noudevsync).
dm_switch() {
	dmsetup reload --noudevsync $DM --table "$(table "$@")" || fail "dmsetup reload $* failed"
	timeout 60 dmsetup resume --noudevsync $DM || fail "dmsetup resume ($*) failed or hung"
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
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	dmsetup create --noudevsync $DM --table "$(table linear)" || fail "dmsetup create failed"
	dmsetup mknodes $DM
	[[ -b $DMDEV ]] || fail "$DMDEV did not appear"
	start_backing cache_size=128
	dd if=/dev/urandom of=/tmp/f062.a bs=1M count=4 status=none
	dd if=/dev/urandom of=/tmp/f062.b bs=1M count=4 status=none
	dd if=/dev/urandom of=/tmp/f062.c bs=1M count=8 status=none
}

teardown() {
	dmsetup reload --noudevsync $DM --table "$(table linear)" 2>/dev/null &&
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
	r=$(rel_write $ADM "op=backing-stop,backing_id=0" 150)
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
