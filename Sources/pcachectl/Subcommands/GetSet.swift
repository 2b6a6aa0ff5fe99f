// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

/// The attribute list for help text, generated from the typed sysfs layer.
private let attributeHelp = BackingAttribute.allCases.map {
    "  \($0.optionName.padding(18))\($0.access.isWritable ? "rw" : "ro")  \($0.summary)"
}.joined(separator: "\n")

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

extension PcacheCtl {
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show attributes of a backing device.",
            discussion: """
                ATTRIBUTES:
                \(attributeHelp)

                EXAMPLES:
                  pcachectl get /dev/pcache0
                  pcachectl get /dev/pcache0 gc-percent
                  pcachectl get --json cache_dev0/backing_dev0
                """)

        @Argument(help: "/dev/pcacheN, pcacheN, cache_devN/backing_devM or the backing disk's path.") var backing: String
        @Argument(help: "An attribute (see ATTRIBUTES); omit for all.") var attribute: String?
        @OptionGroup var output: JSONOption

        func validate() throws {
            if let attribute, BackingAttribute(optionName: attribute) == nil {
                throw ValidationError("unknown attribute '\(attribute)'; known: \(BackingAttribute.allCases.map(\.optionName).joined(separator: ", "))")
            }
        }

        func run() throws {
            try runControl("get") {
                let tree = controlTree
                var selected = BackingAttribute.allCases.filter(\.access.isReadable)
                if let attribute {
                    guard let a = BackingAttribute(optionName: attribute) else {
                        throw ValidationError("unknown attribute '\(attribute)'; known: \(BackingAttribute.allCases.map(\.optionName).joined(separator: ", "))")
                    }
                    selected = [a]
                }
                let b = try tree.findBacking(backing)
                var values: [(BackingAttribute, String)] = []
                for a in selected {
                    values.append((a, try tree.read(tree.path(a, of: b.id, in: b.cache))))
                }
                if output.json {
                    let fields = values.map { (a, raw) -> (String, JSON) in
                        switch a {
                        case .stats: return (a.rawValue, .object(b.stats.counters.map { ($0.name, JSON.int($0.value)) }))
                        case .dataCRC: return (a.rawValue, .bool(raw.stripping("\n ") == "1"))
                        case .path, .ident: return (a.rawValue, .string(raw.stripping("\n")))
                        default:
                            let t = raw.stripping("\n ")
                            return (a.rawValue, UInt64(t).map { JSON.int($0) } ?? .string(t))
                        }
                    }
                    print(JSON.document([("device", .string(b.deviceName)), ("attributes", .object(fields))]).render())
                } else if values.count == 1 {
                    print(values[0].1.stripping("\n"))
                } else {
                    for (a, raw) in values {
                        if a == .stats {
                            print("stats:" + (b.stats.isEmpty ? " (none)" : ""))
                            for c in b.stats.counters { print("  \(c.name) \(c.value)") }
                        } else {
                            print("\(a.optionName): \(raw.stripping("\n"))")
                        }
                    }
                }
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a tunable attribute of a backing device.",
            discussion: """
                Values are checked before they reach the kernel (gc-percent: 0...90). Settings persist in the \
                backing record on pmem.

                ATTRIBUTES:
                \(attributeHelp)

                EXAMPLES:
                  pcachectl set /dev/pcache0 gc-percent 50
                """)

        @Argument(help: "/dev/pcacheN, pcacheN, cache_devN/backing_devM or the backing disk's path.") var backing: String
        @Argument(help: "A writable attribute (gc-percent).") var attribute: String
        @Argument(help: "The new value.") var value: String

        func validate() throws {
            guard let a = BackingAttribute(optionName: attribute) else {
                throw ValidationError("unknown attribute '\(attribute)'; writable: \(BackingAttribute.allCases.filter(\.access.isWritable).map(\.optionName).joined(separator: ", "))")
            }
            guard a.access.isWritable else { throw ValidationError("attribute '\(a.optionName)' is read-only") }
            if a == .cacheGCPercent {
                do { _ = try GCPercent(parsing: value) } catch let error as SysfsError { throw ValidationError(error.message) }
            }
        }

        func run() throws {
            try runControl("set") {
                let tree = controlTree
                guard let a = BackingAttribute(optionName: attribute) else {
                    throw ValidationError("unknown attribute '\(attribute)'; writable: \(BackingAttribute.allCases.filter(\.access.isWritable).map(\.optionName).joined(separator: ", "))")
                }
                guard a.access.isWritable else {
                    throw ValidationError("attribute '\(a.optionName)' is read-only")
                }
                let b = try tree.findBacking(backing)
                let path = tree.path(a, of: b.id, in: b.cache)
                switch a {
                case .cacheGCPercent:
                    let gc = try GCPercent(parsing: value, for: path)
                    try tree.setGCPercent(gc, of: b.id, in: b.cache)
                    print("\(b.deviceName): \(a.optionName) \(b.gcPercent) -> \(gc.value)")
                default:
                    throw ValidationError("attribute '\(a.optionName)' cannot be set")
                }
            }
        }
    }
}
