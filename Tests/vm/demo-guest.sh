# SPDX-License-Identifier: Apache-2.0
#
# Guest half of `make demo` (sourced by the job vm.sh writes, lib.sh loaded).
# DEMO_PHASE=first: load, format, register, start, ext4, write, read, status,
#                   stop, restart in the same boot, verify, stop.
# DEMO_PHASE=reboot: a fresh boot on the same pmem and disk files: register,
#                   start, verify the files, status, stop.
#
# Every stage runs only what exists and says so: a missing pcachectl verb is
# either a SKIP or, when the kernel ABI can do the step, done through sysfs
# with a note saying that pcachectl could not. Stages record one line each in
# $RESULTS/stages.txt: STATUS<TAB>stage<TAB>note.

set -o pipefail
BUS=/sys/bus/pcache
MNT=/mnt/demo
DEMO_CACHE_MB=${DEMO_CACHE_MB:-512}
declare -A STATUS=()
: >"$RESULTS/stages.txt"

say() { echo "$*"; }

record() { # STATUS STAGE NOTE
	STATUS[$2]=$1
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS/stages.txt"
	printf '  -> %s%s\n' "$1" "${3:+: $3}"
}

# stage NAME NEEDS... -- CMD...: runs CMD unless a stage it needs did not pass.
stage() {
	local name=$1 need rc out
	shift
	echo
	echo "### $name"
	while [[ $1 != -- ]]; do
		need=$1
		shift
		if [[ ${STATUS[$need]:-} != OK ]]; then
			while [[ $1 != -- ]]; do shift; done
			record SKIP "$name" "not run: stage '$need' did not pass"
			return 1
		fi
	done
	shift
	NOTE=
	"$@"
	rc=$?
	if ((rc == 0)); then
		record OK "$name" "$NOTE"
	elif ((rc == 77)); then
		record SKIP "$name" "$NOTE"
	else
		record FAIL "$name" "${NOTE:-exit $rc}"
	fi
	return $rc
}

# ctl_has WORD... : pcachectl has this (sub)command, e.g. ctl_has cache register.
ctl_has() {
	[[ -x "$PCACHECTL" ]] || return 1
	local last=${*: -1} parent=("${@:1:$#-1}")
	"$PCACHECTL" "${parent[@]}" --help 2>&1 | grep -Eq "^[[:space:]]+$last([[:space:]]|,|$)"
}

run() { # echo and run a command, indenting its output
	echo "\$ $*"
	"$@" 2>&1 | sed 's/^/    /'
}

# ------------------------------------------------------------------ stages

do_load() {
	if ctl_has module load; then
		if run "$PCACHECTL" module load --module-path "$PCACHE_KO"; then
			NOTE="pcachectl module load"
			return 0
		fi
		NOTE="pcachectl module load failed; "
	else
		NOTE="pcachectl has no 'module load' verb; "
	fi
	modprobe libcrc32c && run insmod "$PCACHE_KO" || { NOTE+="insmod failed"; return 1; }
	NOTE+="loaded with insmod"
	[[ -d $BUS ]] || { NOTE="module loaded but $BUS is missing"; return 1; }
}

do_format() {
	if ! ctl_has format; then
		NOTE="pcachectl has no 'format' verb yet"
		return 77
	fi
	run "$PCACHECTL" format --force --label demo "$PMEM" || { NOTE="pcachectl format failed"; return 1; }
	NOTE="$PMEM formatted by pcachectl"
}

do_register() {
	if ctl_has cache register; then
		run "$PCACHECTL" cache register "$PMEM" || { NOTE="pcachectl cache register failed"; return 1; }
		NOTE="pcachectl cache register"
	else
		echo "\$ echo path=$PMEM > $BUS/cache_dev_register"
		echo "path=$PMEM" >$BUS/cache_dev_register || { NOTE="sysfs register refused"; return 1; }
		NOTE="pcachectl has no 'cache register' verb: registered through sysfs"
	fi
	[[ -d $BUS/devices/cache_dev0 ]] || { NOTE+="; cache_dev0 did not appear"; return 1; }
	run cat $BUS/devices/cache_dev0/info
	NOTE+=" ($(grep -E '^(seg_used|backing_devs):' $BUS/devices/cache_dev0/info | tr '\n' ' ' | sed 's/ $//'))"
}

# do_start [SIZE_MB]: start $BACKING, sets DEV.
do_start() {
	local size=${1:-} out i
	if ctl_has backing start; then
		echo "\$ $PCACHECTL backing start --cache cache_dev0 $BACKING ${size:+--cache-size ${size}M}"
		out=$("$PCACHECTL" backing start --cache cache_dev0 "$BACKING" ${size:+--cache-size "${size}M"} 2>&1)
		local rc=$?
		echo "$out" | sed 's/^/    /'
		((rc == 0)) || { NOTE="pcachectl backing start failed: $(tail -n 1 <<<"$out")"; return 1; }
		DEV=$(grep -o '/dev/pcache[0-9]*' <<<"$out" | tail -n 1)
		NOTE="pcachectl backing start -> $DEV"
	else
		local cmd="op=backing-start,path=$BACKING${size:+,cache_size=$size}"
		echo "\$ echo $cmd > $BUS/devices/cache_dev0/adm"
		echo "$cmd" >$BUS/devices/cache_dev0/adm || { NOTE="sysfs backing-start refused"; return 1; }
		DEV=/dev/pcache$(cat $BUS/devices/cache_dev0/backing_dev0/mapped_id 2>/dev/null)
		NOTE="pcachectl has no 'backing start' verb: started through sysfs -> $DEV"
	fi
	for i in $(seq 50); do
		[[ -b "$DEV" ]] && break
		sleep 0.2
	done
	[[ -b "$DEV" ]] || { NOTE+="; $DEV did not appear"; return 1; }
	echo "$DEV" >"$RESULTS/dev"
}

do_mkfs() {
	run mkfs.ext4 -q -F "$DEV" || { NOTE="mkfs.ext4 $DEV failed"; return 1; }
	mkdir -p $MNT
	run mount "$DEV" $MNT || { NOTE="mount failed"; return 1; }
	NOTE="ext4 on $DEV mounted at $MNT"
}

do_write() {
	local t0 t1
	t0=$(date +%s.%N)
	run cp -r "$REPO/Sources" $MNT/sources || { NOTE="copying files failed"; return 1; }
	run dd if=/dev/urandom of=$MNT/random.bin bs=1M count=32 status=none || { NOTE="dd failed"; return 1; }
	for i in $(seq 1 100); do
		head -c $((i * 997)) /dev/urandom >$MNT/small.$i || return 1
	done
	sync
	t1=$(date +%s.%N)
	(cd $MNT && find . -type f ! -name manifest.sha256 | LC_ALL=C sort | xargs sha256sum) >"$RESULTS/manifest.sha256" ||
		{ NOTE="sha256sum failed"; return 1; }
	NOTE="$(wc -l <"$RESULTS/manifest.sha256") files, $(du -sm $MNT | cut -f1) MiB written and synced in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
}

# the engine counter NAME of backing_dev0 (0 without a cache)
demo_stat() { awk -v n="$1" '$1 == n { print $2 }' $BUS/devices/cache_dev0/backing_dev0/stats 2>/dev/null || echo 0; }

do_verify() {
	local h0 m0 h m
	echo 3 >/proc/sys/vm/drop_caches
	h0=$(demo_stat hits) m0=$(demo_stat misses)
	echo "\$ (cd $MNT && sha256sum -c --quiet manifest)"
	if (cd $MNT && sha256sum -c --quiet "$RESULTS/manifest.sha256") 2>&1 | sed 's/^/    /'; then
		h=$(($(demo_stat hits) - ${h0:-0})) m=$(($(demo_stat misses) - ${m0:-0}))
		NOTE="all $(wc -l <"$RESULTS/manifest.sha256") files read back with matching sha256; cache: $h hits, $m misses ($((h * 100 / (h + m + (h + m == 0)))) % hits)"
	else
		NOTE="sha256 mismatch (see above)"
		return 1
	fi
}

do_status() {
	local b=$BUS/devices/cache_dev0/backing_dev0
	if ctl_has status; then
		run "$PCACHECTL" status || { NOTE="pcachectl status failed"; return 1; }
		NOTE="pcachectl status"
	else
		NOTE="pcachectl has no 'status' verb: showing sysfs"
	fi
	if [[ -r $b/stats ]]; then
		NOTE+=" ($(awk '$1 == "hits" || $1 == "misses" || $1 == "dirty_bytes" { printf "%s%s %s", sep, $1, $2; sep = ", " }' $b/stats))"
	fi
	echo "\$ sysfs: cache_dev0/info and backing_dev0/{cache_segs,cache_used_segs,stats}"
	sed 's/^/    /' $BUS/devices/cache_dev0/info
	for f in cache_segs cache_used_segs; do
		[[ -r $b/$f ]] && echo "    $f: $(cat $b/$f)"
	done
	[[ -s $b/stats ]] && sed 's/^/    stats: /' $b/stats
	return 0
}

# do_stop [--flush]: a stop keeps the cache for the next start; --flush hands the disk back
do_stop() {
	if mountpoint -q $MNT; then
		run umount $MNT || { NOTE="umount failed"; return 1; }
	fi
	if ctl_has backing stop; then
		run "$PCACHECTL" backing stop "$@" "$DEV" || { NOTE="pcachectl backing stop $* failed"; return 1; }
		NOTE="pcachectl backing stop $*"
		run cat $BUS/devices/cache_dev0/backing_records
	else
		echo "\$ echo op=backing-stop,backing_id=0 > $BUS/devices/cache_dev0/adm"
		echo "op=backing-stop,backing_id=0" >$BUS/devices/cache_dev0/adm || { NOTE="sysfs backing-stop refused"; return 1; }
		NOTE="pcachectl has no 'backing stop' verb: stopped through sysfs"
	fi
	if ctl_has cache unregister; then
		run "$PCACHECTL" cache unregister cache_dev0 || { NOTE+="; pcachectl cache unregister failed"; return 1; }
	else
		echo "cache_dev_id=0" >$BUS/cache_dev_unregister || { NOTE+="; unregister refused"; return 1; }
		NOTE+="; unregistered through sysfs"
	fi
	run rmmod pcache || { NOTE+="; rmmod failed"; return 1; }
	NOTE+="; module unloaded"
}

do_remount() {
	mkdir -p $MNT
	run mount "$DEV" $MNT || { NOTE="mount after restart failed"; return 1; }
}

# ------------------------------------------------------------------ main

if [[ ${DEMO_PHASE:-first} == first ]]; then
	stage "load module" -- do_load
	stage "format pmem" "load module" -- do_format
	stage "register cache" "format pmem" -- do_register
	stage "start cached disk" "register cache" -- do_start "$DEMO_CACHE_MB"
	stage "mkfs.ext4 + mount" "start cached disk" -- do_mkfs
	stage "write files" "mkfs.ext4 + mount" -- do_write
	stage "read back (sha256)" "write files" -- do_verify
	stage "status" "start cached disk" -- do_status
	stage "stop cleanly" "start cached disk" -- do_stop
	stage "restart: load" "stop cleanly" -- do_load
	stage "restart: register" "restart: load" -- do_register
	stage "restart: start" "restart: register" -- do_start
	stage "restart: mount" "restart: start" -- do_remount
	stage "restart: verify files" "restart: mount" "write files" -- do_verify
	stage "restart: status" "restart: start" -- do_status
	stage "restart: stop" "restart: start" -- do_stop
else
	# The first boot's manifest, read through the host root (read-only).
	if [[ -s "${DEMO_MANIFEST:-}" ]]; then
		cp "$DEMO_MANIFEST" "$RESULTS/manifest.sha256" && STATUS["write files"]=OK
	fi
	stage "reboot: load" -- do_load
	stage "reboot: register" "reboot: load" -- do_register
	stage "reboot: start" "reboot: register" -- do_start
	stage "reboot: mount" "reboot: start" -- do_remount
	stage "reboot: verify files" "reboot: mount" "write files" -- do_verify
	stage "reboot: status" "reboot: start" -- do_status
	stage "reboot: stop --flush" "reboot: start" -- do_stop --flush
fi
exit 0
