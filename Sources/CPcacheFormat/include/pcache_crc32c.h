/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcache_crc32c.h - userspace CRC32C helper for the Swift tools (not used by
 * the kernel module, which calls the kernel's crc32c()).
 *
 * Semantics match the kernel's crc32c(seed, p, n): raw reflected CRC32C
 * (polynomial 0x82F63B78) started from @crc, no final inversion.
 */
#ifndef PCACHE_CRC32C_H
#define PCACHE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this CPU has the SSE4.2 crc32 instruction, else 0. */
int pcache_crc32c_hw_available(void);

/*
 * Update @crc over @len bytes at @data with the crc32 instruction. Only call
 * it when pcache_crc32c_hw_available() returned 1.
 */
uint32_t pcache_crc32c_hw(uint32_t crc, const void *data, size_t len);

#endif /* PCACHE_CRC32C_H */
