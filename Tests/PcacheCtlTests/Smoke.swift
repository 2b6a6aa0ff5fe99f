// SPDX-License-Identifier: Apache-2.0
import Testing

@Test("the package builds") func builds() { #expect(Bool(true)) }
