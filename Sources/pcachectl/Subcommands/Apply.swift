// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// --config, shared by apply, probe and autostart.
struct ConfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).", valueName: "file"))
    var config: String?

    var path: FilePath {
        if let config { return FilePath(config) }
        if let env = getenv("PCACHE_CONFIG").map({ String(cString: $0) }), !env.isEmpty { return FilePath(env) }
        return PcacheConfig.defaultPath
    }

    func load() throws -> PcacheConfig { try PcacheConfig.load(from: path) }
}

extension PcacheCtl {
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring caches and backing devices to the declared configuration.",
            discussion: """
                Reads /etc/pcache/pcache.conf: [cache NAME] sections name pmem devices by superblock uuid, \
                [backing NAME] sections name backing devices by path (prefer /dev/disk/by-id/...), with an \
                optional ident the disk must carry, cache_size, queues, data_crc and gc_percent. Loads the \
                module, registers caches, starts backing devices, sets gc_percent and links \
                /dev/pcache/by-name/NAME. What is already in place is left alone, so running it twice is safe.

                CONFIGURATION EXAMPLE:
                  [cache fast]
                  uuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0

                  [backing data]
                  cache = fast
                  device = /dev/disk/by-id/virtio-data1
                  ident = serial-data1
                  cache_size = 1G
                  gc_percent = 70

                EXAMPLES:
                  pcachectl apply
                  pcachectl apply --dry-run
                  pcachectl apply --config ./pcache.conf --only data --json
                """)

        @OptionGroup var configOptions: ConfigOptions
        @Flag(help: "Show what would change without changing anything.") var dryRun = false
        @Option(help: ArgumentHelp("Only this [cache] or [backing] section (repeatable).", valueName: "name"))
        var only: [String] = []
        @Flag(help: "Skip entries whose devices are absent instead of failing (used by autostart).") var available = false
        @Option(help: "Seconds to wait for each /dev/pcacheN.") var timeout: Double = 10
        @OptionGroup var module: ModuleOptions
        @OptionGroup var output: JSONOption

        func run() throws {
            try runControl("apply") {
                let config = try configOptions.load()
                for name in only where !config.caches.contains(where: { $0.name == name })
                    && !config.backings.contains(where: { $0.name == name }) {
                    throw ValidationError("--only \(name): no such section in \(configOptions.path)")
                }
                let tree = controlTree
                if !dryRun { try module.ensureLoaded(tree: tree, quiet: output.json) }
                let applier = Applier(tree: tree, dryRun: dryRun, onlyAvailable: available,
                                      only: only.isEmpty ? nil : Swift.Set(only), deviceTimeout: timeout)
                let steps: [Applier.Step]
                if dryRun && !tree.isModuleLoaded {
                    steps = [Applier.Step(object: "module pcache", outcome: Applier.Step.Outcome.wouldChange, detail: "would load the module", error: nil)]
                } else {
                    steps = try applier.apply(config)
                }
                if output.json {
                    print(JSON.document([("dry_run", .bool(dryRun)), ("steps", .array(steps.map { s in
                        .object([("object", .string(s.object)), ("outcome", .string(s.outcome.rawValue)),
                                  ("detail", .string(s.detail)), ("error", .optional(s.error))])
                    }))]).render())
                } else {
                    for s in steps { print("\(s.object): \(s.outcome.rawValue.replacingUnderscore()): \(s.detail)") }
                }
                let failures = steps.filter { $0.outcome == .failed }
                if let failed = failures.first {
                    printError("pcachectl: apply: \(failures.count) of \(steps.count) entries failed; first: \(failed.object): \(failed.detail)")
                    throw ExitCode(exitStatus(forErrorCode: failed.error))
                }
            }
        }
    }
}

extension String {
    func replacingUnderscore() -> String { String(map { $0 == "_" ? " " : $0 }) }
}

/// Exit status for the snake_case error code carried in an apply step.
func exitStatus(forErrorCode code: String?) -> Int32 {
    guard let code else { return ExitStatus.failure.rawValue }
    if let c = LifecycleError.Code(rawValue: code) { return LifecycleError(c, "").exitStatus.rawValue }
    if let c = SysfsError.Code(rawValue: code) {
        return SysfsError(code: c, path: "", errno: c == .invalidValue ? .invalidArgument : nil, message: "").exitStatus.rawValue
    }
    return ExitStatus.failure.rawValue
}
