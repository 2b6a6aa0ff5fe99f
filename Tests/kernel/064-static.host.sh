# SPDX-License-Identifier: Apache-2.0
#
# 064-static.host: the static checks in `make test` (no VM): the module under
# sparse (C=2) and W=1, and every Swift target built with -warnings-as-errors.
# See Tests/reliability/static-checks.sh; `make check` runs the module half in
# KernelShim/ itself.

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

test_module_sparse_and_w1_clean() {
	"$REPO/Tests/reliability/static-checks.sh" module || fail "sparse/W=1 diagnostics in KernelShim (see above)"
}

test_swift_warnings_as_errors() {
	"$REPO/Tests/reliability/static-checks.sh" swift || fail "Swift warnings (built with -warnings-as-errors, see above)"
}

test_no_plain_pmem_loads() {
	"$REPO/Tests/reliability/static-checks.sh" pmem || fail "plain CPU loads from pmem in KernelShim (see above)"
}

# pcachectl runs from udev at boot: no subprocesses (a Foundation Process was seen to hang after its
# child exited). Every subprocess API is refused anywhere in Sources/, comments included: signatures
# come from libblkid, autostart hands off through udev's SYSTEMD_WANTS.
test_no_subprocesses_in_sources() {
	local re='(^|[^A-Za-z0-9_])(Process\(\)|Process\.run|NSTask|posix_spawn[a-z_]*|popen\(|system\(|v?fork\(|exec(l|lp|le|v|vp|vpe|ve)\()'
	local hits
	hits=$(grep -rnE "$re" "$REPO/Sources" | sed "s|^$REPO/||" || true)
	[[ -z "$hits" ]] || fail "subprocess API in Sources/: $(head -n 5 <<<"$hits" | tr '\n' '|')"
}
