// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

extension PcacheCtl {
    struct Autostart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start configured caches that involve a device which just appeared (from udev).",
            discussion: """
                Looks up the configuration sections the device belongs to (a pmem device by superblock uuid, a disk \
                by path or ident) and picks every backing section whose cache and disk are both present (and every \
                cache section without backing sections). With --udev it only prints them for udev's IMPORT{program}: \
                PCACHE_AUTOSTART (the section names) and PCACHE_AUTOSTART_UNITS (pcache-apply@NAME.service each), \
                which 69-pcache.rules adds to SYSTEMD_WANTS, so systemd runs 'pcachectl apply --only NAME \
                --available' without udev waiting for it, and a unit that runs already is not started twice. \
                Without --udev it applies them in this process; the rule does that from RUN when systemd is not \
                running. pcachectl never starts another program.

                EXAMPLES:
                  pcachectl autostart --udev /dev/pmem0
                  pcachectl autostart /dev/vda
                """)

        @Flag(help: "Print udev KEY=value lines naming what to start, and start nothing.") var udev = false
        @Flag(help: "Apply in this process (the default without --udev; kept for scripts).") var foreground = false
        @Argument(help: "The device node that appeared.") var device: String
        @OptionGroup var configOptions: ConfigOptions

        func run() throws {
            try runControl("autostart") {
                let config: PcacheConfig
                do { config = try configOptions.load() } catch let e as LifecycleError where e.code == .notFound {
                    if !udev { print("no configuration at \(configOptions.path); nothing to start") }
                    return
                }
                let tree = controlTree
                let probe = try DeviceProbe(node: device, config: config, tree: tree, environment: processEnvironment())
                guard !probe.sections.isEmpty else {
                    if !udev { print("\(device) is not part of \(configOptions.path)") }
                    return
                }
                var targets = DeviceProbe.readySections(config, among: probe.sections, tree: tree)
                // A configured cache without backing sections is still registered.
                for cache in config.caches where probe.sections.contains(cache.name)
                    && !config.backings.contains(where: { $0.cache == cache.name }) {
                    targets.append(cache.name)
                }
                if udev {
                    // Section names are letters, digits, '-', '_' and '.': valid in unit names as they are.
                    guard !targets.isEmpty else { return }
                    print("PCACHE_AUTOSTART=\(targets.joined(separator: " "))")
                    print("PCACHE_AUTOSTART_UNITS=\(targets.map { "pcache-apply@\($0).service" }.joined(separator: " "))")
                    return
                }
                if targets.isEmpty {
                    print("\(device): waiting for the other device of \(probe.sections.joined(separator: ", "))")
                    return
                }
                for name in targets {
                    let steps = try Applier(tree: tree, onlyAvailable: true, only: [name]).apply(config)
                    for s in steps { print("\(s.object): \(s.outcome.rawValue.replacingUnderscore()): \(s.detail)") }
                }
            }
        }
    }
}
