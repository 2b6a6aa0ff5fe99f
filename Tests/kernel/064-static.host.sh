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
