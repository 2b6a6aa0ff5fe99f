#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs inside the benchmark VM: the same pmem and the same backing disk are
# measured, in turn, raw and under each cache (dm-writecache, bcache, pcache).
# Every configuration gets the same fio jobs; results land as fio JSON in
# $RESULTS/bench/<config>/<job>.json and a line per run on the console.
set -uo pipefail

: "${PMEM:=/dev/pmem0}" "${BACKING:=/dev/vda}" "${RESULTS:=/results}"
: "${BENCH_RUNTIME:=15}" "${BENCH_CONFIGS:=pmem backing writecache bcache nullmq pcache}"
OUT=$RESULTS/bench
mkdir -p "$OUT"
log() { echo "BENCH: $*"; }

backing_sectors() { blockdev --getsz "$BACKING"; }

wipe() { # forget every cache's metadata on both devices
	dd if=/dev/zero of="$PMEM" bs=1M count=8 oflag=direct status=none
	dd if=/dev/zero of="$BACKING" bs=1M count=8 oflag=direct status=none
}

# ---- fio jobs: name, then fio arguments (the target is appended) ----
# Burst jobs run first, on the freshly set-up, empty cache, and stop after a
# fixed volume (--io_size) that fits every cache here (64 MiB, then 2 x 96
# MiB): they measure a cache absorbing writes. The timed jobs after them
# write several times the cache size within their 15 s, so for a cache that
# must write back what it logged they measure the backing disk as well. The
# read-hit job first waits for the caches to settle (settle below).
BURST_JOBS=(
	"burst-randwrite-4k-qd1|--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --numjobs=1 --size=256M --io_size=64M"
	"burst-randwrite-4k-2x16|--rw=randwrite --bs=4k --ioengine=libaio --iodepth=16 --numjobs=2 --size=256M --io_size=96M"
)
JOBS=(
	"randwrite-4k-qd1|--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --numjobs=1 --size=256M"
	"randwrite-4k-2x16|--rw=randwrite --bs=4k --ioengine=libaio --iodepth=16 --numjobs=2 --size=256M"
	"randread-4k-hit|--rw=randread --bs=4k --ioengine=libaio --iodepth=16 --numjobs=2 --size=256M"
	"randread-4k-miss|--rw=randread --bs=4k --ioengine=libaio --iodepth=16 --numjobs=2 --offset=1G --size=2G"
	"seqwrite-1m|--rw=write --bs=1M --ioengine=libaio --iodepth=4 --numjobs=1 --offset=512M --size=256M"
	"mixed-70r30w-4k|--rw=randrw --rwmixread=70 --bs=4k --ioengine=libaio --iodepth=16 --numjobs=2 --size=256M"
)

run_fio() { # config target name args...: one job, JSON to $OUT/config/name.json
	local config=$1 target=$2 name=$3
	shift 3
	fio --name="$name" --filename="$target" "$@" --direct=1 --group_reporting \
		--randrepeat=0 --percentile_list=50:99:99.9 --output-format=json \
		--output="$OUT/$config/$name.json" || { log "$config $name: fio failed"; return 1; }
	log "$config $name done"
}

# Wait (at most 60 s) until a cache's background writeback has finished or
# stopped making progress, so that the read-hit job measures the read path
# rather than reads competing with writeback of the write jobs before it.
# dm-writecache stays below its high watermark here and does not write back.
settle() { # config
	local cur prev="" same=0 t
	for t in $(seq 60); do
		case $1 in
		pcache) cur=$(sed -n 's/^dirty_bytes //p' /sys/bus/pcache/devices/cache_dev0/backing_dev0/stats) ;;
		bcache) cur=$(cat /sys/block/bcache0/bcache/dirty_data) ;;
		*) return 0 ;;
		esac
		[ "$cur" = 0 ] && break
		if [ "$cur" = "$prev" ]; then
			same=$((same + 1))
			[ "$same" -ge 3 ] && break
		else
			same=0
		fi
		prev=$cur
		sleep 1
	done
	log "$1: settled after ${t}s, dirty: $cur"
}

run_jobs() { # config target
	local config=$1 target=$2 job name args
	mkdir -p "$OUT/$config"
	# fio would happily benchmark a regular file of that name on tmpfs.
	[ -b "$target" ] || { log "$config: $target is not a block device"; return 1; }
	# Warm-up: 16 MiB of 4 KiB random writes to a range no measured job
	# touches (768-832 MiB), so that TCG has translated the configuration's
	# code paths once; then the caches settle (write it back) again. A fixed
	# volume, not a time: a timed warm-up at these rates filled most of a
	# log-structured cache with overwrites before the burst jobs began.
	fio --name=warm --filename="$target" --rw=randwrite --bs=4k --ioengine=libaio \
		--iodepth=16 --numjobs=2 --offset=768M --size=64M --io_size=8M \
		--direct=1 --output=/dev/null || return 1
	settle "$config"
	for job in "${BURST_JOBS[@]}"; do
		# shellcheck disable=SC2086
		run_fio "$config" "$target" "${job%%|*}" ${job#*|} --runtime=120 || return 1
	done
	[ "$config" = nullmq ] && return 0	# the ceiling: only the write bursts
	# The read-hit job reads what this prefill wrote through the cache.
	fio --name=prefill --filename="$target" --rw=write --bs=1M --size=256M \
		--direct=1 --ioengine=libaio --iodepth=4 --output=/dev/null || return 1
	for job in "${JOBS[@]}"; do
		name=${job%%|*}
		args=${job#*|}
		if [ "$config" = pmem ] && [ "$name" = randread-4k-miss ]; then
			args=${args/--offset=1G --size=2G/--offset=0 --size=768M}
		fi
		[ "$name" = randread-4k-hit ] && settle "$config"
		# shellcheck disable=SC2086
		run_fio "$config" "$target" "$name" $args --time_based --runtime="$BENCH_RUNTIME" || return 1
	done
}

setup_pmem() { TARGET=$PMEM; }
teardown_pmem() { :; }

setup_backing() { TARGET=$BACKING; }
teardown_backing() { :; }

setup_writecache() {
	modprobe dm-writecache || return 1
	dmsetup create bench_wc --table "0 $(backing_sectors) writecache p $BACKING $PMEM 4096 0" || return 1
	dmsetup mknodes bench_wc	# no udevd in the guest to make the node
	TARGET=/dev/mapper/bench_wc
}
teardown_writecache() { dmsetup remove bench_wc; }

setup_bcache() {
	local dev
	modprobe bcache || return 1
	make-bcache --wipe-bcache --writeback -C "$PMEM" -B "$BACKING" >/dev/null || return 1
	echo "$PMEM" > /sys/fs/bcache/register 2>/dev/null
	echo "$BACKING" > /sys/fs/bcache/register 2>/dev/null
	for _ in $(seq 50); do [ -e /sys/block/bcache0 ] && break; sleep 0.2; done
	[ -e /sys/block/bcache0 ] || return 1
	dev=/sys/block/bcache0/bcache
	echo writeback > $dev/cache_mode
	echo 0 > $dev/sequential_cutoff	# cache sequential I/O too, like the others
	for c in /sys/fs/bcache/*/congested_*_threshold_us; do [ -e "$c" ] && echo 0 > "$c"; done
	TARGET=/dev/bcache0
}
teardown_bcache() {
	echo 1 > /sys/block/bcache0/bcache/stop
	for s in /sys/fs/bcache/*-*; do [ -e "$s/stop" ] && echo 1 > "$s/stop"; done
	sleep 1
}

# The ceiling: null_blk stores nothing and completes each request as it
# arrives. Set up like /dev/pcacheN (blk-mq, 2 queues of depth 128,
# blocking), it is as fast as any blk-mq driver can be in this VM. (Its
# bio-based mode is gone in 6.12: queue_mode=0 falls back to blk-mq.)
setup_nullmq() {
	modprobe null_blk nr_devices=1 gb=1 bs=512 queue_mode=2 submit_queues=2 \
		hw_queue_depth=128 blocking=1 irqmode=0 memory_backed=0 no_sched=1 || return 1
	TARGET=/dev/nullb0
}
teardown_nullmq() { rmmod null_blk; }

setup_pcache() {
	modprobe libcrc32c 2>/dev/null
	grep -q '^pcache ' /proc/modules || insmod "$PCACHE_KO" || return 1
	"$PCACHECTL" format --force "$PMEM" >/dev/null || return 1
	echo "path=$PMEM" > /sys/bus/pcache/cache_dev_register || return 1
	echo "op=backing-start,path=$BACKING,queues=2,cache_size=768" \
		> /sys/bus/pcache/devices/cache_dev0/adm || return 1
	for _ in $(seq 50); do [ -b /dev/pcache0 ] && break; sleep 0.2; done
	TARGET=/dev/pcache0
}
teardown_pcache() { :; }	# last configuration: the VM powers off with it

for config in $BENCH_CONFIGS; do
	wipe
	log "$config: setup"
	if ! "setup_$config"; then
		log "$config: setup failed, skipped"
		echo "setup failed" > "$OUT/$config.skipped"
		continue
	fi
	run_jobs "$config" "$TARGET" || echo "jobs failed" > "$OUT/$config.failed"
	grep -h . /sys/bus/pcache/devices/cache_dev0/backing_dev0/stats 2>/dev/null | sed 's/^/BENCH: pcache stats /'
	"teardown_$config"
done
log "all done"
