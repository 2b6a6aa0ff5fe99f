#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The cost figures of `make bench`, in two boots on the same media
# (Tests/bench/bench.sh drives them):
#   fill    new cache of 768 MiB in front of a dm-linear view of the backing
#           disk that is suspended, so nothing is written back; 4 KiB random
#           writes cover 480 MiB once each (122880 keys, all dirty); then the
#           index memory is read from /proc/slabinfo ("pcache_key" slab) and
#           the VM waits to be killed (an unclean stop: no backing-stop).
#   replay  registers the cache again and times backing-start, which replays
#           the whole key log, a backing-stop (the cache kept) and the start
#           after it, then times a backing-stop with flush=1, which
#           writes every dirty byte back (writeback throughput).
# Every figure is printed as "COST name value" and written to
# $RESULTS/cost.env for report.py.
set -uo pipefail
# a script of its own (bash FILE): the test library is not inherited
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/cache_common.bash"

FILL_MIB=480
CACHE_MIB=768
cost() { echo "COST $1 $2"; echo "$1=$2" >>"$RESULTS/cost.env"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

linear_backing() {
	dmsetup create --noudevsync bench_lin --table "0 $(blockdev --getsz "$BACKING") linear $BACKING 0" &&
		dmsetup mknodes bench_lin
}

slab_bytes() { # bytes of pages held by the pcache_key slab
	awk '$1 == "pcache_key" { print $15 * $6 * 4096 }' /proc/slabinfo
}

case ${1:-} in
fill)
	load_module
	cache_register
	linear_backing || fail "dm-linear over $BACKING"
	slab0=$(slab_bytes)
	pc=$(backing_start /dev/mapper/bench_lin "cache_size=$CACHE_MIB,queues=2")
	dmsetup suspend bench_lin || fail "cannot suspend the backing view"
	fio --name=fill --filename="$pc" --rw=randwrite --bs=4k --size=${FILL_MIB}M --direct=1 \
		--ioengine=libaio --iodepth=16 --norandommap=0 --randrepeat=0 --output=/dev/null ||
		fail "fill failed"
	sync
	st=$CD0/backing_dev0/stats
	keys=$(awk '$1 == "dirty_keys" { print $2 }' "$st")
	dirty=$(awk '$1 == "dirty_bytes" { print $2 }' "$st")
	slab=$(slab_bytes)
	objs=$(awk '$1 == "pcache_key" { print $2 }' /proc/slabinfo)
	objsize=$(awk '$1 == "pcache_key" { print $4 }' /proc/slabinfo)
	cost fill_dirty_keys "$keys"
	cost fill_dirty_bytes "$dirty"
	cost key_objects "$objs"
	cost key_object_size "$objsize"
	cost index_slab_bytes $((slab - slab0))
	# per GiB of cache filled with 4 KiB writes
	cost index_mib_per_gib "$(awk -v b=$((slab - slab0)) -v d="$dirty" 'BEGIN { printf "%.2f", b / 1048576 / (d / 1073741824) }')"
	console_mark filled
	sleep 3600
	;;
replay)
	load_module
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	linear_backing || fail "dm-linear over $BACKING"
	# The adm write returns once the replay is done (writeback starts right
	# after, so the dirty figure comes from the replay's own log line).
	t0=$(now_ms)
	expect_write_ok $CD0/adm "op=backing-start,path=/dev/mapper/bench_lin"
	t1=$(now_ms)
	cost replay_ms $((t1 - t0))
	line=$(dmesg | grep -o 'replayed [0-9]* ksets, [0-9]* keys.*' | tail -n 1)
	echo "COST replay_line $line"
	cost replayed_ksets "$(sed -E 's/replayed ([0-9]+) ksets.*/\1/' <<<"$line")"
	cost replayed_keys "$(sed -E 's/.*ksets, ([0-9]+) keys.*/\1/' <<<"$line")"
	dirty=$(sed -E 's/.*, ([0-9]+) dirty bytes.*/\1/' <<<"$line")
	cost replayed_dirty_bytes "$dirty"
	for _ in $(seq 50); do [[ -b /dev/pcache0 ]] && break; sleep 0.1; done
	[[ -b /dev/pcache0 ]] || fail "no /dev/pcache0 after the replay"
	cost replay_ms_per_gib "$(awk -v ms=$((t1 - t0)) -v b="$dirty" 'BEGIN { printf "%.0f", ms * 1073741824 / (b > 0 ? b : 1) }')"
	# a stop that keeps the dirty cache, and the warm start after it
	t0=$(now_ms)
	backing_stop 0
	t1=$(now_ms)
	cost stop_keep_ms $((t1 - t0))
	t0=$(now_ms)
	expect_write_ok $CD0/adm "op=backing-start,path=/dev/mapper/bench_lin"
	t1=$(now_ms)
	cost restart_ms $((t1 - t0))
	for _ in $(seq 50); do [[ -b /dev/pcache0 ]] && break; sleep 0.1; done
	# writeback runs from the end of the restart (t1) until the stop with
	# flush=1 has written everything back and flushed the backing disk
	t0=$t1
	backing_flush_stop 0
	t1=$(now_ms)
	cost writeback_ms $((t1 - t0))
	cost writeback_mib_s "$(awk -v b="$dirty" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", b / 1048576 / (ms / 1000) }')"
	# the raw backing disk, sequential 1 MiB writes, for comparison
	fio --name=seq --filename="$BACKING" --rw=write --bs=1M --size=256M --offset=2G --direct=1 \
		--ioengine=libaio --iodepth=4 --output-format=json --output="$RESULTS/seq.json" ||
		fail "backing fio failed"
	cost backing_seq_write_mib_s "$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["jobs"][0]["write"]["bw"] / 1024))' "$RESULTS/seq.json")"
	echo cost-ok
	;;
*)
	echo "usage: bench-cost-guest.sh fill|replay" >&2
	exit 2
	;;
esac
