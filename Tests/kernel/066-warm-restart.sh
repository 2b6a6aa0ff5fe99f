# SPDX-License-Identifier: Apache-2.0
#
# 066-warm-restart: a backing stop keeps the cache (format 3, record state
# "cached") and the next start finds it warm; a stop with flush=1 hands the
# disk back. Each test reads back what was cached before the stop and counts
# hits and misses in the new cache instance's stats (they start at zero):
#  - stop/start, and a module reload in between: at least 95 % hits, the data
#    intact, the record "cached" while stopped;
#  - 500 MiB dirty (the disk suspended while they are written, so that
#    writeback cannot drain them), then a slow disk (every write 100 ms): the
#    stop waits only for the writeback writes in flight and takes under 1 s;
#    the start replays the dirty data (dirty_bytes again), and reading it
#    back is all hits;
#  - pcachectl backing stop --flush: progress lines (--json), the record
#    "stopped", the bare disk holds everything written;
#  - an interrupted flush (SIGINT): exit 75, /dev/pcacheN keeps running with
#    its dirty data, and a second flush finishes the job.
# The backing disk is a dm device over $BACKING so that its speed can change
# under the cache (linear, or delay).

TIMEOUT=900

. "$TESTS_DIR/cache_common.bash"
. "$REPO/Tests/reliability/common.bash"

DM=pc066
DMDEV=/dev/mapper/$DM
PARAMS=/sys/module/pcache/parameters
DATA=/tmp/t066.data

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	command -v dmsetup >/dev/null || { echo "dmsetup missing"; return 1; }
	[[ -x "$PCACHECTL" ]] || { echo "pcachectl is not built"; return 1; }
}

# dm_switch linear | wdelay MS: a new table for $DM (common.bash)
dm_switch() { dm_backing_switch $DM "$@"; }

stat_of() { awk -v n="$1" '$1 == n { print $2 }' $CD0/backing_dev0/stats 2>/dev/null; }

record_state() { # the state of record 0 in backing_records
	sed -n 's/^backing_id=0 state=\([a-z]*\) .*/\1/p' $CD0/backing_records
}

start() {
	local r
	r=$(rel_write $CD0/adm "op=backing-start,path=$DMDEV${1:+,$1}" 300)
	[[ $r == OK ]] || fail "backing-start on $DMDEV: $r"
	for _ in $(seq 100); do [[ -b /dev/pcache0 ]] && break; sleep 0.1; done
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 did not appear"
}

# stop_timed [OPTS]: backing-stop of record 0; prints the milliseconds it took.
stop_timed() {
	local t0 t1 r
	t0=$(date +%s%N)
	r=$(rel_write $CD0/adm "op=backing-stop,backing_id=0${1:+,$1}" 600)
	t1=$(date +%s%N)
	[[ $r == OK ]] || fail "backing-stop${1:+ $1}: $r"
	echo $(((t1 - t0) / 1000000))
}

# read_hits MB: read MB MiB of /dev/pcache0 (O_DIRECT, 1 MiB), compare with
# $DATA, print "HITS MISSES PERCENT" of the reads (stats deltas).
read_hits() {
	local h0 m0 h1 m1
	h0=$(stat_of hit_bytes) m0=$(stat_of miss_bytes)
	cmp <(dd if=/dev/pcache0 bs=1M count="$1" iflag=direct status=none) <(head -c $(($1 * 1048576)) $DATA) ||
		fail "/dev/pcache0 does not hold what was written"
	h1=$(stat_of hit_bytes) m1=$(stat_of miss_bytes)
	local t=$((h1 - h0 + m1 - m0))
	echo "$((h1 - h0)) $((m1 - m0)) $(((h1 - h0) * 100 / (t > 0 ? t : 1)))"
}

setup() {
	load_module
	fresh_format
	dmsetup create --noudevsync $DM --table "$(dm_backing_table linear)" || fail "dmsetup create failed"
	dmsetup mknodes $DM
	[[ -b $DMDEV ]] || fail "$DMDEV did not appear"
	dd if=/dev/urandom of=$DATA bs=1M count=512 status=none || fail "cannot make test data"
}

teardown() {
	dmsetup reload --noudevsync $DM --table "$(dm_backing_table linear)" 2>/dev/null &&
		dmsetup resume --noudevsync $DM 2>/dev/null
	rel_teardown
	dmsetup remove --noudevsync $DM 2>/dev/null
	unload_module
}

# A new cache on a fresh record: register anew after a format.
fresh_cache() {
	rel_teardown
	unload_module
	load_module "$@"
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	start cache_size=960
}

test_stop_start_is_warm() {
	local ms hits state
	fresh_cache
	dd if=$DATA of=/dev/pcache0 bs=1M count=200 oflag=direct status=none || fail "write failed"
	ms=$(stop_timed)
	state=$(record_state)
	echo "stop: ${ms} ms, record state '$state'"
	[[ $state == cached ]] || fail "after a stop the record is '$state', not 'cached'"
	kmsg_mark
	start
	expect_kmsg "cache kept at the last stop replayed"
	read -r h m hits <<<"$(read_hits 200)"
	echo "after stop/start: $h hit bytes, $m miss bytes, ${hits}% hits"
	((hits >= 95)) || fail "only ${hits}% of the reads after the restart were hits (want >= 95)"
	rel_tally warm_restart_hit_percent "$hits"
	rel_tally stop_ms "$ms"
}

test_module_reload_is_warm() {
	local hits
	# the cache of the previous test: stop, unload, load, register, start
	[[ -b /dev/pcache0 ]] || fail "previous test left no /dev/pcache0"
	stop_timed >/dev/null
	expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0
	unload_module
	load_module
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	[[ $(record_state) == cached ]] || fail "after the reload the record is '$(record_state)', not 'cached'"
	start
	read -r h m hits <<<"$(read_hits 200)"
	echo "after a module reload: $h hit bytes, $m miss bytes, ${hits}% hits"
	((hits >= 95)) || fail "only ${hits}% hits after a module reload (want >= 95)"
	rel_tally reload_hit_percent "$hits"
}

test_stop_with_500MiB_dirty_is_bounded_and_replayed() {
	local ms dirty before hits
	# writeback only under space pressure: the 500 MiB stay dirty
	fresh_cache writeback_idle_ms=600000
	dmsetup suspend --noudevsync $DM || fail "dmsetup suspend failed"
	dd if=$DATA of=/dev/pcache0 bs=1M count=500 oflag=direct status=none || fail "write failed"
	# keys still in an open kset are counted once it is logged (its flush
	# work runs soon after): wait until dirty_bytes stops growing, <= 10 s
	before=$(stat_of dirty_bytes)
	for _ in $(seq 10); do
		sleep 1
		[[ $(stat_of dirty_bytes) == "$before" ]] && break
		before=$(stat_of dirty_bytes)
	done
	echo "dirty before the stop: $((before / 1048576)) MiB"
	((before >= 450 * 1048576)) || fail "only $before bytes dirty: the test did not build a dirty cache"
	# writeback's writes held by the suspended disk now take 100 ms each
	dm_switch wdelay 100
	ms=$(stop_timed)
	echo "stop with $((before / 1048576)) MiB dirty behind a disk taking 100 ms per write: ${ms} ms"
	((ms < 1000)) || fail "the stop took ${ms} ms (want < 1000)"
	dm_switch linear
	start
	dirty=$(stat_of dirty_bytes)
	echo "dirty after the start: $((dirty / 1048576)) MiB"
	((dirty > 0 && dirty <= before)) || fail "replay found $dirty dirty bytes (before the stop: $before)"
	# the first 200 MiB read back (all of it is checked by the flush below)
	read -r h m hits <<<"$(read_hits 200)"
	echo "reading 200 MiB of it back: ${hits}% hits"
	((hits >= 95)) || fail "only ${hits}% hits after the start (want >= 95)"
	rel_tally stop_ms_500mib_dirty "$ms"
}

test_flush_hands_the_disk_back() {
	local out rc n
	[[ -b /dev/pcache0 ]] || fail "previous test left no /dev/pcache0"
	# 200 MiB dirty over the start of the 500 MiB the disk may hold by now:
	# the bytes 300..500 MiB of the data at 0..200 MiB
	dmsetup suspend --noudevsync $DM || fail "dmsetup suspend failed"
	tail -c +$((300 * 1048576 + 1)) $DATA | head -c $((200 * 1048576)) |
		dd of=/dev/pcache0 bs=1M iflag=fullblock oflag=direct status=none || fail "write failed"
	echo "dirty before the flush: $(($(stat_of dirty_bytes) / 1048576)) MiB"
	# 64 writes of at most 512 KiB in flight, 300 ms each: about 100 MiB/s
	dm_switch wdelay 300
	out=$("$PCACHECTL" backing stop --flush --json --interval 0.2 /dev/pcache0 2>&1)
	rc=$?
	echo "$out" | head -n 3
	echo "$out" | tail -n 2
	((rc == 0)) || fail "backing stop --flush: exit $rc: $(tail -n 1 <<<"$out")"
	n=$(grep -c '"event":"progress"' <<<"$out")
	((n >= 2)) || fail "only $n progress lines"
	grep -q '"event":"stopped".*"disk_current":true' <<<"$out" || fail "no final stopped line"
	[[ $(record_state) == stopped ]] || fail "after --flush the record is '$(record_state)', not 'stopped'"
	dm_switch linear
	blockdev --flushbufs $BACKING
	cmp -n $((200 * 1048576)) $BACKING <(tail -c +$((300 * 1048576 + 1)) $DATA) ||
		fail "the bare disk does not hold the last 200 MiB written"
	cmp -i $((200 * 1048576)) -n $((300 * 1048576)) $BACKING $DATA ||
		fail "the bare disk does not hold the 500 MiB written before"
	echo "the bare disk holds all 500 MiB"
}

test_interrupted_flush_keeps_running() {
	local pid rc out dirty
	fresh_cache writeback_idle_ms=600000
	dd if=$DATA of=/dev/pcache0 bs=1M count=300 oflag=direct status=none || fail "write failed"
	# 64 writes of at most 512 KiB in flight, 2 s each: about 16 MiB/s
	dm_switch wdelay 2000
	"$PCACHECTL" backing stop --flush /dev/pcache0 >/tmp/t066.out 2>&1 &
	pid=$!
	sleep 2
	kill -INT $pid
	timeout 60 tail --pid=$pid -f /dev/null || fail "pcachectl did not end 60 s after SIGINT"
	wait $pid
	rc=$?
	out=$(cat /tmp/t066.out)
	echo "$out" | tail -n 2
	((rc == 75)) || fail "interrupted flush: exit $rc (want 75): $out"
	grep -q 'interrupted' <<<"$out" || fail "no 'interrupted' in: $out"
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 is gone after an interrupted flush"
	dirty=$(stat_of dirty_bytes)
	echo "still dirty: $((dirty / 1048576)) MiB, record '$(record_state)'"
	((dirty > 0)) || fail "nothing dirty left: the interruption came too late to test anything"
	[[ $(record_state) == running ]] || fail "record is '$(record_state)' while started"
	dd if=/dev/pcache0 bs=1M count=1 iflag=direct status=none of=/dev/null || fail "/dev/pcache0 cannot be read"
	dm_switch linear
	"$PCACHECTL" backing stop --flush /dev/pcache0 >/tmp/t066.out 2>&1 || fail "second flush failed: $(cat /tmp/t066.out)"
	blockdev --flushbufs $BACKING
	cmp -n $((300 * 1048576)) $BACKING $DATA || fail "the bare disk does not hold what was written"
}

# Replay time of a cache filled with 4 KiB keys, per GiB of keyed data:
# 800 MiB of random 4 KiB writes (204800 keys, no overlaps) into the 960 MiB
# cache, a stop, and the backing-start timed (the replay of every kset).
test_replay_time_per_gib_of_4k_keys() {
	local t0 ms keys per_gib line replay
	fresh_cache writeback_idle_ms=600000
	echo 90 >$CD0/backing_dev0/cache_gc_percent
	fio --name=fill --filename=/dev/pcache0 --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--size=800m --iodepth=16 --randrepeat=0 >/tmp/t066.fio 2>&1 || { tail -n 5 /tmp/t066.fio; fail "fio fill failed"; }
	keys=$(stat_of dirty_keys)
	stop_timed >/dev/null
	kmsg_mark
	t0=$(date +%s%N)
	start
	ms=$((($(date +%s%N) - t0) / 1000000))
	line=$(kmsg_since_mark | grep 'replayed [0-9]' | tail -n 1)
	echo "$line"
	replay=$(sed -n 's/.*, in \([0-9]*\) ms$/\1/p' <<<"$line")
	[[ -n "$replay" ]] || fail "no replay time in the log line"
	per_gib=$((replay * 1024 / 800))
	echo "start with 800 MiB of 4 KiB keys ($keys dirty keys before the stop): ${ms} ms (/dev/pcache0 there), the replay ${replay} ms: ${per_gib} ms per GiB"
	((per_gib <= 2000)) || fail "replay took ${per_gib} ms per GiB of 4 KiB keys (want <= 2000)"
	rel_tally replay_ms_per_gib_4k "$per_gib"
	rel_tally start_ms_800mib_4k "$ms"
	stop_timed >/dev/null
}
