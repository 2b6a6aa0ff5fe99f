// SPDX-License-Identifier: GPL-2.0
/*
 * cache_gc.c - collect written-back ksets from key_tail up to dirty_tail.
 *
 * Collecting a kset persists the advanced key_tail first and then drops
 * the reference each of its keys holds on its data segment; a segment
 * left without references (and without a data head) is reclaimed: its
 * generation is bumped and persisted, then it is free. A key segment is
 * reclaimed when key_tail leaves it. Reclaim is FIFO, as in the original.
 */
#include "cache_internal.h"

void cache_gc_kick(struct pcache_cache *cache)
{
	queue_work(cache->wq, &cache->gc_work);
}

static void cache_gc_drop_refs(struct pcache_cache *cache, void *buf)
{
	struct pcache_kset_onmedia *hdr = buf;
	struct pcache_key_onmedia *k = buf + PCACHE_KSET_HDR_SIZE;
	u32 i, nr = le16_to_cpu(hdr->key_num);
	struct pcache_key key;

	spin_lock(&cache->seg_lock);
	for (i = 0; i < nr; i++) {
		/* same tests as replay, so exactly the keys holding a ref drop one */
		if (!cache_key_decode(cache, &k[i], &key))
			continue;
		if (key.seg_gen != cache->segs[key.seg].gen)
			continue;
		cache_seg_put_locked(cache, key.seg);
	}
	spin_unlock(&cache->seg_lock);
}

void cache_gc_fn(struct work_struct *work)
{
	struct pcache_cache *cache = container_of(work, struct pcache_cache, gc_work);
	struct pcache_kset_onmedia *hdr = cache->gc_kset_buf;
	struct cache_pos tail, dirty;
	u32 collected = 0, next, old_seg;
	int ret;

	cache_seg_reclaim(cache);
	while (cache_space_pressure(cache, 100) && !READ_ONCE(cache->stopping)) {
		spin_lock(&cache->pos_lock);
		tail = cache->key_tail;
		dirty = cache->dirty_tail;
		spin_unlock(&cache->pos_lock);
		if (cache_pos_eq(&tail, &dirty))
			break;

		ret = cache_kset_read(cache, &tail, hdr);
		if (ret) {
			pcache_err("%s: gc: bad kset at %u:%u (%d), gc stops", cache->name,
				   tail.seg, tail.off, ret);
			break;
		}
		old_seg = tail.seg;
		if (le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST) {
			next = le32_to_cpu(hdr->next_cache_seg);
			if (next >= cache->n_segs || next == old_seg ||
			    READ_ONCE(cache->segs[next].state) != CACHE_SEG_KEY) {
				pcache_err("%s: gc: bad next segment %u, gc stops", cache->name, next);
				break;
			}
			tail.seg = next;
			tail.off = 0;
		} else {
			tail.off += PCACHE_KSET_HDR_SIZE + le16_to_cpu(hdr->key_num) * PCACHE_KEY_SIZE;
		}
		spin_lock(&cache->pos_lock);
		cache->key_tail = tail;
		spin_unlock(&cache->pos_lock);
		cache_pos_persist(cache, true);

		if (tail.seg != old_seg) {
			spin_lock(&cache->seg_lock);
			if (cache->segs[old_seg].state == CACHE_SEG_KEY)
				cache->segs[old_seg].state = CACHE_SEG_RECLAIM;
			spin_unlock(&cache->seg_lock);
		} else {
			cache_gc_drop_refs(cache, hdr);
		}
		collected++;
		if (collected % 64 == 0) {
			cache_seg_reclaim(cache);
			cond_resched();
		}
	}
	if (collected)
		atomic64_inc(&cache->gc_runs);
	cache_seg_reclaim(cache);
}
