# SPDX-License-Identifier: Apache-2.0
#
# 065-powercut-meta (host side): power cuts while metadata is being updated.
# Every boot on the same file-backed NVDIMM and disks: `pcachectl check` must
# not find fatal damage (a torn record next to a good copy is repairable),
# register and backing-start of both disks must succeed (replay after the
# unclean end), cache_gc_percent must read one of the values written, and the
# blocks written with O_DSYNC and acknowledged before the cut must read back.
# Then the guest loops over gc_percent writes, backing-stop/start of the
# second disk and small synchronous writes, and QEMU is SIGKILLed at a random
# moment. The engine's 035-powercut covers data under fio; this one aims the
# cut at the two-copy metadata records. PCACHE_SOAK=N runs 20*N cuts instead
# of 4.

CUTS=$((${PCACHE_SOAK:-1} > 1 ? 20 * ${PCACHE_SOAK:-1} : 4))

# guest_script BOOT: what every boot runs.
guest_script() {
	cat <<-'EOS'
		. "$REPO/Tests/reliability/common.bash"
		load_module
		say() { console_mark "$*"; }
	EOS
	if (($1 == 0)); then
		echo 'fresh_format >/dev/null'
	else
		cat <<-'EOS'
			"$PCACHECTL" check --skip-data "$PMEM" >/results/check.txt 2>&1
			rc=$?
			[[ $rc == 0 || $rc == 2 ]] || { say "CHECK-FATAL $rc $(head -n 3 /results/check.txt | tr '\n' ' ')"; exit 1; }
			say "CHECK $rc"
		EOS
	fi
	cat <<-'EOS'
		r=$(pcache-rawwrite $BUS/cache_dev_register "path=$PMEM")
		[[ $r == OK ]] || { say "FAILED register $r $(dmesg | grep pcache: | tail -n 2 | tr '\n' ' ')"; exit 1; }
		for d in "$BACKING" "$BACKING2"; do
			r=$(pcache-rawwrite $CD0/adm "op=backing-start,path=$d,cache_size=64")
			[[ $r == OK ]] || r=$(pcache-rawwrite $CD0/adm "op=backing-start,path=$d")
			[[ $r == OK ]] || { say "FAILED backing-start $d $r $(dmesg | grep pcache: | tail -n 2 | tr '\n' ' ')"; exit 1; }
		done
		for i in $(seq 50); do [[ -b /dev/pcache0 ]] && break; sleep 0.1; done
		g=$(cat $CD0/backing_dev0/cache_gc_percent)
		[[ $g =~ ^[0-9]+$ ]] && ((g <= 90)) || { say "FAILED gc_percent '$g'"; exit 1; }
		# The acknowledged synchronous writes of the previous boots: block n
		# holds "seq" for the last seq acknowledged on the console.
		for ack in $(cat /results/acks 2>/dev/null); do
			blk=${ack%%:*} seq=${ack#*:}
			got=$(dd if=/dev/pcache0 bs=4096 skip=$blk count=1 iflag=direct status=none | tr -d '\0' | head -c 40)
			[[ $got =~ ^seq\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] >= seq)) ||
				{ say "FAILED block $blk holds '$got', acknowledged seq $seq"; exit 1; }
		done
		say "READY gc=$g"
		seq=$(( $(date +%s%N) / 1000000 ))
		i=0
		while :; do
			i=$((i + 1))
			pcache-rawwrite $CD0/backing_dev0/cache_gc_percent $((i % 91)) >/dev/null
			b=
			for x in $CD0/backing_dev*; do [[ "$(cat $x/path)" == "$BACKING2" ]] && b=${x##*backing_dev}; done
			if [[ -n "$b" && -n "$(cat $CD0/backing_dev$b/mapped_id 2>/dev/null)" ]]; then
				pcache-rawwrite $CD0/adm "op=backing-stop,backing_id=$b" >/dev/null
			else
				pcache-rawwrite $CD0/adm "op=backing-start,path=$BACKING2" >/dev/null
			fi
			seq=$((seq + 1)) blk=$((i % 64))
			printf 'seq %s' $seq | dd of=/dev/pcache0 bs=4096 seek=$blk conv=sync,nocreat,notrunc oflag=direct,dsync status=none &&
				say "ACK $blk:$seq"
		done
	EOS
}

test_power_cuts_during_metadata_updates() {
	local dir boot acks name jobdir line bad=0 ok=0
	dir=$SUITE_RESULTS/media
	vm_files "$dir" || fail "cannot create VM media"
	acks=$dir/acks
	: >"$acks"
	for ((boot = 0; boot <= CUTS; boot++)); do
		name=b$boot
		cp "$acks" "$dir/acks.in"
		vm_start "$name" "$dir" "cp $(printf %q "$dir/acks.in") /results/acks 2>/dev/null; $(guest_script $boot)" ||
			fail "boot $boot did not come up"
		if ! vm_wait_for "$name" '^=== MARK (READY|FAILED|CHECK-FATAL)' 300; then
			vm_kill "$name"
			fail "boot $boot: the guest never got ready (hang in register/start/replay?); console: $(vm_results "$name")/console.log"
		fi
		jobdir=$(vm_results "$name")
		line=$(grep -aE '^=== MARK (FAILED|CHECK-FATAL)' "$jobdir/console.log" | head -n 1)
		if [[ -n "$line" ]]; then
			vm_kill "$name"
			fail "boot $boot after $boot cuts: ${line#=== MARK }"
		fi
		echo "boot $boot: $(grep -aE '^=== MARK (CHECK|READY)' "$jobdir/console.log" | tr '\n' ' ')"
		((boot == CUTS)) && { vm_kill "$name"; break; }
		# Let it update metadata for a random 2..9 s, then cut.
		sleep $((2 + RANDOM % 8))
		vm_kill "$name"
		# The last acknowledged seq per block wins.
		grep -aoE '^=== MARK ACK [0-9]+:[0-9]+' "$jobdir/console.log" | awk '{ print $4 }' >>"$acks"
		awk -F: '{ last[$1] = $2 } END { for (b in last) print b ":" last[b] }' "$acks" >"$acks.tmp" && mv "$acks.tmp" "$acks"
		ok=$((ok + 1))
	done
	echo "TALLY power_cuts $ok"
	echo "TALLY acked_block_writes_tracked $(wc -l <"$acks")"
	echo "$ok power cuts during metadata updates, every boot recovered"
	rm -rf "$dir"
}
