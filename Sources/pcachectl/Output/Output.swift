// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation

/// What a verb prints: text for people (may change between releases) and JSON for programs (a
/// contract: snake_case keys, a top-level `schema_version`, numbers as numbers).
///
/// A report's `Encodable` conformance gives the JSON body; use camelCase property names, the encoder
/// turns them into snake_case. Bump `schemaVersion` when a key changes meaning or disappears (adding
/// keys does not need a bump).
protocol Report: Encodable {
    /// Version of this report's JSON shape.
    static var schemaVersion: Int { get }
    /// The text form, lines separated by "\n", no trailing newline needed.
    var text: String { get }
}

extension Report {
    static var schemaVersion: Int { 1 }
}

/// The `--json` flag shared by every verb that prints a report.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON (snake_case keys, a top-level schema_version) instead of text.")
    var json = false

    /// Prints `report` to stdout in the chosen form.
    func render(_ report: some Report) throws {
        print(json ? try Self.json(report) : report.text)
    }

    /// The JSON form of `report`: `{"schema_version": N, ...report's keys}`, pretty-printed, keys sorted.
    static func json(_ report: some Report) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Envelope(report: report))
        return String(decoding: data, as: UTF8.self)
    }
}

/// Puts `schema_version` next to the report's own keys.
private struct Envelope<R: Report>: Encodable {
    var report: R

    enum Keys: String, CodingKey { case schemaVersion }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(R.schemaVersion, forKey: .schemaVersion)
        try report.encode(to: encoder)
    }
}

/// Aligned "name: value" lines, e.g. a superblock.
struct Fields {
    private var rows: [(String, String)] = []
    var indent = ""

    init(indent: String = "") { self.indent = indent }

    mutating func add(_ name: String, _ value: CustomStringConvertible) { rows.append((name, value.description)) }

    var text: String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { indent + $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }
            .joined(separator: "\n")
    }
}

/// A table with a header row and left-aligned columns separated by two spaces.
struct Table {
    var header: [String]
    var rows: [[String]] = []
    var indent = ""

    init(_ header: [String], indent: String = "") {
        self.header = header
        self.indent = indent
    }

    mutating func add(_ row: [CustomStringConvertible]) { rows.append(row.map(\.description)) }

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return all.map { row in
            indent + row.indices.map { i in
                i == row.count - 1 ? row[i] : row[i] + String(repeating: " ", count: widths[i] - row[i].count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Bytes in binary units for people: "512 MiB", "1.5 GiB", "4096 B".
func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024, u < units.count - 1 {
        v /= 1024
        u += 1
    }
    if u == 0 { return "\(n) B" }
    return v == v.rounded() ? "\(Int(v)) \(units[u])" : String(format: "%.1f", v) + " " + units[u]
}

/// 0x-prefixed, zero-padded hex for text output (JSON keeps numbers).
func hexString<T: FixedWidthInteger>(_ v: T) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, T.bitWidth / 4 - digits.count)) + digits
}
