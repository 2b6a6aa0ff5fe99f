# SPDX-License-Identifier: Apache-2.0
#
# Helpers shared by the cache engine suites (030-035), sourced after lib.sh.
#   cache_format                 format $PMEM (see below)
#   cache_register               format + register $PMEM as cache_dev0
#   backing_start DEV OPTS       op=backing-start,path=DEV,OPTS; waits for the
#                                disk; prints its /dev/pcacheN
#   backing_stop ID              op=backing-stop,backing_id=ID (keeps the cache)
#   backing_flush_stop ID        the same with flush=1: everything written
#                                back, the cache released
#   backing_stat ID NAME         one engine counter of backing_devID

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0

# The engine suites format with the tool, like an administrator: the layout
# exists once (pcache_format.h), so there is no second formatter to drift.
cache_format() {
	[[ -x "$PCACHECTL" ]] || fail "pcachectl is not built (make tool)"
	"$PCACHECTL" format --force "$PMEM" >/dev/null || fail "pcachectl format --force $PMEM failed"
}

cache_register() {
	cache_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}

backing_start() {
	local dev=$1 opts=$2 d id i
	expect_write_ok $CD0/adm "op=backing-start,path=$dev${opts:+,$opts}"
	for d in $CD0/backing_dev*; do
		[[ "$(cat "$d/path" 2>/dev/null)" == "$dev" ]] || continue
		id=$(cat "$d/mapped_id")
		for i in $(seq 50); do
			[[ -b /dev/pcache$id ]] && break
			sleep 0.1
		done
		[[ -b /dev/pcache$id ]] || fail "/dev/pcache$id did not appear"
		echo "/dev/pcache$id"
		return 0
	done
	fail "no backing_dev for $dev after backing-start"
}

backing_stop() {
	expect_write_ok $CD0/adm "op=backing-stop,backing_id=$1"
}

backing_flush_stop() {
	expect_write_ok $CD0/adm "op=backing-stop,backing_id=$1,flush=1"
}

backing_id_of() {
	local d
	for d in $CD0/backing_dev*; do
		[[ "$(cat "$d/path" 2>/dev/null)" == "$1" ]] && { echo "${d##*backing_dev}"; return 0; }
	done
	fail "no backing_dev for $1"
}

backing_stat() {
	awk -v n="$2" '$1 == n { print $2 }' "$CD0/backing_dev$1/stats"
}

cache_teardown() {
	local d
	for d in $CD0/backing_dev*; do
		[[ -d "$d" ]] || continue
		[[ -n "$(cat "$d/mapped_id" 2>/dev/null)" ]] || continue
		pcache-rawwrite $CD0/adm "op=backing-stop,backing_id=${d##*backing_dev}" >/dev/null
	done
	[[ -e $CD0 ]] && pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	unload_module
}
