# SPDX-License-Identifier: Apache-2.0
#
# 061-hostile-sysfs: a table of hostile input for every pcache sysfs file
# (bus cache_dev_register / cache_dev_unregister, cache_devN/adm,
# backing_devM/cache_gc_percent, and every read-only file): out-of-range,
# negative, overflowing (2^32, 2^64, 99999999999999999999), non-numeric,
# empty, whitespace, longer than a page, embedded NUL, unknown and duplicate
# keys, values that wrap to a valid id when truncated to 32 or 64 bits.
# (A zero-length write(2) never reaches a sysfs store: the VFS answers 0, so
# "empty" is tested as a lone newline or blank.)
# Every row names the errno(s) it accepts; after every refused write a
# snapshot of all readable attributes (and the module refcount, block
# devices) must be unchanged. Then unprivileged writers (EPERM), and
# concurrent writers and readers (background loops), which must leave the
# state consistent. Under `make soak` (pcache_soak=N) the concurrent phase
# runs N times longer and the table is repeated N times.
#
# The state while the table runs: $PMEM formatted and registered as
# cache_dev0, $BACKING started as backing_dev0 (/dev/pcache0). A value a
# sloppy parser could read as cache_dev_id=0 or backing_id=0 would
# unregister or stop something: the snapshot catches it.

TIMEOUT=560

. "$REPO/Tests/reliability/common.bash"

ADM=$CD0/adm
BD0=$CD0/backing_dev0
HW=

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" && -b "$BACKING2" ]] || { echo "pmem or backing disks missing"; return 1; }
	command -v gcc >/dev/null || { echo "gcc missing (helper build)"; return 1; }
}

setup() {
	rel_tool hostile-write >/dev/null || fail "cannot build hostile-write"
	load_module
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=64"
	[[ -d $BD0 ]] || fail "backing_dev0 missing after backing-start"
}

teardown() {
	rel_teardown
	unload_module
}

HW=$(rel_tool hostile-write 2>/dev/null)
TRIED=0

# The state a refused write must not change: every readable attribute of
# cache_dev0 and backing_dev0 (except counters that move on their own), the
# entries of cache_dev0, the bus and /sys/block, the module refcount.
state_paths() {
	local f
	echo /sys/bus/pcache/devices /sys/block /sys/module/pcache/refcnt $CD0
	for f in $CD0/* $BD0/*; do
		[[ -f $f && -r $f ]] || continue
		case ${f##*/} in
		uevent | stats | cache_used_segs | adm | cache_dev_register | cache_dev_unregister) continue ;;
		esac
		echo "$f"
	done
}

state() {
	local f
	for f in $(state_paths); do
		if [[ -d $f ]]; then echo "$f=$(ls "$f" | tr '\n' ' ')"; else echo "$f=$(grep -v '^seg_used:' "$f" | tr '\n' '|')"; fi
	done
}

TABLE=/tmp/t061.table
: >$TABLE

# row FILE ERRNOS [-p PREFIX] [-r COUNT] [-s SUFFIX] VALUE: queues one hostile
# write (C escapes in VALUE, see hostile-write.c); ERRNOS is a |-separated
# list of acceptable results. `finish` runs the queue in one process, which
# snapshots the state before and after every write.
row() {
	local file=$1 want=$2 prefix= repeat=1 suffix=
	shift 2
	while (($# > 1)); do
		case $1 in
		-p) prefix=$2 ;;
		-r) repeat=$2 ;;
		-s) suffix=$2 ;;
		esac
		shift 2
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$file" "$want" "$prefix" "$1" "$repeat" "$suffix" >>$TABLE
}

# Puts the suite's baseline back after a write that changed it.
restore_state() {
	[[ -d $CD0 ]] || pcache-rawwrite $BUS/cache_dev_register "path=$PMEM" >/dev/null
	[[ -d $BD0 && -n "$(cat $BD0/mapped_id 2>/dev/null)" ]] ||
		pcache-rawwrite $ADM "op=backing-start,path=$BACKING" >/dev/null
	[[ -r $BD0/cache_gc_percent && "$(cat $BD0/cache_gc_percent)" != 70 ]] &&
		pcache-rawwrite $BD0/cache_gc_percent 70 >/dev/null
	local b
	for b in $CD0/backing_dev*; do
		[[ $b == "$BD0" || ! -d $b ]] && continue
		pcache-rawwrite $ADM "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
	done
}

# finish WHAT: runs the queued rows; every row must give an accepted result
# and leave the state as it was.
finish() {
	local what=$1 first=1 rc out n
	rm -f /tmp/t061.bad
	while :; do
		out=$("$HW" -b $TABLE -f $first $(state_paths))
		rc=$?
		echo "$out" | grep -v '^--- \|^/sys' >>/tmp/t061.log
		echo "$out"
		grep '^BAD ' <<<"$out" | while read -r line; do echo "$line"; done >>/tmp/t061.bad
		if ((rc == 3)); then
			grep '^CHANGED ' <<<"$out" >>/tmp/t061.bad
			first=$(sed -n 's/^NEXT //p' <<<"$out")
			restore_state
			continue
		fi
		((rc == 0 || rc == 1)) || fail "hostile-write -b failed (exit $rc)"
		break
	done
	n=$(wc -l <$TABLE)
	TRIED=$((TRIED + n))
	rel_tally hostile_inputs "$n"
	: >$TABLE
	if [[ -s /tmp/t061.bad ]]; then
		local nb
		nb=$(wc -l </tmp/t061.bad)
		fail "$what: $nb of $n hostile writes misbehaved: $(head -n 6 /tmp/t061.bad | cut -c1-160 | tr '\n' ';')"
	fi
	echo "$what: $n hostile writes refused as expected, state unchanged"
}

# Numbers that must never parse: negative, overflowing, wrapping, non-numeric.
BAD_NUMBERS=(-1 -0 4294967296 4294967297 18446744073709551616 18446744073709551617 99999999999999999999
	abc 1abc 0x0 ' 0' '1 2' '' '\t1' '1.0' '1e3' '0\0' '0\x001' '\xff' '\n')

test_cache_dev_register() {
	local R=$BUS/cache_dev_register v BAD=()
	local p
	for p in $(seq "$SOAK"); do
		row $R 'OK|EINVAL' ''
		row $R EINVAL '\n'
		row $R EINVAL ' '
		row $R EINVAL 'path'
		row $R EINVAL 'path='
		row $R EINVAL '=/dev/pmem0'
		row $R EINVAL ','
		row $R EINVAL ',,,'
		row $R EINVAL 'PATH=/dev/pmem0'
		row $R EINVAL 'path=/dev/pmem1,path=/dev/pmem1'
		row $R EINVAL "path=$PMEM,path=$PMEM"
		row $R EINVAL 'path=/dev/pmem1,bogus=1'
		row $R EINVAL 'bogus=1,path=/dev/pmem1'
		row $R 'EINVAL|EEXIST' "path=$PMEM,bogus=1"
		row $R EINVAL 'path = /dev/pmem1'
		row $R 'EINVAL|ENOENT' ' path=/dev/pmem1'
		row $R 'EINVAL|ENOENT' 'path=/dev/pmem1 '
		row $R 'EINVAL|ENOENT' 'path=/dev/pmem1\0'
		row $R 'EINVAL|ENOENT' 'path=/dev/pmem1\0,bogus=1'
		row $R 'EINVAL|ENOENT' 'path=\0/dev/pmem1'
		row $R EINVAL 'path=/tmp/x'
		row $R EINVAL 'path=dev/pmem1'
		row $R EINVAL 'path=relative'
		row $R ENOENT 'path=/dev/does-not-exist'
		row $R 'ENOTBLK|EINVAL' 'path=/dev/null'
		row $R 'ENOTBLK|EINVAL|ENOENT' 'path=/dev/'
		row $R 'ENOTBLK|EINVAL|ENOENT' 'path=/dev/pcache'
		row $R 'EOPNOTSUPP|EBUSY' "path=$BACKING2"
		row $R 'EBUSY|EEXIST|EOPNOTSUPP' 'path=/dev/pcache0'
		row $R EEXIST "path=$PMEM"
		row $R EEXIST "path=$PMEM,force=1"
		for v in "${BAD_NUMBERS[@]}"; do
			row $R 'EINVAL|EEXIST' "path=$PMEM,force=$v"
		done
		row $R 'EINVAL|EEXIST' "path=$PMEM,force=2"
		row $R 'EINVAL|E2BIG' -p 'path=/dev/' -r 5000 a
		row $R 'EINVAL|E2BIG' -p 'path=/dev/' -r 4080 a
		row $R 'EINVAL|E2BIG' -r 1000 'path=/dev/pmem1,'
		row $R 'EINVAL|E2BIG' -r 5000 ','
		row $R 'EINVAL|E2BIG' -p 'path=' -r 300 '/dev'
		row $R 'EINVAL|ENOENT' '\xff\xfe\x00\x01'
	done
	finish cache_dev_register
}

test_cache_dev_unregister() {
	local U=$BUS/cache_dev_unregister v BAD=() p
	for p in $(seq "$SOAK"); do
		row $U 'OK|EINVAL' ''
		row $U EINVAL '\n'
		row $U EINVAL ' '
		row $U EINVAL 'cache_dev_id'
		row $U EINVAL 'cache_dev_id='
		row $U EINVAL 'id=0'
		row $U EINVAL 'cache_dev_id=0,cache_dev_id=0'
		row $U EINVAL 'cache_dev_id=1,cache_dev_id=1'
		row $U EINVAL 'cache_dev_id=0,bogus=1'
		row $U EINVAL 'bogus=1'
		row $U 'EINVAL|ENOENT' 'cache_dev_id=0\0'
		row $U 'EINVAL|ENOENT' 'cache_dev_id=\x000'
		for v in "${BAD_NUMBERS[@]}"; do
			row $U EINVAL "cache_dev_id=$v"
		done
		row $U ENOENT 'cache_dev_id=1'
		row $U 'ENOENT|EINVAL' 'cache_dev_id=4294967295'
		row $U 'ENOENT|EINVAL' 'cache_dev_id=2147483648'
		row $U EBUSY 'cache_dev_id=0'
		# (a store sees at most one page: 0 x 5000 would still read as 0)
		row $U 'EINVAL|E2BIG' -p 'cache_dev_id=' -r 5000 9
		row $U 'EINVAL|E2BIG' -p 'cache_dev_id=' -r 4000 9
		row $U 'EINVAL|E2BIG' -r 2000 'cache_dev_id=9,'
	done
	finish cache_dev_unregister
}

test_adm() {
	local v BAD=() p
	for p in $(seq "$SOAK"); do
		row $ADM 'OK|EINVAL' ''
		row $ADM EINVAL '\n'
		row $ADM EINVAL ' '
		row $ADM EINVAL 'op'
		row $ADM EINVAL 'op='
		row $ADM EINVAL 'op=bogus'
		row $ADM EINVAL 'op=backing-stop'
		row $ADM EINVAL 'op=backing-start'
		row $ADM EINVAL 'op=backing-start,path='
		row $ADM EINVAL 'backing_id=0'
		row $ADM EINVAL 'op=backing-stop,op=backing-stop,backing_id=0'
		row $ADM EINVAL 'op=backing-stop,backing_id=0,backing_id=0'
		row $ADM EINVAL 'op=backing-stop,backing_id=0,bogus=1'
		row $ADM EINVAL 'op=backing-stop,backing_id=0,path=/dev/vda'
		row $ADM EINVAL 'op=backing-stop,backing_id=0,force=1,force=1'
		row $ADM 'EINVAL|ENOENT' 'op=backing-stop,backing_id=0\0'
		row $ADM 'EINVAL|ENOENT' 'op=backing-stop\0,backing_id=0'
		row $ADM EINVAL 'op=BACKING-STOP,backing_id=0'
		row $ADM EINVAL 'op=backing-stop ,backing_id=0'
		for v in "${BAD_NUMBERS[@]}"; do
			row $ADM EINVAL "op=backing-stop,backing_id=$v"
		done
		row $ADM ENOENT 'op=backing-stop,backing_id=1'
		row $ADM 'ENOENT|EINVAL' 'op=backing-stop,backing_id=64'
		row $ADM 'ENOENT|EINVAL' 'op=backing-stop,backing_id=4294967295'
		# backing-forget: the same strict parsing; a started record is refused
		row $ADM EINVAL 'op=backing-forget'
		row $ADM EINVAL 'op=backing-forget,backing_id=0,path=/dev/vda'
		row $ADM EINVAL 'op=backing-forget,backing_id=0,force=1'
		row $ADM EINVAL 'op=backing-forget,backing_id=0,backing_id=0'
		row $ADM EINVAL 'op=backing-forget,op=backing-forget,backing_id=0'
		row $ADM 'EINVAL|EBUSY' 'op=backing-forget,backing_id=0\0'
		row $ADM EINVAL 'op=BACKING-FORGET,backing_id=0'
		for v in "${BAD_NUMBERS[@]}"; do
			row $ADM EINVAL "op=backing-forget,backing_id=$v"
		done
		row $ADM EBUSY 'op=backing-forget,backing_id=0'
		row $ADM ENOENT 'op=backing-forget,backing_id=63'
		row $ADM EINVAL 'op=backing-forget,backing_id=64'
		row $ADM EINVAL 'op=backing-forget,backing_id=4294967295'
		# backing-start of the second disk with bad options (a parser that
		# accepts one starts backing_dev1: the snapshot catches it).
		local S="op=backing-start,path=$BACKING2,cache_size=64"
		for v in "${BAD_NUMBERS[@]}" 0 129 1000; do
			row $ADM EINVAL "$S,queues=$v"
		done
		for v in "${BAD_NUMBERS[@]}" 0 1 48 17592186044416; do
			row $ADM 'EINVAL|ENOSPC' "op=backing-start,path=$BACKING2,cache_size=$v"
		done
		row $ADM 'ENOSPC|EINVAL' "op=backing-start,path=$BACKING2,cache_size=999999"
		row $ADM EINVAL "op=backing-start,path=$BACKING2"
		for v in "${BAD_NUMBERS[@]}" 2; do
			row $ADM EINVAL "$S,data_crc=$v"
			row $ADM EINVAL "$S,force=$v"
		done
		row $ADM EINVAL "$S,ident="
		row $ADM EINVAL "$S,ident=a,b"
		row $ADM EINVAL "$S,ident=\x01ctrl"
		row $ADM EINVAL "$S,ident=tab\there"
		row $ADM EINVAL "$S,ident=nul\0byte"
		row $ADM 'EINVAL|E2BIG' -p "$S,ident=" -r 64 x
		row $ADM 'EINVAL|E2BIG' -p "$S,ident=" -r 5000 x
		row $ADM EINVAL "$S,cache_size=64"
		row $ADM EINVAL "$S,queues=1,queues=1"
		row $ADM EINVAL "$S,bogus=1"
		row $ADM EINVAL "op=backing-start,path=/tmp/x,cache_size=64"
		row $ADM ENOENT "op=backing-start,path=/dev/does-not-exist,cache_size=64"
		row $ADM 'ENOTBLK|EINVAL' "op=backing-start,path=/dev/null,cache_size=64"
		row $ADM EBUSY "op=backing-start,path=$BACKING"
		row $ADM 'EBUSY|EINVAL' "op=backing-start,path=$PMEM,cache_size=64"
		row $ADM 'EINVAL|E2BIG' -p 'op=backing-start,path=/dev/' -r 5000 a
		row $ADM 'EINVAL|E2BIG' -r 600 "op=backing-stop,"
		row $ADM 'EINVAL|E2BIG' -r 5000 ','
	done
	finish adm
}

test_cache_gc_percent() {
	local G=$BD0/cache_gc_percent v BAD=() p
	for p in $(seq "$SOAK"); do
		for v in "${BAD_NUMBERS[@]}" 91 100 255 256 4294967366 18446744073709551666; do
			[[ -n $v ]] || continue # zero-length: never reaches the store
			row $G EINVAL "$v"
		done
		row $G EINVAL '50,'
		row $G EINVAL 'gc_percent=50'
		row $G EINVAL '50\0'
		row $G EINVAL '\x0050'
		row $G 'EINVAL|E2BIG' -r 5000 5
		row $G 'EINVAL|E2BIG' -r 4000 9
	done
	finish cache_gc_percent
	# The accepted forms still work afterwards, and the value sticks.
	expect_write_ok $G 50
	[[ "$(cat $G)" == 50 ]] || fail "cache_gc_percent reads $(cat $G) after writing 50"
	expect_write_ok $G $'90\n'
	[[ "$(cat $G)" == 90 ]] || fail "cache_gc_percent reads $(cat $G) after writing 90<newline>"
	expect_write_ok $G 70
}

test_read_only_files() {
	local f BAD=() v
	for f in $CD0/path $CD0/info $BD0/path $BD0/mapped_id $BD0/cache_segs $BD0/cache_used_segs \
		$BD0/ident $BD0/data_crc $BD0/stats; do
		[[ -e $f ]] || {
			BAD+=("${f#$BUS/devices/} missing")
			continue
		}
		for v in '' 0 1 "$PMEM" 'op=backing-stop,backing_id=0' "$(cat "$f" 2>/dev/null | head -n 1)"; do
			row "$f" 'EACCES|EPERM|EIO' "$v"
		done
	done
	# Reads of the write-only files must be refused too, and not crash.
	for f in $BUS/cache_dev_register $BUS/cache_dev_unregister $ADM; do
		if cat "$f" >/dev/null 2>&1; then
			BAD+=("${f##*/} is readable")
		fi
	done
	((${#BAD[@]} == 0)) || fail "${BAD[*]}"
	finish read-only
}

test_unprivileged_writers() {
	local f v BAD=() before after got
	before=$(state)
	for f in "$BUS/cache_dev_register|path=$BACKING2" "$BUS/cache_dev_unregister|cache_dev_id=0" \
		"$ADM|op=backing-stop,backing_id=0" "$ADM|op=backing-start,path=$BACKING2,cache_size=64" \
		"$ADM|op=backing-forget,backing_id=0" \
		"$BD0/cache_gc_percent|10" "$BUS/cache_dev_register|\\n" "$ADM|garbage"; do
		got=$(as_unprivileged "$HW" "${f%%|*}" "${f#*|}")
		TRIED=$((TRIED + 1))
		[[ $got == EPERM || $got == EACCES ]] || BAD+=("${f%%|*} <- '${f#*|}' without CAP_SYS_ADMIN: $got")
		echo "unprivileged ${f%%|*} <- '${f#*|}': $got"
	done
	# A user other than root cannot even open them.
	for f in "$BD0/cache_gc_percent|10" "$ADM|op=backing-stop,backing_id=0"; do
		got=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$HW" "${f%%|*}" "${f#*|}")
		TRIED=$((TRIED + 1))
		[[ $got == EPERM || $got == EACCES ]] || BAD+=("${f%%|*} as nobody: $got")
	done
	after=$(state)
	[[ "$before" == "$after" ]] || BAD+=("unprivileged writes changed the state: $(diff <(echo "$before") <(echo "$after") | head -n 4 | tr '\n' ' ')")
	rel_tally hostile_inputs "$TRIED"
	((${#BAD[@]} == 0)) || fail "${#BAD[@]} of $TRIED unprivileged writes misbehaved: ${BAD[*]}"
	echo "$TRIED unprivileged writes refused with EPERM/EACCES, state unchanged"
}

# Several writers and readers at once: valid gc_percent changes, hostile adm
# and register writes, backing-start/stop of the second disk, attribute
# readers. Afterwards every loop has finished (no hang), the state is
# consistent, and the baseline still works.
test_concurrent_writers() {
	local secs=$((15 * SOAK)) pids=() end rc=0 n
	end=$(($(date +%s) + secs))
	rm -f /tmp/conc.*
	(
		i=0
		while (($(date +%s) < end)); do
			pcache-rawwrite $BD0/cache_gc_percent $((i % 91)) >/dev/null
			i=$((i + 1))
		done
		echo $i >/tmp/conc.gc
	) &
	pids+=($!)
	(
		i=0
		while (($(date +%s) < end)); do
			"$HW" $ADM "op=backing-stop,backing_id=$((i % 3 == 0 ? 4294967296 : 99))" >/dev/null
			"$HW" $ADM 'op=backing-stop,backing_id=0\0' >/dev/null
			"$HW" $BUS/cache_dev_register "path=$PMEM" >/dev/null
			"$HW" $BUS/cache_dev_unregister "cache_dev_id=18446744073709551616" >/dev/null
			i=$((i + 4))
		done
		echo $i >/tmp/conc.hostile
	) &
	pids+=($!)
	(
		i=0
		while (($(date +%s) < end)); do
			if [[ "$(pcache-rawwrite $ADM "op=backing-start,path=$BACKING2,cache_size=64")" == OK ]]; then
				for b in $CD0/backing_dev*; do
					[[ "$(cat $b/path 2>/dev/null)" == "$BACKING2" ]] &&
						pcache-rawwrite $ADM "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
				done
			fi
			i=$((i + 1))
		done
		echo $i >/tmp/conc.startstop
	) &
	pids+=($!)
	(
		i=0
		while (($(date +%s) < end)); do
			grep -r -s '' /sys/devices/pcache/ >/dev/null
			i=$((i + 1))
		done
		echo $i >/tmp/conc.read
	) &
	pids+=($!)
	for p in "${pids[@]}"; do
		# Each loop ends at $end; give it 90 s more before calling it hung.
		for _ in $(seq $((secs + 90))); do
			kill -0 "$p" 2>/dev/null || break
			sleep 1
		done
		if kill -0 "$p" 2>/dev/null; then
			rc=1
			echo "loop $p still running 90 s after its end: hung"
		fi
	done
	wait
	echo "gc writes $(cat /tmp/conc.gc 2>/dev/null), hostile writes $(cat /tmp/conc.hostile 2>/dev/null)," \
		"start/stop cycles $(cat /tmp/conc.startstop 2>/dev/null), full reads $(cat /tmp/conc.read 2>/dev/null)"
	n=$(($(cat /tmp/conc.hostile 2>/dev/null || echo 0) + $(cat /tmp/conc.gc 2>/dev/null || echo 0)))
	rel_tally hostile_inputs "$n"
	((rc == 0)) || fail "a concurrent writer hung"
	[[ -d $BD0 && -b /dev/pcache0 ]] || fail "backing_dev0 or /dev/pcache0 vanished under hostile concurrent writes (a refused write was acted on? see test_adm)"
	local g
	g=$(cat $BD0/cache_gc_percent) || fail "cache_gc_percent unreadable"
	[[ $g =~ ^[0-9]+$ ]] && ((g <= 90)) || fail "cache_gc_percent reads '$g' after concurrent writes"
	for b in $CD0/backing_dev*; do
		[[ "$(cat $b/path 2>/dev/null)" == "$BACKING2" && -n "$(cat $b/mapped_id 2>/dev/null)" ]] &&
			fail "the second disk is still started after its loop ended (start/stop leaked)"
	done
	expect_write_ok $BD0/cache_gc_percent 70
	dd if=/dev/urandom of=/tmp/conc.data bs=64k count=4 status=none
	dd if=/tmp/conc.data of=/dev/pcache0 bs=64k conv=nocreat,notrunc oflag=direct status=none || fail "write to /dev/pcache0 failed afterwards"
	cmp <(dd if=/dev/pcache0 bs=64k count=4 iflag=direct status=none) /tmp/conc.data ||
		fail "/dev/pcache0 reads back different data after the concurrent phase"
}
