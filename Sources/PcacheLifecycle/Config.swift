// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage

/// The declared configuration shared by `pcachectl apply`, `probe` and `autostart`.
///
/// Format (/etc/pcache/pcache.conf): `#` comments, sections `[cache NAME]` and `[backing NAME]`, and
/// `key = value` lines. A cache is named by its superblock uuid (stable across renames); a backing device
/// by a path (prefer /dev/disk/by-id/...) and optionally by the identity recorded at start.
///
/// ```
/// [cache fast]
/// uuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
///
/// [backing data]
/// cache = fast
/// device = /dev/disk/by-id/virtio-data1
/// ident = serial-data1
/// cache_size = 1G
/// queues = 1
/// data_crc = no
/// gc_percent = 70
/// ```
public struct PcacheConfig: Sendable, Equatable {
    public static let defaultPath: FilePath = "/etc/pcache/pcache.conf"

    public struct Cache: Sendable, Equatable {
        public var name: String
        /// Superblock uuid, lowercase.
        public var uuid: String
        /// Optional hint where to look first; the uuid decides.
        public var device: String?
    }

    public struct Backing: Sendable, Equatable {
        public var name: String
        /// Name of a `[cache]` section.
        public var cache: String
        /// Path handed to the kernel; the kernel matches its backing record by this exact string.
        public var device: DevicePath
        /// When set, the disk must carry this identity before it is started.
        public var ident: DiskIdent?
        /// Needed the first time; may be omitted when the record exists.
        public var cacheSize: CacheSize?
        public var queues: UInt32?
        public var dataCRC: Bool
        public var gcPercent: GCPercent?
    }

    public var caches: [Cache]
    public var backings: [Backing]

    public init(caches: [Cache] = [], backings: [Backing] = []) {
        self.caches = caches
        self.backings = backings
    }

    public func cache(named name: String) -> Cache? { caches.first { $0.name == name } }

    /// Parses the text of a configuration file.
    ///
    /// - Parameter source: the file name, for messages.
    /// - Throws: `LifecycleError.invalidInput` naming the file, line and problem.
    public init(parsing text: String, source: String = "pcache.conf") throws {
        enum Kind { case cache, backing }
        var sections: [(kind: Kind, name: String, line: Int, keys: [String: (value: String, line: Int)])] = []
        func fail(_ line: Int, _ message: String) -> LifecycleError {
            LifecycleError(.invalidInput, "\(source):\(line): \(message)")
        }
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = String(rawLine)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: " \t\r")
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail(number, "section header must end with ']'") }
                let words = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                guard words.count == 2, words[0] == "cache" || words[0] == "backing" else {
                    throw fail(number, "expected [cache NAME] or [backing NAME], got \(line)")
                }
                let name = String(words[1])
                guard Self.isValidName(name) else {
                    throw fail(number, "name '\(name)' may only contain letters, digits, '-', '_' and '.'")
                }
                let kind: Kind = words[0] == "cache" ? .cache : .backing
                if sections.contains(where: { $0.kind == kind && $0.name == name }) {
                    throw fail(number, "duplicate section [\(words[0]) \(name)]")
                }
                sections.append((kind, name, number, [:]))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw fail(number, "expected key = value") }
            let key = String(line[..<eq]).trimmingCharacters(in: " \t")
            let value = String(line[line.index(after: eq)...]).trimmingCharacters(in: " \t")
            guard !sections.isEmpty else { throw fail(number, "'\(key)' is outside any section") }
            guard !key.isEmpty, !value.isEmpty else { throw fail(number, "empty key or value") }
            guard sections[sections.count - 1].keys[key] == nil else { throw fail(number, "duplicate key '\(key)'") }
            sections[sections.count - 1].keys[key] = (value, number)
        }

        var caches: [Cache] = []
        var backings: [Backing] = []
        for section in sections {
            var keys = section.keys
            func take(_ key: String) -> (value: String, line: Int)? { keys.removeValue(forKey: key) }
            func require(_ key: String) throws -> (value: String, line: Int) {
                guard let v = take(key) else { throw fail(section.line, "[\(section.name)] needs '\(key) = ...'") }
                return v
            }
            func wrap<T>(_ entry: (value: String, line: Int), _ body: (String) throws -> T) throws -> T {
                do { return try body(entry.value) } catch let error as SysfsError {
                    throw fail(entry.line, error.message)
                }
            }
            switch section.kind {
            case .cache:
                let uuid = try require("uuid")
                guard isUUID(uuid.value) else { throw fail(uuid.line, "uuid '\(uuid.value)' is not 8-4-4-4-12 hex") }
                let device = take("device")?.value
                caches.append(Cache(name: section.name, uuid: uuid.value.lowercased(), device: device))
            case .backing:
                let cache = try require("cache").value
                let device = try wrap(try require("device")) { try DevicePath($0) }
                let ident = try take("ident").map { e in try wrap(e) { try DiskIdent($0) } }
                let size = try take("cache_size").map { e in try wrap(e) { try CacheSize(parsing: $0) } }
                let queues = try take("queues").map { e -> UInt32 in
                    guard let q = UInt32(e.value), Limits.queues.contains(UInt64(q)) else {
                        throw fail(e.line, "queues '\(e.value)' is not in \(Limits.queues.lowerBound)...\(Limits.queues.upperBound)")
                    }
                    return q
                }
                let crc = try take("data_crc").map { e -> Bool in
                    switch e.value.lowercased() {
                    case "1", "yes", "true", "on": return true
                    case "0", "no", "false", "off": return false
                    default: throw fail(e.line, "data_crc '\(e.value)' must be yes or no")
                    }
                } ?? false
                let gc = try take("gc_percent").map { e in try wrap(e) { try GCPercent(parsing: $0) } }
                backings.append(Backing(name: section.name, cache: cache, device: device, ident: ident, cacheSize: size,
                                        queues: queues, dataCRC: crc, gcPercent: gc))
            }
            if let (key, entry) = keys.min(by: { $0.value.line < $1.value.line }) {
                throw fail(entry.line, "unknown key '\(key)' in [\(section.kind == .cache ? "cache" : "backing") \(section.name)]")
            }
        }
        for backing in backings where !caches.contains(where: { $0.name == backing.cache }) {
            throw LifecycleError(.invalidInput, "\(source): [backing \(backing.name)] names cache '\(backing.cache)', which has no [cache \(backing.cache)] section")
        }
        var seen: Set<String> = []
        for backing in backings {
            guard seen.insert(backing.device.string).inserted else {
                throw LifecycleError(.invalidInput, "\(source): device \(backing.device) appears in two [backing] sections")
            }
        }
        self.caches = caches
        self.backings = backings
    }

    /// Reads and parses a file; a missing file is `notFound`.
    public static func load(from path: FilePath = defaultPath) throws -> PcacheConfig {
        let text: String
        do {
            text = try SysfsTree(root: "/").read(path)
        } catch let error as SysfsError {
            throw LifecycleError(error.code == .notFound ? .notFound : .io, "cannot read configuration \(path)",
                                 errno: error.errno)
        }
        return try PcacheConfig(parsing: text, source: path.string)
    }

    /// Renders the configuration back to the file format (what `apply --save` style tools write).
    public var text: String {
        var out = "# pcache configuration: see pcachectl(8) and Docs/admin-guide.md\n"
        for cache in caches {
            out += "\n[cache \(cache.name)]\nuuid = \(cache.uuid)\n"
            if let device = cache.device { out += "device = \(device)\n" }
        }
        for b in backings {
            out += "\n[backing \(b.name)]\ncache = \(b.cache)\ndevice = \(b.device)\n"
            if let ident = b.ident { out += "ident = \(ident)\n" }
            if let size = b.cacheSize { out += "cache_size = \(size)\n" }
            if let queues = b.queues { out += "queues = \(queues)\n" }
            out += "data_crc = \(b.dataCRC ? "yes" : "no")\n"
            if let gc = b.gcPercent { out += "gc_percent = \(gc)\n" }
        }
        return out
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0)
        }
    }
}
