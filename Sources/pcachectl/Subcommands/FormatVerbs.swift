// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

extension PcacheCtl {
    /// Verbs implemented in Format.swift, Check.swift and Dump.swift.
    static var formatSubcommands: [any ParsableCommand.Type] { [Format.self, Check.self, Dump.self] }
}
