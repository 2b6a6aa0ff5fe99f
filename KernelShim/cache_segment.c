// SPDX-License-Identifier: GPL-2.0
/*
 * cache_segment.c - segment generations, references, reclaim and the data
 * heads that hand out cache space to writes and read fills.
 */
#include <linux/highmem.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/random.h>

#include "cache_internal.h"

static void *cache_seg_gen_slot0(struct pcache_cache *cache, u32 seg)
{
	return cache_seg_base(cache, seg) + PCACHE_SEG_GEN_OFF;
}

static void cache_seg_gen_write(struct pcache_cache *cache, u32 seg, u64 gen)
{
	struct cache_seg *s = &cache->segs[seg];
	struct pcache_seg_gen_onmedia rec = { };

	rec.header.seq = cpu_to_le32(s->gen_seq);	/* meta_write adds 1 */
	rec.gen = cpu_to_le64(gen);
	pcache_meta_write(cache_seg_gen_slot0(cache, seg), PCACHE_SEG_POS_STRIDE,
			  sizeof(rec), &rec, &s->gen_slot);
	s->gen_seq = le32_to_cpu(rec.header.seq);
}

/*
 * cache_seg_gen_init - give a segment of a new cache a random generation.
 * Both copies are cleared first so that nothing from an earlier owner of
 * the segment can look newer than the record written here. Random, not 0:
 * ksets an earlier owner left in the segment carry the low 32 bits of its
 * generation (gen_stamp) and must not match ours.
 */
int cache_seg_gen_init(struct pcache_cache *cache, u32 seg)
{
	static const u8 zero[PCACHE_META_COPIES * PCACHE_SEG_POS_STRIDE];
	void *slot0 = cache_seg_gen_slot0(cache, seg);
	struct cache_seg *s = &cache->segs[seg];

	memcpy_flushcache(slot0, zero, sizeof(zero));
	pmem_wmb();
	s->gen_slot = 1;
	s->gen_seq = 0;
	s->gen = get_random_u32();
	cache_seg_gen_write(cache, seg, s->gen);
	return 0;
}

/*
 * cache_seg_gen_bump - a new generation for a segment replay left free.
 * A crash between GC persisting key_tail past a key segment and reclaim
 * persisting its new generation leaves the segment free with its old
 * generation and its ksets: without a bump, reusing it as a key segment
 * would put those ksets, stamp matching, behind the new log end.
 * Nothing live refers to a free segment. Start only (no concurrency).
 */
void cache_seg_gen_bump(struct pcache_cache *cache, u32 seg)
{
	struct cache_seg *s = &cache->segs[seg];

	WRITE_ONCE(s->gen, s->gen + 1);
	cache_seg_gen_write(cache, seg, s->gen);
}

/* Load the persisted generation of @seg; both copies bad -> -EIO. */
int cache_seg_gen_load(struct pcache_cache *cache, u32 seg)
{
	struct cache_seg *s = &cache->segs[seg];
	struct pcache_seg_gen_onmedia rec;
	int ret;

	ret = pcache_meta_find_latest(cache_seg_gen_slot0(cache, seg), PCACHE_SEG_POS_STRIDE,
				      sizeof(rec), &rec, &s->gen_slot);
	if (ret) {
		pcache_err("%s: cache segment %u (physical %u): no valid generation record",
			   cache->name, seg, s->phys);
		return -EIO;
	}
	s->gen = le64_to_cpu(rec.gen);
	s->gen_seq = le32_to_cpu(rec.header.seq);
	return 0;
}

/*
 * cache_seg_alloc - take a free segment for @state.
 * @reserve: leave at least this many segments free (the key log may use
 *           the last ones, data may not: see data_reserve).
 * Return: the chain index or -ENOSPC.
 */
int cache_seg_alloc(struct pcache_cache *cache, enum cache_seg_state state, u32 reserve)
{
	u32 i, seg;
	int ret = -ENOSPC;

	spin_lock(&cache->seg_lock);
	if (cache->free_segs <= reserve)
		goto out;
	for (i = 0; i < cache->n_segs; i++) {
		seg = (cache->alloc_hint + i) % cache->n_segs;
		if (cache->segs[seg].state != CACHE_SEG_FREE)
			continue;
		cache->segs[seg].state = state;
		cache->segs[seg].refs = state == CACHE_SEG_DATA ? 1 : 0;
		WRITE_ONCE(cache->free_segs, cache->free_segs - 1);
		cache->alloc_hint = seg + 1;
		ret = seg;
		break;
	}
out:
	spin_unlock(&cache->seg_lock);
	return ret;
}

void cache_seg_get(struct pcache_cache *cache, u32 seg, u32 n)
{
	spin_lock(&cache->seg_lock);
	cache->segs[seg].refs += n;
	spin_unlock(&cache->seg_lock);
}

/* Caller holds seg_lock. */
void cache_seg_put_locked(struct pcache_cache *cache, u32 seg)
{
	struct cache_seg *s = &cache->segs[seg];

	/* a corrupt log replayed with conflicting keys must not underflow */
	if (!s->refs || (s->state != CACHE_SEG_DATA))
		return;
	if (--s->refs == 0 && s->state == CACHE_SEG_DATA) {
		s->state = CACHE_SEG_RECLAIM;
		queue_work(cache->wq, &cache->gc_work);
	}
}

void cache_seg_put(struct pcache_cache *cache, u32 seg)
{
	spin_lock(&cache->seg_lock);
	cache_seg_put_locked(cache, seg);
	spin_unlock(&cache->seg_lock);
}

/*
 * cache_seg_reclaim - free every segment waiting for reclaim.
 * The new generation is in memory before the segment becomes allocatable
 * and persisted before anything can be written into it, so a reader that
 * checks the generation after copying can never accept reused space, and
 * replay never accepts a key written before the reclaim.
 * Return: the number of segments freed. Process context only.
 */
u32 cache_seg_reclaim(struct pcache_cache *cache)
{
	struct cache_seg *s;
	u32 i, freed = 0;
	bool reclaim;

	for (i = 0; i < cache->n_segs; i++) {
		s = &cache->segs[i];
		spin_lock(&cache->seg_lock);
		reclaim = s->state == CACHE_SEG_RECLAIM;
		spin_unlock(&cache->seg_lock);
		if (!reclaim)
			continue;

		WRITE_ONCE(s->gen, s->gen + 1);
		smp_wmb();
		cache_seg_gen_write(cache, i, s->gen);

		spin_lock(&cache->seg_lock);
		s->state = CACHE_SEG_FREE;
		WRITE_ONCE(cache->free_segs, cache->free_segs + 1);
		spin_unlock(&cache->seg_lock);
		freed++;
	}
	if (freed) {
		atomic64_add(freed, &cache->segs_freed);
		wake_up_all(&cache->space_wq);
		queue_work(cache->wq, &cache->clean_work);
	}
	return freed;
}

/*
 * Someone needs space: make the open ksets visible to writeback now, and
 * let writeback and GC run regardless of gc_percent.
 */
void cache_space_kick(struct pcache_cache *cache)
{
	u32 i;

	for (i = 0; i < cache->n_ksets; i++)
		mod_delayed_work(cache->wq, &cache->ksets[i].flush_work, 0);
	cache_writeback_kick(cache);
	cache_gc_kick(cache);
}

/* Let go of the head's segment: its own reference and its unused credit. Caller holds head->lock. */
static void cache_head_drop(struct pcache_cache *cache, struct cache_head *head)
{
	u32 i;

	spin_lock(&cache->seg_lock);
	for (i = 0; i <= head->credit; i++)
		cache_seg_put_locked(cache, head->seg);
	spin_unlock(&cache->seg_lock);
	head->seg = -1;
	head->credit = 0;
}

/*
 * cache_data_alloc - take up to @want bytes of cache space from data head
 * @head_idx. The returned extent holds a reference on its segment for the
 * key that will describe it (drop it with cache_seg_put() if no key is
 * logged after all).
 * @may_wait: sleep until GC frees space; otherwise give up (read fills).
 * Return: bytes allocated (a 512 B multiple, <= @want), 0 if none: no
 * space and !@may_wait, stopping, or writeback stalled (cache_wb_stalled()).
 */
u32 cache_data_alloc(struct pcache_cache *cache, u32 head_idx, u32 want, bool may_wait,
		     u32 *seg, u32 *seg_off, u64 *gen)
{
	struct cache_head *head = &cache->heads[head_idx % cache->n_heads];
	u32 reserve = cache->data_reserve + (may_wait ? 0 : 1);
	bool kicked = false;
	int new_seg;
	u32 n;

	for (;;) {
		spin_lock(&head->lock);
		if (head->seg >= 0 && head->off < PCACHE_SEG_DATA_SIZE) {
			n = min_t(u32, want, PCACHE_SEG_DATA_SIZE - head->off);
			*seg = head->seg;
			*seg_off = head->off;
			*gen = READ_ONCE(cache->segs[head->seg].gen);
			head->off += n;
			/* take references PCACHE_HEAD_CREDIT at a time, not seg_lock per write */
			if (!head->credit) {
				cache_seg_get(cache, head->seg, PCACHE_HEAD_CREDIT);
				head->credit = PCACHE_HEAD_CREDIT;
			}
			head->credit--;
			spin_unlock(&head->lock);
			return n;
		}
		if (head->seg >= 0)
			cache_head_drop(cache, head);
		new_seg = cache_seg_alloc(cache, CACHE_SEG_DATA, reserve);
		if (new_seg >= 0) {
			head->seg = new_seg;
			head->off = 0;
			spin_unlock(&head->lock);
			continue;
		}
		spin_unlock(&head->lock);

		if (!may_wait || READ_ONCE(cache->stopping))
			return 0;
		/*
		 * Cache full: wait for GC, waking every second (no hung task),
		 * as long as writeback makes progress; once it has failed for
		 * stall_timeout_s without any, give up (the caller fails the
		 * request) instead of sleeping until the disk comes back.
		 */
		atomic_inc(&cache->space_waiters);
		if (!kicked) {
			atomic64_inc(&cache->space_waits);
			cache_space_kick(cache);
		}
		kicked = true;
		if (!wait_event_timeout(cache->space_wq,
					READ_ONCE(cache->free_segs) > reserve ||
					READ_ONCE(cache->stopping), HZ))
			cache_space_kick(cache);
		atomic_dec(&cache->space_waiters);
		if (cache_wb_stalled(cache) && READ_ONCE(cache->free_segs) <= reserve)
			return 0;
	}
}

/*
 * cache_data_crc - crc32c of cached data, read with machine-check-safe
 * copies through a bounce page.
 * Return: 0, or -EIO when the media could not be read.
 */
int cache_data_crc(struct pcache_cache *cache, u32 seg, u32 off, u32 len, u32 *crc)
{
	struct page *page = mempool_alloc(cache->page_pool, GFP_NOIO);
	void *buf = page_address(page);
	void *src = cache_data_addr(cache, seg, off);
	u32 c = PCACHE_CRC_SEED, n;
	int ret = 0;

	while (len) {
		n = min_t(u32, len, PAGE_SIZE);
		if (copy_mc_to_kernel(buf, src, n)) {
			ret = -EIO;
			break;
		}
		c = crc32c(c, buf, n);
		src += n;
		len -= n;
	}
	mempool_free(page, cache->page_pool);
	*crc = c;
	return ret;
}
