// SPDX-License-Identifier: GPL-2.0
/*
 * segment.c - addressing the mapped cache device, the segment allocation
 * bitmap, and the segment chains that belong to backing devices.
 *
 * The bitmap is not stored on media: register rebuilds it by walking the
 * chain of every RUNNING backing record marked INIT_DONE (first_seg, then
 * each segment info's next_seg while HAS_NEXT). A STOPPED record owns no
 * segments: its chain was released by the clean stop that wrote the state;
 * nor does a RUNNING one without INIT_DONE: the engine never initialised
 * its chain, so nothing of it is replayed and its next start makes a new one.
 *
 * Everything read here comes from pmem: every segment id is bounded by
 * seg_num, every chain by the record's cache_segs, and a segment seen twice
 * (a loop, or two records sharing a segment) refuses the register.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "pcache_internal.h"

void *cache_dev_addr(struct pcache_cache_dev *cache_dev, u64 off, u64 len)
{
	if (WARN_ONCE(len > cache_dev->size || off > cache_dev->size - len,
		      "pcache: cache_dev%d: access [%llu, +%llu) beyond %llu bytes\n",
		      cache_dev->id, off, len, cache_dev->size))
		return NULL;
	return cache_dev->base + off;
}

void *pcache_seg_addr(struct pcache_cache_dev *cache_dev, u32 seg_id)
{
	if (WARN_ONCE(seg_id >= cache_dev->seg_num, "pcache: cache_dev%d: segment %u >= %u\n",
		      cache_dev->id, seg_id, cache_dev->seg_num))
		return NULL;
	return cache_dev_addr(cache_dev, PCACHE_SEGMENTS_OFF + ((u64)seg_id << PCACHE_SEG_SHIFT),
			      PCACHE_SEG_SIZE);
}

void *cache_dev_backing_slot0(struct pcache_cache_dev *cache_dev, u32 backing_id)
{
	if (WARN_ON_ONCE(backing_id >= PCACHE_BACKING_MAX))
		return NULL;
	return cache_dev_addr(cache_dev,
			      PCACHE_BACKING_OFF + (u64)backing_id * PCACHE_BACKING_RECORD_SIZE,
			      PCACHE_BACKING_RECORD_SIZE);
}

struct page *cache_dev_addr_to_page(struct pcache_cache_dev *cache_dev, void *addr)
{
	if (cache_dev->vmapped)
		return vmalloc_to_page(addr);
	return virt_to_page(addr);
}

int cache_dev_seg_alloc(struct pcache_cache_dev *cache_dev, u32 *seg_id)
{
	unsigned long bit;
	int ret = -ENOSPC;

	spin_lock(&cache_dev->seg_lock);
	bit = find_first_zero_bit(cache_dev->seg_bitmap, cache_dev->seg_num);
	if (bit < cache_dev->seg_num) {
		__set_bit(bit, cache_dev->seg_bitmap);
		cache_dev->seg_used++;
		*seg_id = bit;
		ret = 0;
	}
	spin_unlock(&cache_dev->seg_lock);
	return ret;
}

int cache_dev_seg_claim(struct pcache_cache_dev *cache_dev, u32 seg_id)
{
	int ret = 0;

	if (seg_id >= cache_dev->seg_num)
		return -ERANGE;
	spin_lock(&cache_dev->seg_lock);
	if (__test_and_set_bit(seg_id, cache_dev->seg_bitmap))
		ret = -EEXIST;
	else
		cache_dev->seg_used++;
	spin_unlock(&cache_dev->seg_lock);
	return ret;
}

void cache_dev_seg_free(struct pcache_cache_dev *cache_dev, u32 seg_id)
{
	if (WARN_ON_ONCE(seg_id >= cache_dev->seg_num))
		return;
	spin_lock(&cache_dev->seg_lock);
	if (!WARN_ON_ONCE(!__test_and_clear_bit(seg_id, cache_dev->seg_bitmap)))
		cache_dev->seg_used--;
	spin_unlock(&cache_dev->seg_lock);
}

void segment_chain_release(struct pcache_cache_dev *cache_dev, const u32 *seg_ids, u32 n_segs)
{
	u32 i;

	for (i = 0; i < n_segs; i++)
		cache_dev_seg_free(cache_dev, seg_ids[i]);
}

static int segment_info_read(struct pcache_cache_dev *cache_dev, u32 seg_id,
			     struct pcache_seg_info_onmedia *info, int *slot)
{
	void *seg = pcache_seg_addr(cache_dev, seg_id);

	if (!seg)
		return -EINVAL;
	return pcache_meta_find_latest(seg + PCACHE_SEG_INFO_OFF, PCACHE_SLOT_SIZE,
				       sizeof(*info), info, slot);
}

/*
 * Walk and claim the chain of RUNNING record @rec (index @backing_id) into
 * @seg_ids (cache_segs entries, already bounded by the caller). On failure
 * nothing stays claimed and one line names the record and the segment.
 */
static int segment_chain_claim(struct pcache_cache_dev *cache_dev, u32 backing_id,
			       const struct pcache_backing_onmedia *rec, u32 *seg_ids)
{
	struct pcache_seg_info_onmedia info;
	u32 n = le32_to_cpu(rec->cache_segs);
	u32 seg = le32_to_cpu(rec->first_seg);
	bool has_next;
	int slot, ret;
	u32 idx;

	for (idx = 0; idx < n; idx++) {
		if (seg >= cache_dev->seg_num) {
			cache_dev_err(cache_dev, "backing_dev%u: chain index %u: segment %u out of range (seg_num %u)",
				      backing_id, idx, seg, cache_dev->seg_num);
			ret = -EINVAL;
			goto release;
		}
		ret = cache_dev_seg_claim(cache_dev, seg);
		if (ret) {
			cache_dev_err(cache_dev, "backing_dev%u: chain index %u: segment %u already in a chain (loop or shared segment)",
				      backing_id, idx, seg);
			ret = -EINVAL;
			goto release;
		}
		seg_ids[idx] = seg;

		ret = segment_info_read(cache_dev, seg, &info, &slot);
		if (ret) {
			cache_dev_err(cache_dev, "backing_dev%u: chain index %u: segment %u has no valid segment info (%d)",
				      backing_id, idx, seg, ret);
			ret = -EINVAL;
			idx++;
			goto release;
		}
		if (le16_to_cpu(info.type) != PCACHE_SEG_TYPE_CACHE ||
		    le32_to_cpu(info.backing_id) != backing_id || le32_to_cpu(info.index) != idx) {
			cache_dev_err(cache_dev, "backing_dev%u: chain index %u: segment %u info says type %u backing %u index %u",
				      backing_id, idx, seg, le16_to_cpu(info.type),
				      le32_to_cpu(info.backing_id), le32_to_cpu(info.index));
			ret = -EINVAL;
			idx++;
			goto release;
		}
		if (le16_to_cpu(info.flags) & ~PCACHE_SEG_F_HAS_NEXT) {
			cache_dev_err(cache_dev, "backing_dev%u: chain index %u: segment %u info has unknown flags 0x%x",
				      backing_id, idx, seg, le16_to_cpu(info.flags));
			ret = -EINVAL;
			idx++;
			goto release;
		}
		has_next = le16_to_cpu(info.flags) & PCACHE_SEG_F_HAS_NEXT;
		if (idx + 1 < n && !has_next) {
			cache_dev_err(cache_dev, "backing_dev%u: chain ends at segment %u after %u segments, record says cache_segs %u",
				      backing_id, seg, idx + 1, n);
			ret = -EINVAL;
			idx++;
			goto release;
		}
		if (idx + 1 == n && has_next) {
			cache_dev_err(cache_dev, "backing_dev%u: chain continues past segment %u, record says cache_segs %u",
				      backing_id, seg, n);
			ret = -EINVAL;
			idx++;
			goto release;
		}
		seg = le32_to_cpu(info.next_seg);
	}
	return 0;

release:
	segment_chain_release(cache_dev, seg_ids, idx);
	return ret;
}

/**
 * cache_dev_segs_init - validate every backing record and rebuild the bitmap.
 * @cache_dev: the device being registered, superblock loaded.
 *
 * Policy for damaged metadata: any record or chain that fails validation
 * refuses the whole register (-EINVAL, one log line naming the record and
 * segment). Marking only that backing unusable would leave its segments free
 * for reuse while `pcachectl check` might still recover its dirty data.
 */
int cache_dev_segs_init(struct pcache_cache_dev *cache_dev)
{
	struct pcache_backing_onmedia rec;
	u32 id, n;
	int slot, ret;

	cache_dev->seg_bitmap = kvcalloc(BITS_TO_LONGS(cache_dev->seg_num), sizeof(long),
					 GFP_KERNEL);
	if (!cache_dev->seg_bitmap)
		return -ENOMEM;
	cache_dev->seg_used = 0;

	for (id = 0; id < PCACHE_BACKING_MAX; id++) {
		ret = backing_record_read(cache_dev, id, &rec, &slot);
		if (ret)
			goto free_chains;
		ret = backing_record_check(cache_dev, id, &rec);
		if (ret)
			goto free_chains;
		/* STOPPED, or RUNNING before the engine initialised a chain: nothing in pmem */
		if (!pcache_rec_holds_cache(&rec))
			continue;

		n = le32_to_cpu(rec.cache_segs);
		cache_dev->chains[id] = kvcalloc(n, sizeof(u32), GFP_KERNEL);
		if (!cache_dev->chains[id]) {
			ret = -ENOMEM;
			goto free_chains;
		}
		ret = segment_chain_claim(cache_dev, id, &rec, cache_dev->chains[id]);
		if (ret) {
			kvfree(cache_dev->chains[id]);
			cache_dev->chains[id] = NULL;
			goto free_chains;
		}
	}
	return 0;

free_chains:
	cache_dev_segs_exit(cache_dev);
	return ret;
}

/* Drop the chains not taken by a started backing device, and the bitmap. */
void cache_dev_segs_exit(struct pcache_cache_dev *cache_dev)
{
	u32 id;

	for (id = 0; id < PCACHE_BACKING_MAX; id++) {
		kvfree(cache_dev->chains[id]);
		cache_dev->chains[id] = NULL;
	}
	kvfree(cache_dev->seg_bitmap);
	cache_dev->seg_bitmap = NULL;
	cache_dev->seg_used = 0;
}

/**
 * segment_chain_create - allocate and link a new chain.
 * @cache_dev: the cache device.
 * @backing_id: owner written into each segment info.
 * @n_segs: segments to allocate.
 * @seg_ids: receives the physical ids, chain order.
 *
 * The segment infos link the segments in index order.
 * The backing record, written afterwards by the caller, is the commit point:
 * a crash before it leaves infos that no RUNNING record points to.
 * Return: 0, or -ENOSPC with nothing allocated.
 */
int segment_chain_create(struct pcache_cache_dev *cache_dev, u32 backing_id,
			 u32 n_segs, u32 *seg_ids)
{
	struct pcache_seg_info_onmedia info;
	void *seg;
	int slot;
	u32 i;

	for (i = 0; i < n_segs; i++) {
		if (cache_dev_seg_alloc(cache_dev, &seg_ids[i])) {
			segment_chain_release(cache_dev, seg_ids, i);
			return -ENOSPC;
		}
	}

	for (i = 0; i < n_segs; i++) {
		/* continue the seq of whatever a previous owner left there */
		if (segment_info_read(cache_dev, seg_ids[i], &info, &slot)) {
			slot = -1;
			info.header.seq = 0;
		}
		memset((u8 *)&info + sizeof(info.header), 0, sizeof(info) - sizeof(info.header));
		info.type = cpu_to_le16(PCACHE_SEG_TYPE_CACHE);
		info.flags = cpu_to_le16(i + 1 < n_segs ? PCACHE_SEG_F_HAS_NEXT : 0);
		info.backing_id = cpu_to_le32(backing_id);
		info.next_seg = cpu_to_le32(i + 1 < n_segs ? seg_ids[i + 1] : 0);
		info.index = cpu_to_le32(i);

		seg = pcache_seg_addr(cache_dev, seg_ids[i]);
		pcache_meta_write(seg + PCACHE_SEG_INFO_OFF, PCACHE_SLOT_SIZE, sizeof(info),
				  &info, &slot);
	}
	return 0;
}
