# SPDX-License-Identifier: Apache-2.0
#
# powercut.bash: the power-cut loop of the host suites 035-powercut and
# 036-powercut-fs (sourced by them; the vm.sh host-suite runner provides
# vm_*, fail and SUITE_RESULTS).
#
# The suite defines `powercut_guest BOOT`, printing the guest script of boot
# BOOT: it must verify everything acknowledged by earlier boots and mark
# "checked" (or "CHECK-FAILED"), then write and print one acknowledgement
# line per completed operation, "TAG <a> <b> <crc32 of '<a> <b>' in hex>";
# the last boot (BOOT == CUTS) instead stops cleanly, checks the backing disk
# alone and marks "final-ok".

# powercut_collect TAG CONSOLE: appends the valid TAG lines of CONSOLE to
# $ACKS as "<a> <b>"; prints how many there were.
powercut_collect() {
	python3 - "$1" "$2" "$ACKS" <<-'EOPY'
		import re, sys, zlib
		tag, console, acks = sys.argv[1:4]
		out = open(acks, "a")
		n = 0
		for ln in open(console, errors="replace"):
		    m = re.fullmatch(re.escape(tag) + r" (\S+) (\d+) ([0-9a-f]{8})\r?\n?", ln)
		    if m and int(m.group(3), 16) == zlib.crc32(b"%s %s" % (m.group(1).encode(), m.group(2).encode())):
		        out.write("%s %s\n" % (m.group(1), m.group(2)))
		        n += 1
		print(n)
	EOPY
}

# powercut_loop PREFIX MEDIA TAG WHAT SHOW SLEEP_MIN SLEEP_SPAN
#   Boots 0..CUTS on MEDIA (VM media made by the caller) as PREFIXbootN.
#   Between boots: wait for the first TAG line, let the guest run SLEEP_MIN +
#   RANDOM % SLEEP_SPAN seconds, SIGKILL QEMU (the power cut) and collect the
#   acknowledgements (WHAT names them in the log line). SHOW: an extended
#   regex of the console lines reported for each boot. Sets POWERCUT_ACKED to
#   the number of acknowledgements collected over all cuts.
powercut_loop() {
	local prefix=$1 media=$2 tag=$3 what=$4 show=$5 smin=$6 sspan=$7 boot name n console
	local diag="$show|^BAD|^=== MARK|pcache|EXT4-fs|XFS"
	POWERCUT_ACKED=0
	for boot in $(seq 0 "$CUTS"); do
		name=${prefix}boot$boot
		vm_start "$name" "$media" "$(powercut_guest "$boot")" || fail "$name did not boot"
		console=$(vm_results "$name")/console.log
		if ! vm_wait_for "$name" '^=== MARK (checked|CHECK-FAILED)' 400 ||
			grep -q '^=== MARK CHECK-FAILED' "$console"; then
			grep -aE "$diag" "$console" | tail -n 25
			fail "$name: acknowledged data lost or corrupt after power cut $boot (see $console)"
		fi
		grep -aE "$show" "$console" | sed "s/^/$name: /"
		if ((boot == CUTS)); then
			vm_wait "$name" 400
			grep -q '^=== MARK final-ok' "$console" || {
				grep -aE "$diag" "$console" | tail -n 20
				fail "$name: the clean stop or the check of the backing disk alone failed (see $console)"
			}
			return 0
		fi
		vm_wait_for "$name" "^$tag " 300 || fail "$name: no acknowledged $what"
		sleep $((smin + RANDOM % sspan))
		vm_kill "$name"
		n=$(powercut_collect "$tag" "$console")
		POWERCUT_ACKED=$((POWERCUT_ACKED + n))
		echo "$name: power cut after $n acknowledged $what"
		((n > 0)) || fail "$name: no $tag line parsed"
	done
}
