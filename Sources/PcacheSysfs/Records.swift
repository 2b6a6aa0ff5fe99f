// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// One backing record in use, as `cache_devN/backing_records` lists it: which disk a record belongs to,
/// whether it is started, and whether its cache may hold dirty data while it is not.
public struct BackingRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Started, or stopped uncleanly (a crash): the chain is replayed at the next start.
        case running
        /// Stopped with --flush (or never initialised): no cached data, the disk alone is current.
        case stopped
        /// Stopped with its cache kept: replayed at the next start; the disk alone is not current.
        case cached
    }
    public var cache: CacheID
    public var id: BackingID
    public var state: State
    /// The engine initialised the record's chain (a RUNNING record without it holds nothing).
    public var initDone: Bool
    /// Started now as cache_devN/backing_devM.
    public var started: Bool
    /// "MAJ:MIN" of the disk started on it, else of the last one since register; nil when unknown (0:0).
    public var dev: String?
    public var devSectors: UInt64
    public var ident: String
    public var path: String

    /// The record's chain holds a cache (clean and possibly dirty data), replayed at the next start.
    public var holdsCache: Bool { (state == .running || state == .cached) && initDone }
    /// Not started, yet its cache may hold dirty data: it is replayed at the next start of its disk, and
    /// the disk alone is not current until then (or until a stop with --flush).
    public var mayHoldDirtyData: Bool { !started && holdsCache }
    public var name: String { "\(cache)/\(id)" }

    /// Parses the attribute's text; a last line "truncated" sets `truncated`.
    public static func parse(_ text: String, cache: CacheID, path: FilePath) throws -> (records: [BackingRecord], truncated: Bool) {
        var records: [BackingRecord] = []
        var truncated = false
        for line in text.split(separator: "\n") where !line.isEmpty {
            if line == "truncated" { truncated = true; continue }
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else {
                    throw SysfsError(code: .io, path: path, message: "unexpected token '\(token)' in \(path.lastComponent?.string ?? "backing_records")")
                }
                fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
            }
            func field(_ key: String) throws -> String {
                guard let v = fields[key] else {
                    throw SysfsError(code: .io, path: path, message: "record line without \(key)=: '\(line)'")
                }
                return v
            }
            guard let idNum = parseDecimal(try field("backing_id")), idNum < UInt64(Limits.backingMax),
                  let state = State(rawValue: try field("state")),
                  let sectors = parseDecimal(try field("dev_sectors")) else {
                throw SysfsError(code: .io, path: path, message: "malformed record line '\(line)'")
            }
            let dev = try field("dev")
            records.append(BackingRecord(cache: cache, id: BackingID(UInt32(idNum)), state: state,
                                         initDone: try field("init_done") == "1", started: try field("started") == "1",
                                         dev: dev == "0:0" ? nil : dev, devSectors: sectors,
                                         ident: unescape(try field("ident")), path: unescape(try field("path"))))
        }
        return (records, truncated)
    }

    /// Undoes the kernel's \xHH escapes.
    static func unescape(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count, bytes[i + 1] == UInt8(ascii: "x"),
               let v = UInt8(String(decoding: bytes[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension SysfsTree {
    /// The records of a cache device; nil when the module has no `backing_records` (an older module).
    public func backingRecords(of cache: CacheID) throws -> [BackingRecord]? {
        try backingRecordListing(of: cache)?.records
    }

    /// The records of a cache device and whether the kernel cut the list short (one page of text: with many
    /// records and long paths the last ones are missing); nil when the module has no `backing_records`.
    public func backingRecordListing(of cache: CacheID) throws -> (records: [BackingRecord], truncated: Bool)? {
        let file = path(.backingRecords, of: cache)
        guard fileExists(file) else { return nil }
        return try BackingRecord.parse(try read(file), cache: cache, path: file)
    }

    /// Drops a record that is not started, and with it whatever its cache holds.
    ///
    /// The corresponding sysfs attribute is `cache_devN/adm` (op=backing-forget).
    public func forgetBacking(_ request: BackingForgetRequest, on cache: CacheID) throws {
        try write(request.optionString, to: path(.adm, of: cache), action: "forget \(cache)/\(request.backing)")
    }
}
