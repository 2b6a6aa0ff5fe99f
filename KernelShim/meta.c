// SPDX-License-Identifier: GPL-2.0
/*
 * meta.c - the two-copy rule of pcache_format.h.
 *
 * Every mutable record (backing records, segment infos, and the engine's
 * generations and log positions) has two slots. A reader takes the valid
 * copy (crc over [4, size) matches) with the newer seq in 32-bit serial
 * arithmetic; a writer writes seq + 1 into the other slot, flushes it and
 * issues a barrier, so a torn write can only ever damage the older copy.
 */
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/libnvdimm.h>

#include "pcache_internal.h"

/* largest two-copy record: struct pcache_backing_onmedia */
#define PCACHE_META_REC_MAX	512

static bool meta_seq_after(u32 a, u32 b)
{
	return (s32)(a - b) > 0;
}

int pcache_meta_find_latest(void *slot0, u32 stride, u32 size, void *out, int *slot)
{
	struct pcache_meta_header_onmedia *hdr;
	bool media_error = false;
	u32 best_seq = 0;
	int best = -1;
	u8 copy[PCACHE_META_REC_MAX] __aligned(8);
	int i;

	/* callable under spinlocks: no allocation, the largest record is 512 B */
	if (WARN_ON_ONCE(size > sizeof(copy) || size < sizeof(*hdr) || size > stride))
		return -EINVAL;

	for (i = 0; i < PCACHE_META_COPIES; i++) {
		if (copy_mc_to_kernel(copy, slot0 + (size_t)i * stride, size)) {
			media_error = true;
			continue;
		}
		hdr = (void *)copy;
		if (le32_to_cpu(hdr->crc) != pcache_crc(copy + 4, size - 4))
			continue;
		if (best >= 0 && !meta_seq_after(le32_to_cpu(hdr->seq), best_seq))
			continue;
		best = i;
		best_seq = le32_to_cpu(hdr->seq);
		memcpy(out, copy, size);
	}

	if (best < 0)
		return media_error ? -EIO : -ENOENT;
	*slot = best;
	return 0;
}

void pcache_meta_write(void *slot0, u32 stride, u32 size, void *rec, int *latest_slot)
{
	struct pcache_meta_header_onmedia *hdr = rec;
	int target = *latest_slot == 0 ? 1 : 0;

	hdr->seq = cpu_to_le32(le32_to_cpu(hdr->seq) + 1);
	hdr->crc = cpu_to_le32(pcache_crc(rec + 4, size - 4));

	memcpy_flushcache(slot0 + (size_t)target * stride, rec, size);
	pmem_wmb();
	*latest_slot = target;
}
