// SPDX-License-Identifier: Apache-2.0
/*
 * Hardware CRC32C (SSE4.2) for the Swift tools. The table fallback lives in
 * Sources/PcacheFormat/CRC32C.swift; both are tested against the same vectors.
 */
#include "pcache_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>

int pcache_crc32c_hw_available(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	return (ecx & bit_SSE4_2) != 0;
}

/*
 * One dependent chain of crc32q: 8 bytes per instruction, about 3 cycles of
 * latency each. Enough to check pmem faster than it can be read.
 */
__attribute__((target("sse4.2")))
uint32_t pcache_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 32) {
		uint64_t v[4];

		memcpy(v, p, sizeof(v));
		c = _mm_crc32_u64(c, v[0]);
		c = _mm_crc32_u64(c, v[1]);
		c = _mm_crc32_u64(c, v[2]);
		c = _mm_crc32_u64(c, v[3]);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}

#else

int pcache_crc32c_hw_available(void)
{
	return 0;
}

uint32_t pcache_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	(void)data;
	(void)len;
	return crc;
}

#endif
