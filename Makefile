# SPDX-License-Identifier: Apache-2.0
#
# pcache: build, test and install. Run `make help` for the targets.
#
# The kernel module is built against Debian's newest installed 6.12 kernel
# (Tests/vm/kver.sh), never the running one; kernel tests boot that kernel
# under QEMU (Tests/vm/vm.sh).

SHELL := /bin/bash
.DEFAULT_GOAL := all

KVER_SH   := Tests/vm/kver.sh
SWIFT     ?= swift
# Resolved when a recipe runs, after `make deps` may have installed the kernel.
KDIR_CMD   = /usr/src/linux-headers-$$($(KVER_SH))
MODULE    := KernelShim/pcache.ko
PCACHECTL := .build/release/pcachectl
PREFIX    ?= /usr/local
DESTDIR   ?=

.PHONY: all help deps module tool test test-swift test-kernel demo install clean fuzz check vm-prepare bench soak reliability-tools

all: module tool

help:
	@echo "make demo     boot a VM and walk through the whole pcache lifecycle"
	@echo "make test     Swift unit tests + every kernel suite in QEMU; ends with 'N passed, N failed'"
	@echo "make deps     install the Debian packages and the 6.12 kernel (root, idempotent)"
	@echo "make module   build $(MODULE) against the 6.12 headers (W=1)"
	@echo "make tool     swift build -c release (static Swift runtime) -> $(PCACHECTL)"
	@echo "make check    sparse + W=1 on the module"
	@echo "make install  module, depmod, pcachectl, udev rule, man page on this host"
	@echo "make fuzz     Tests/fuzz/run.sh"
	@echo "make bench    benchmarks in one VM: pmem, disk, dm-writecache, bcache, null_blk, pcache"
	@echo "make soak     long reliability runs (Tests/soak/run.sh; SOAK_ARGS=\"-n MULT -c CUTS\")"
	@echo "make clean    remove build outputs, VM cache and results"
	@echo "One kernel suite: Tests/vm/vm.sh run-suite Tests/kernel/001-module.sh"

deps:
	@Tests/vm/deps.sh

module:
	@test -f KernelShim/Kbuild || { echo "make: KernelShim/Kbuild is missing" >&2; exit 1; }
	$(MAKE) -C $(KDIR_CMD) M=$(CURDIR)/KernelShim W=1 modules

check:
	$(MAKE) -C $(KDIR_CMD) M=$(CURDIR)/KernelShim C=2 W=1 modules

# Linked with the Swift runtime and Foundation statically: pcachectl needs no
# Swift runtime on the host, and it starts ~8x faster (no dynamic loading of
# Foundation; under QEMU's TCG 82 ms instead of 671 ms for `--version`),
# which counts at boot, where udev runs it for every disk.
SWIFT_STATIC := --static-swift-stdlib

tool:
	$(SWIFT) build -c release --product pcachectl $(SWIFT_STATIC)

vm-prepare:
	@Tests/vm/vm.sh prepare

test: deps module tool reliability-tools
	@Tests/vm/test-all.sh

# The two halves of `make test`, each on its own.
test-swift:
	@Tests/vm/test-all.sh --swift-only

test-kernel: module tool reliability-tools
	@Tests/vm/vm.sh run-all

demo: deps module tool
	@Tests/vm/demo.sh

install: module tool
	@kver=$$($(KVER_SH)); \
	install -D -m 0644 $(MODULE) $(DESTDIR)/lib/modules/$$kver/extra/pcache.ko; \
	if [ -z "$(DESTDIR)" ]; then depmod -a $$kver; fi; \
	echo "installed pcache.ko for $$kver"
	install -D -m 0755 $(PCACHECTL) $(DESTDIR)$(PREFIX)/sbin/pcachectl
	@for r in udev/*.rules; do \
		[ -e "$$r" ] || { echo "no udev rule in udev/ yet: skipped"; break; }; \
		install -d $(DESTDIR)/usr/lib/udev/rules.d; \
		sed 's|@SBINDIR@|$(PREFIX)/sbin|g' "$$r" >$(DESTDIR)/usr/lib/udev/rules.d/$$(basename "$$r"); \
		echo "installed udev rule $$(basename "$$r")"; \
	done
	install -d $(DESTDIR)/usr/lib/systemd/system
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' udev/pcache.service >$(DESTDIR)/usr/lib/systemd/system/pcache.service
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' udev/pcache-apply@.service >'$(DESTDIR)/usr/lib/systemd/system/pcache-apply@.service'
	install -D -m 0644 udev/pcache.conf.example $(DESTDIR)$(PREFIX)/share/doc/pcache/pcache.conf.example
	install -D -m 0644 Docs/completions/pcachectl.bash $(DESTDIR)/usr/share/bash-completion/completions/pcachectl
	install -D -m 0644 Docs/completions/pcachectl.zsh $(DESTDIR)/usr/share/zsh/vendor-completions/_pcachectl
	install -D -m 0644 Docs/completions/pcachectl.fish $(DESTDIR)/usr/share/fish/vendor_completions.d/pcachectl.fish
	@if [ -e Docs/pcachectl.8 ]; then \
		install -D -m 0644 Docs/pcachectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/pcachectl.8; \
		echo "installed pcachectl(8)"; \
	else echo "no Docs/pcachectl.8 yet: man page skipped"; fi

fuzz:
	@if [ -x Tests/fuzz/run.sh ]; then Tests/fuzz/run.sh; \
	else echo "make: Tests/fuzz/run.sh does not exist yet" >&2; exit 1; fi

clean:
	-@kver=$$($(KVER_SH) 2>/dev/null) && [ -d /usr/src/linux-headers-$$kver ] && \
		$(MAKE) -s -C /usr/src/linux-headers-$$kver M=$(CURDIR)/KernelShim clean
	rm -rf .build vm-cache results

# Benchmarks (not part of `make test`): one VM, raw pmem / raw disk /
# dm-writecache / bcache / null_blk / pcache side by side; regenerates Docs/benchmarks.md.
bench: deps module tool
	@Tests/bench/bench.sh

# Reliability (Tests/reliability, Tests/soak): the damaged-image generator the
# corrupted-media suites run, and the long versions of the reliability suites
# (not part of `make test`); SOAK_ARGS="-n 10 -c 200" by default.
reliability-tools:
	$(SWIFT) build -c release --product pcache-corrupt $(SWIFT_STATIC)

soak: deps module tool reliability-tools
	@Tests/soak/run.sh $(SOAK_ARGS)
