# SPDX-License-Identifier: Apache-2.0
#
# 060-corrupt-media.host: the host half of the corrupted-media suite. Every
# case of pcache-corrupt (and random seeds) is written into a sparse image
# file of the guest's pmem size and `pcachectl check` must report it: exit 0
# for the controls, 2 for a damaged copy next to a good one, 65 for fatal
# damage, 2 or 65 where the case says "damaged" (see `pcache-corrupt list`).
# The guest half (060-corrupt-media.sh) writes the same images onto /dev/pmem0
# and drives the kernel. No VM here: this runs natively in a few seconds.
# PCACHE_SOAK=N multiplies the random seeds (Tests/soak/run.sh).

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# The newest release build (make reliability-tools), else the newest debug one.
corrupt_bin() {
	local f best=
	for f in "$REPO"/.build*/release/pcache-corrupt; do
		[[ -x "$f" ]] || continue
		[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
	done
	if [[ -z "$best" ]]; then
		for f in "$REPO"/.build*/debug/pcache-corrupt; do
			[[ -x "$f" ]] || continue
			[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
		done
	fi
	echo "$best"
}

ctl_bin() {
	local f best=
	[[ -n "${PCACHECTL:-}" && -x "$PCACHECTL" ]] && { echo "$PCACHECTL"; return; }
	for f in "$REPO"/.build*/release/pcachectl; do
		[[ -x "$f" ]] || continue
		[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
	done
	echo "$best"
}

# check_case BIN CTL IMG NAME WANT: prints a line, returns 1 on a mismatch.
check_case() {
	local bin=$1 ctl=$2 img=$3 name=$4 want=$5 rc ok=1
	"$bin" write "$name" "$img" --backing-path /dev/vda --backing-sectors 8388608 >/dev/null 2>"$img.err" || {
		echo "BAD $name: generator failed: $(cat "$img.err")"
		return 1
	}
	"$ctl" check "$img" >"$img.out" 2>&1
	rc=$?
	case "$want" in
	clean) [[ $rc == 0 ]] || ok= ;;
	repairable) [[ $rc == 2 ]] || ok= ;;
	fatal) [[ $rc == 65 ]] || ok= ;;
	damaged) [[ $rc == 2 || $rc == 65 ]] || ok= ;;
	any) [[ $rc == 0 || $rc == 2 || $rc == 65 ]] || ok= ;;
	esac
	if [[ -n $ok ]]; then
		echo "ok $name: check exit $rc ($want)"
		return 0
	fi
	echo "BAD $name: check exit $rc, want $want: $(grep -v '^$' "$img.out" | head -n 2 | tr '\n' ' ' | cut -c1-200)"
	return 1
}

test_check_reports_every_case() {
	local bin ctl img name expect want what n=0 bad=()
	bin=$(corrupt_bin)
	ctl=$(ctl_bin)
	[[ -x "$bin" ]] || fail "pcache-corrupt not built (swift build -c release --product pcache-corrupt)"
	[[ -x "$ctl" ]] || fail "pcachectl not built"
	img=$(mktemp -d)/pmem.img
	# The guest's /dev/pmem0 on the 1 GiB NVDIMM file: 1022 MiB.
	truncate -s 1022M "$img"
	while read -r name expect want what; do
		n=$((n + 1))
		check_case "$bin" "$ctl" "$img" "$name" "$want" || bad+=("$name")
	done < <("$bin" list)
	local count=$((50 * ${PCACHE_SOAK:-1})) s
	for ((s = 1; s <= count; s++)); do
		n=$((n + 1))
		check_case "$bin" "$ctl" "$img" "random-$s" any || bad+=("random-$s")
	done
	rm -rf "$(dirname "$img")"
	echo "TALLY corrupt_images_checked $n"
	((${#bad[@]} == 0)) || fail "pcachectl check misjudged ${#bad[@]} of $n images: ${bad[*]}"
	echo "$n images checked as expected"
}

# The generator's own cross-check through the Checker library on in-memory
# images (catches a case whose damage did not land).
test_generator_selfcheck() {
	local bin
	bin=$(corrupt_bin)
	[[ -x "$bin" ]] || fail "pcache-corrupt not built"
	"$bin" selfcheck --random $((200 * ${PCACHE_SOAK:-1})) | tail -n 20 | tee /dev/stderr | grep -q ' 0 not$' ||
		fail "the Checker misjudged some generated images (see the lines above)"
}
