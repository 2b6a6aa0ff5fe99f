# SPDX-License-Identifier: Apache-2.0
#
# 063-concurrency: register/start/stop/unregister racing with I/O and with
# sysfs readers, module unload attempts while busy (refused), backing-stop
# while /dev/pcacheN is open or mounted (EBUSY), two writers racing to
# register the same device (exactly one wins). Objects are counted before
# and after (pcache sysfs entries, /sys/block/pcache*, the module refcount,
# /proc/slabinfo lines of pcache caches, exclusive claims on the disks):
# everything must return to the starting numbers. Under `make soak`
# (pcache_soak=N) the race loops run N times as many cycles.

TIMEOUT=560

. "$REPO/Tests/reliability/common.bash"

ADM=$CD0/adm

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
}

setup() {
	load_module
	fresh_format
}

teardown() {
	umount /mnt/p063 2>/dev/null
	rel_teardown
	unload_module
}

# counts: one line of object counts.
counts() {
	local slab f
	# SLUB counts objects parked in per-CPU slabs as active: flush them first
	for f in /sys/kernel/slab/pcache*/shrink; do
		[[ -w "$f" ]] && echo 1 >"$f"
	done
	slab=$(grep -ciE '^(pcache|cache_key|pcache_)' /proc/slabinfo 2>/dev/null)
	printf 'devices=%s blk=%s refcnt=%s slab_caches=%s slab_objs=%s\n' \
		"$(find $BUS/devices/ -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" \
		"$(ls /sys/block | grep -c '^pcache')" \
		"$(cat /sys/module/pcache/refcnt 2>/dev/null)" \
		"$slab" \
		"$(awk '$1 ~ /^pcache/ { n += $2 } END { print n + 0 }' /proc/slabinfo 2>/dev/null)"
}

# exclusive_free DEV: nothing holds an exclusive claim on DEV.
exclusive_free() {
	python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))' "$1" 2>/dev/null
}

register() { expect_write_ok $BUS/cache_dev_register "path=$PMEM"; }
unregister() { expect_write_ok $BUS/cache_dev_unregister cache_dev_id=0; }

start() {
	expect_write_ok $ADM "op=backing-start,path=$1${2:+,$2}"
	for _ in $(seq 50); do [[ -b /dev/pcache${3:-0} ]] && break; sleep 0.1; done
	[[ -b /dev/pcache${3:-0} ]] || fail "/dev/pcache${3:-0} did not appear"
}

stop() { expect_write_ok $ADM "op=backing-stop,backing_id=${1:-0}"; }

test_baseline_counts() {
	counts | tee "$RESULTS/counts.before"
	exclusive_free "$PMEM" || fail "$PMEM is claimed before the test"
	exclusive_free "$BACKING" || fail "$BACKING is claimed before the test"
}

test_unload_refused_while_busy() {
	local seq
	register
	start "$BACKING" cache_size=64
	rmmod pcache 2>/dev/null && fail "rmmod succeeded with a registered cache and a started backing device"
	exec 3<>/dev/pcache0
	rmmod pcache 2>/dev/null && fail "rmmod succeeded with /dev/pcache0 open"
	dd if=/dev/urandom of=/dev/pcache0 bs=64k count=64 conv=nocreat,notrunc oflag=direct status=none &
	local io=$!
	rmmod pcache 2>/dev/null && fail "rmmod succeeded during I/O"
	wait $io || fail "I/O failed while rmmod was attempted"
	exec 3>&-
	module_loaded || fail "the module is gone"
	[[ -b /dev/pcache0 ]] || fail "/dev/pcache0 vanished after refused unloads"
	stop
	unregister
}

test_stop_refused_while_open_or_mounted() {
	register
	start "$BACKING" cache_size=64
	exec 3<>/dev/pcache0
	expect_write_errno EBUSY $ADM "op=backing-stop,backing_id=0"
	exec 3>&-
	mkfs.ext4 -q -F /dev/pcache0 >/dev/null 2>&1 || fail "mkfs.ext4 on /dev/pcache0 failed"
	mkdir -p /mnt/p063
	mount /dev/pcache0 /mnt/p063 || fail "mount failed"
	dd if=/dev/urandom of=/mnt/p063/f bs=64k count=32 status=none
	sync
	md5sum /mnt/p063/f >/tmp/p063.md5
	expect_write_errno EBUSY $ADM "op=backing-stop,backing_id=0"
	expect_write_errno EBUSY $BUS/cache_dev_unregister cache_dev_id=0
	rmmod pcache 2>/dev/null && fail "rmmod succeeded with a mounted filesystem"
	[[ -d /mnt/p063 ]] && ls /mnt/p063/f >/dev/null || fail "the filesystem went away after a refused stop"
	umount /mnt/p063 || fail "umount failed"
	stop
	start "$BACKING"
	mount /dev/pcache0 /mnt/p063 || fail "mount after restart failed"
	(cd / && md5sum -c /tmp/p063.md5 >/dev/null) || fail "file content changed across refused stops and a restart"
	umount /mnt/p063
	stop
	unregister
}

# Two writers race to register the same device: one OK, the other EEXIST
# (or EBUSY), never two cache devices and never an error for both.
test_register_race_same_device() {
	local i a b ok cycles=$((10 * SOAK))
	for ((i = 0; i < cycles; i++)); do
		pcache-rawwrite $BUS/cache_dev_register "path=$PMEM" >/tmp/r063.a &
		pcache-rawwrite $BUS/cache_dev_register "path=$PMEM" >/tmp/r063.b &
		wait
		a=$(cat /tmp/r063.a) b=$(cat /tmp/r063.b)
		ok=0
		[[ $a == OK ]] && ok=$((ok + 1))
		[[ $b == OK ]] && ok=$((ok + 1))
		((ok == 1)) || fail "cycle $i: racing registers answered $a and $b"
		[[ "$a$b" == OKEEXIST || "$a$b" == EEXISTOK || "$a$b" == OKEBUSY || "$a$b" == EBUSYOK ]] ||
			fail "cycle $i: the loser got $a/$b, want EEXIST or EBUSY"
		(($(ls -d $BUS/devices/cache_dev* | wc -l) == 1)) || fail "cycle $i: more than one cache device"
		unregister
	done
	echo "$cycles racing register pairs: one winner each"
}

# register/unregister and start/stop cycles while readers hammer every
# attribute and I/O runs whenever /dev/pcache0 exists.
test_lifecycle_races_with_io_and_readers() {
	local cycles=$((6 * SOAK)) i pids=() r stops_busy=0 flag=/tmp/r063.run
	touch $flag
	(
		while [[ -e $flag ]]; do
			grep -r -s '' /sys/devices/pcache/ >/dev/null 2>&1
			cat /sys/block/pcache*/size >/dev/null 2>&1
		done
	) &
	pids+=($!)
	(
		while [[ -e $flag ]]; do
			[[ -b /dev/pcache0 ]] && dd if=/dev/pcache0 of=/dev/null bs=64k count=16 iflag=direct status=none 2>/dev/null
			sleep 0.05
		done
	) &
	pids+=($!)
	find /dev -maxdepth 1 -name "pcache*" -type f -delete # stray regular files, never device nodes
	for ((i = 0; i < cycles; i++)); do
		register
		start "$BACKING" cache_size=64
		start "$BACKING2" cache_size=64 1
		dd if=/dev/urandom of=/dev/pcache1 bs=64k count=32 conv=nocreat,notrunc oflag=direct status=none &
		local io=$!
		# stop while the writer may hold it open: EBUSY or OK, nothing else
		# (conv=nocreat: a writer that comes too late must not create a file).
		r=$(pcache-rawwrite $ADM "op=backing-stop,backing_id=1")
		[[ $r == OK || $r == EBUSY ]] || fail "cycle $i: backing-stop during I/O: $r"
		[[ $r == EBUSY ]] && stops_busy=$((stops_busy + 1))
		wait $io
		for b in 1 0; do
			for _ in $(seq 100); do
				[[ -d $CD0/backing_dev$b && -n "$(cat $CD0/backing_dev$b/mapped_id 2>/dev/null)" ]] || break
				r=$(pcache-rawwrite $ADM "op=backing-stop,backing_id=$b")
				[[ $r == OK ]] && break
				[[ $r == EBUSY ]] || fail "cycle $i: backing-stop $b: $r"
				sleep 0.1
			done
		done
		r=$(pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0)
		[[ $r == OK ]] || fail "cycle $i: unregister: $r"
	done
	rm -f $flag
	for p in "${pids[@]}"; do
		for _ in $(seq 60); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
		kill -0 "$p" 2>/dev/null && fail "a reader loop hung"
	done
	wait
	echo "$cycles cycles, $stops_busy stops refused while busy"
}

test_counts_return_to_baseline() {
	local now
	rel_teardown
	now=$(counts)
	echo "before: $(cat "$RESULTS/counts.before")"
	echo "after:  $now"
	[[ "$now" == "$(cat "$RESULTS/counts.before")" ]] || fail "object counts differ: before $(cat "$RESULTS/counts.before"), after $now"
	exclusive_free "$PMEM" || fail "$PMEM is still claimed after everything was unregistered"
	exclusive_free "$BACKING" || fail "$BACKING is still claimed after every backing device stopped"
	exclusive_free "$BACKING2" || fail "$BACKING2 is still claimed"
	rmmod pcache || fail "rmmod failed once everything was stopped"
	load_module
}
