// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

@main
struct PcacheCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcachectl",
        abstract: "Manage pcache persistent-memory caches for block devices.",
        subcommands: [])
}
