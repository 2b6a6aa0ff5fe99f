// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
#if canImport(Glibc)
import Glibc
#endif

extension PcacheCtl {
    struct Autostart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start configured caches that involve a device which just appeared (from udev's RUN).",
            discussion: """
                Looks up the configuration sections the device belongs to (a pmem device by superblock uuid, a disk \
                by path or ident). For each backing section whose cache and disk are both present it hands \
                'pcachectl apply --only NAME --available' to systemd-run --no-block under the unit name \
                pcache-apply-NAME, so udev is never blocked and repeated events do not start it twice. Without \
                systemd it starts a detached process instead. --foreground applies in this process (for tests).

                EXAMPLES:
                  pcachectl autostart --udev /dev/pmem0
                  pcachectl autostart --foreground /dev/vda
                """)

        @Flag(help: "Called from a udev rule (quiet unless something is started).") var udev = false
        @Flag(help: "Apply in this process instead of handing it off.") var foreground = false
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
                if targets.isEmpty {
                    if !udev { print("\(device): waiting for the other device of \(probe.sections.joined(separator: ", "))") }
                    return
                }
                for name in targets {
                    if foreground {
                        let steps = try Applier(tree: tree, onlyAvailable: true, only: [name]).apply(config)
                        for s in steps { print("\(s.object): \(s.outcome.rawValue.replacingUnderscore()): \(s.detail)") }
                    } else {
                        let how = try handOff(name)
                        print("\(name): \(how)")
                    }
                }
            }
        }

        /// Starts `pcachectl apply --only NAME --available` without waiting for it.
        func handOff(_ name: String) throws -> String {
            let me = selfPath()
            var applyArgs = [me, "apply", "--only", name, "--available", "--config", configOptions.path.string]
            if let module = getenv("PCACHE_MODULE").map({ String(cString: $0) }), !module.isEmpty {
                applyArgs += ["--module-path", module]
            }
            let systemdRun = ["/usr/bin/systemd-run", "/bin/systemd-run"].first { (p: String) in access(p, X_OK) == 0 }
            if let systemdRun, access("/run/systemd/system", F_OK) == 0 {
                let args = [systemdRun, "--no-block", "--unit=pcache-apply-\(name)", "--description=pcache autostart \(name)",
                            "--property=DefaultDependencies=no"] + applyArgs
                let status = try spawn(args, wait: true)
                guard status == 0 else {
                    // The unit exists already (an earlier event started it): nothing more to do.
                    return "systemd-run exited \(status) (unit pcache-apply-\(name) probably running already)"
                }
                return "handed to systemd as pcache-apply-\(name).service"
            }
            _ = try spawn(applyArgs, wait: false)
            return "started detached 'pcachectl apply --only \(name)' (no systemd)"
        }
    }
}

func selfPath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, 4095)
    guard n > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// posix_spawn with stdio on /dev/null; `wait: false` detaches it into its own session.
func spawn(_ args: [String], wait: Bool) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for fd in Int32(0)...2 {
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    if !wait { posix_spawnattr_setflags(&attr, Int16(0x80) /* POSIX_SPAWN_SETSID */) }
    var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, args[0], &actions, &attr, &cargs, environ)
    guard rc == 0 else { throw LifecycleError(.io, "cannot run \(args[0])", errno: .init(rawValue: rc)) }
    guard wait else { return 0 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
