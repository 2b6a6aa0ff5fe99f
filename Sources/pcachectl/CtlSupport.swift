// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the control verbs (cache, backing, get/set, list, status, flush, apply, probe, autostart,
// module, devices): error reporting with exit codes, JSON values, common options.
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The sysfs tree the control verbs act on: `/`, or $PCACHE_SYSFS_ROOT for tests against a fake tree.
var controlTree: SysfsTree {
    if let root = getenv("PCACHE_SYSFS_ROOT").map({ String(cString: $0) }), !root.isEmpty {
        return SysfsTree(root: FilePath(root))
    }
    return .system
}

/// Exit codes of the control verbs: the library errors map onto `ExitStatus` (ExitCodes.swift, sysexits),
/// documented in pcachectl(8) and Docs/admin-guide.md and tested in PcacheCtlTests.
extension SysfsError: ExitStatusError {
    var exitStatus: ExitStatus {
        switch code {
        case .moduleNotLoaded, .notFound, .unsupported, .noSpace: .unavailable
        case .permissionDenied: .permission
        case .busy, .exists: .busy
        // Refused before writing: the user's value is wrong. Refused by the kernel: the media or disk is.
        case .invalidValue: errno == nil ? .usage : .dataError
        case .io: .ioError
        }
    }
}

extension LifecycleError: ExitStatusError {
    var exitStatus: ExitStatus {
        switch code {
        case .moduleMissing, .notFound: .unavailable
        case .busy, .timeout: .busy
        case .permissionDenied: .permission
        case .invalidInput: .usage
        case .badData: .dataError
        case .io: .ioError
        }
    }
}

/// Runs a verb body: a library error becomes one stderr line and its documented exit code.
func runControl(_ verb: String, _ body: () throws -> Void) throws {
    try runVerb(verb, body)
}

func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// --json for read verbs.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (snake_case keys, schema_version, numbers as numbers).")
    var json = false
}

/// --module-path for verbs that may load the module.
struct ModuleOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Load the module from this file instead of modules.dep (also $PCACHE_MODULE).",
                                            valueName: "file"))
    var modulePath: String?

    /// Loads pcache unless loaded; prints nothing when it already was.
    func ensureLoaded(tree: SysfsTree, quiet: Bool = false) throws {
        guard !tree.isModuleLoaded else { return }
        var env: [String: String] = [:]
        if let m = getenv("PCACHE_MODULE") { env["PCACHE_MODULE"] = String(cString: m) }
        let result = try ModuleLoader(tree: tree).load(path: modulePath.map { FilePath($0) }, environment: env)
        if !quiet, result.loaded {
            print("loaded pcache \(result.version ?? "(no version)")\(result.path.map { " from \($0)" } ?? "")")
        }
    }
}

/// A JSON value with ordered keys, explicit nulls and numbers as numbers.
indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    static func optional(_ value: UInt64?) -> JSON { value.map { .int($0) } ?? .null }
    static func optional(_ value: Double?) -> JSON { value.map { .double($0) } ?? .null }
    static func optional(_ value: String?) -> JSON { value.map { .string($0) } ?? .null }

    /// The document with `schema_version` first.
    static func document(_ fields: [(String, JSON)]) -> JSON { .object([("schema_version", .int(1))] + fields) }

    func render(indent: Int = 0, pretty: Bool = true) -> String {
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let end = pretty ? String(repeating: "  ", count: indent) : ""
        let nl = pretty ? "\n" : ""
        let colon = pretty ? ": " : ":"
        switch self {
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{" + nl + fields.map { pad + JSON.quote($0.0) + colon + $0.1.render(indent: indent + 1, pretty: pretty) }
                .joined(separator: "," + nl) + nl + end + "}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[" + nl + items.map { pad + $0.render(indent: indent + 1, pretty: pretty) }.joined(separator: "," + nl)
                + nl + end + "]"
        case .string(let s): return JSON.quote(s)
        case .int(let n): return String(n)
        case .double(let d):
            guard d.isFinite else { return "null" }
            return String((d * 10000).rounded() / 10000)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - Shared JSON shapes

extension CacheDevice {
    func json(stats: Bool) -> JSON {
        .object([
            ("id", .string(id.name)), ("path", .string(path)), ("uuid", .string(info.uuid)), ("label", .string(info.label)),
            ("version", .int(info.version)), ("seg_num", .int(info.segNum)), ("seg_used", .int(info.segUsed)),
            ("seg_free", .int(info.segFree)), ("seg_size", .int(info.segSize)), ("dev_size", .int(info.devSize)),
            ("backing_devs", .int(info.backingDevs)),
            ("backing", .array(backing.map { $0.json(stats: stats) })),
        ])
    }
}

extension BackingDevice {
    var usedPercent: Double? { cacheSegs == 0 ? nil : Double(cacheUsedSegs) * 100 / Double(cacheSegs) }

    func json(stats includeStats: Bool) -> JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(id.name)), ("cache", .string(cache.name)), ("path", .string(path)),
            ("device", .string(deviceName)), ("mapped_id", .int(UInt64(mappedID))), ("cache_segs", .int(cacheSegs)),
            ("cache_used_segs", .int(cacheUsedSegs)), ("gc_percent", .int(gcPercent)),
            ("ident", ident.isEmpty ? .null : .string(ident)), ("data_crc", .bool(dataCRC)),
        ]
        if includeStats {
            fields += [
                ("used_percent", .optional(usedPercent)),
                ("dirty_bytes", .optional(stats.dirtyBytes)), ("hits", .optional(stats.hits)),
                ("misses", .optional(stats.misses)), ("hit_ratio", .optional(stats.hitRatio)),
                ("writeback_seg", .optional(stats.writebackSegment)), ("writeback_off", .optional(stats.writebackOffset)),
                ("writeback_state", stats.writebackFailing.map { .string($0 ? "failing" : "ok") } ?? .null),
                ("writeback_last_error", .optional(stats.writebackLastError)),
                ("writeback_failing_s", .optional(stats.writebackFailingSeconds)),
                ("write_errors", .optional(stats.writeErrors)),
                ("counters", .object(stats.counters.map { ($0.name, JSON.int($0.value)) })),
            ]
        }
        return .object(fields)
    }
}

extension String {
    /// Drops leading and trailing characters found in `set`.
    func stripping(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// True when stderr is a terminal (progress bars, screen refresh).
var stderrIsTerminal: Bool { isatty(2) == 1 }

/// Set by SIGINT/SIGTERM while a waiting verb runs.
nonisolated(unsafe) var interruptRequested: sig_atomic_t = 0

/// Makes Ctrl-C set `interruptRequested` instead of killing the process, so waits can end cleanly.
func catchInterrupts() {
    signal(SIGINT) { _ in interruptRequested = 1 }
    signal(SIGTERM) { _ in interruptRequested = 1 }
}

/// Sleeps up to `seconds`, waking early on an interrupt.
func interruptibleSleep(_ seconds: Double) {
    var left = seconds
    while left > 0, interruptRequested == 0 {
        let slice = min(left, 0.05)
        usleep(UInt32(slice * 1_000_000))
        left -= slice
    }
}
