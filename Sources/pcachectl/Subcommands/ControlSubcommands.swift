// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

extension PcacheCtl {
    /// Every verb, in help order. The format verbs (format, check, dump) come from the format engineer's files.
    static var allSubcommands: [any ParsableCommand.Type] {
        formatSubcommands + [
            Cache.self, Backing.self, Get.self, Set.self, List.self, Status.self, Flush.self, Apply.self,
            Devices.self, Module.self, Probe.self, Autostart.self,
        ]
    }
}
