// SPDX-License-Identifier: GPL-2.0
/*
 * cache.c - start, replay, stop and counters of the cache engine.
 *
 * Where the engine differs from the original design, and why:
 *  - Writers that find the cache full sleep in queue_rq until GC frees a
 *    segment (the tag set is blocking) instead of -EBUSY + a defer list;
 *    the sleep is bounded while writeback fails (stall_timeout_s).
 *  - Data heads: min(queues, (segments - 1 - reserve) / 2), one per hardware
 *    queue on large caches; on small caches fewer, so that heads holding
 *    half-filled segments can never starve a waiting writer. One or two
 *    segments stay reserved for the key log (data may not take them), so a
 *    kset can always be persisted while writers wait.
 *  - Read fills: no EMPTY placeholder key; a fill is inserted only if its
 *    range still has no index entry and no stale entry was erased from the
 *    4 MiB subtree since the miss (a per-subtree erase sequence), which is
 *    exactly the case where no newer write can have come and gone. Its
 *    cache space is taken at the miss (without waiting; none free: no fill)
 *    and the backing device reads straight into it; the request is served
 *    from there, so the request's pages, which their owner may change while
 *    the read is in flight, are never a source of cache contents.
 *  - Open ksets: PCACHE_KSETS_PER_QUEUE per hardware queue, a 4 MiB region
 *    always logging into the same one (so overlapping keys are logged in
 *    index order), so that writers on different regions rarely meet on a
 *    kset lock while one of them seals a kset.
 *  - data_crc is also checked on read hits (the original only documents
 *    it), and computed over a kernel bounce copy of what is stored (a
 *    write) or over pmem read with machine-check-safe copies (a fill). A
 *    mismatch at replay does not refuse the start: a dirty key stays
 *    indexed as BAD (reads of it fail with EIO), a clean or written-back one
 *    still trims older entries of its range and is then dropped, so reads go
 *    to the backing device, which has the data. A dirty key failing its crc
 *    is never written back as good data: while an index entry still points
 *    at its data, the entries are marked BAD and writeback stops before its
 *    kset (a writeback error, retried every second) until it is overwritten;
 *    a bad extent never turns into the older data of the backing device.
 *  - A clean stop first drains (pcache_cache_drain) while the cache keeps
 *    running: interruptible (-EINTR), and -EIO once writeback has failed
 *    without progress for stall_timeout_s; it logs "writeback N MiB left"
 *    every 5 s meanwhile. It is clean only once every kset is in the log.
 *  - A failing writeback retries the same batch after 1 s, doubling up to
 *    30 s; writers and flushes that need space it cannot free fail with EIO
 *    once it has failed for stall_timeout_s without progress.
 *  - Background writeback waits for writeback_idle_ms without I/O, used
 *    segments past half of gc_percent, or writers waiting for space (the
 *    original writes back at once): bursts are absorbed without competing
 *    for CPU and disk. Writeback folds up to 16 ksets into one batch and
 *    skips only keys overwritten inside it; every other dirty key is
 *    written, batch after batch in log order.
 *  - Replay refuses the start (EUCLEAN, one log line) when the log ends
 *    (zero, damaged or foreign header) with a valid kset of the same
 *    generation further on in that key segment, the log ends at damage before
 *    dirty_tail, a sealed kset has unknown flags or a LAST link to an
 *    invalid segment, or a valid kset holds a key that is out of range,
 *    claims a future generation or points into the key log: the original
 *    ends the log at the damage and silently drops what follows. A
 *    damaged kset with nothing valid behind it (a torn last write) ends
 *    the log with a warning naming its position. Ksets carry the low 32
 *    bits of their key segment's generation (format 2) so that leftovers
 *    of an earlier use of a segment are told apart from this log.
 *  - Segments left free by replay get a new generation (see
 *    cache_seg_gen_bump()); a new cache starts at random generations.
 */
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/bitmap.h>
#include <linux/sched.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/math64.h>

#include "cache_internal.h"

struct pcache_cache_named {
	struct pcache_cache	cache;
	char			name[32];
};

static void *cache_pos_slot0(struct pcache_cache *cache, bool key_tail)
{
	return cache_seg_base(cache, 0) +
	       (key_tail ? PCACHE_SEG_KEY_TAIL_OFF : PCACHE_SEG_DIRTY_TAIL_OFF);
}

/* New cache: both copies cleared, then 0:0 written. */
static void cache_pos_init(struct pcache_cache *cache, bool key_tail)
{
	static const u8 zero[PCACHE_META_COPIES * PCACHE_SEG_POS_STRIDE];

	memcpy_flushcache(cache_pos_slot0(cache, key_tail), zero, sizeof(zero));
	pmem_wmb();
	if (key_tail) {
		cache->key_tail_slot = 1;
		cache->key_tail_seq = 0;
	} else {
		cache->dirty_tail_slot = 1;
		cache->dirty_tail_seq = 0;
	}
	cache_pos_persist(cache, key_tail);
}

/*
 * Load key_tail or dirty_tail. They come from pmem: the segment index is
 * bounded by the chain, the offset by the data area.
 */
static int cache_pos_load(struct pcache_cache *cache, bool key_tail)
{
	const char *what = key_tail ? "key_tail" : "dirty_tail";
	struct pcache_pos_onmedia rec;
	struct cache_pos *pos = key_tail ? &cache->key_tail : &cache->dirty_tail;
	int *slot = key_tail ? &cache->key_tail_slot : &cache->dirty_tail_slot;
	int ret;

	ret = pcache_meta_find_latest(cache_pos_slot0(cache, key_tail), PCACHE_SEG_POS_STRIDE,
				      sizeof(rec), &rec, slot);
	if (ret) {
		pcache_err("%s: no valid %s record (%d)", cache->name, what, ret);
		return -EIO;
	}
	*(key_tail ? &cache->key_tail_seq : &cache->dirty_tail_seq) = le32_to_cpu(rec.header.seq);
	pos->seg = le32_to_cpu(rec.cache_seg);
	pos->off = le32_to_cpu(rec.seg_off);
	if (pos->seg >= cache->n_segs || pos->off % 8 ||
	    pos->off > PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HDR_SIZE) {
		pcache_err("%s: %s %u:%u out of range", cache->name, what, pos->seg, pos->off);
		return -EIO;
	}
	return 0;
}

/* Take the segment reference of a replayed key; false if it conflicts. */
static bool cache_replay_ref(struct pcache_cache *cache, const struct pcache_key *key)
{
	struct cache_seg *s = &cache->segs[key->seg];

	if (s->state == CACHE_SEG_KEY)
		return false;
	s->state = CACHE_SEG_DATA;
	s->refs++;
	return true;
}

/* @spare: an entry for a split, kept across keys (most keys split nothing) */
static void cache_replay_key(struct pcache_cache *cache, struct pcache_key *key, bool dirty,
			     u64 *bad, struct pcache_key **spare)
{
	struct cache_subtree *st = cache_subtree_of(cache, key->off);
	bool crc_bad = false;
	u32 crc;

	if (cache->data_crc &&
	    (cache_data_crc(cache, key->seg, key->seg_off, key->len, &crc) ||
	     crc != key->data_crc)) {
		crc_bad = true;
		atomic64_inc(&cache->data_crc_errors);
		(*bad)++;
		pcache_err("%s: replay: data_crc mismatch at backing offset %llu (cache segment %u offset %u len %u)%s",
			   cache->name, key->off, key->seg, key->seg_off, key->len,
			   dirty ? ": reads of it fail and writeback stops before it until it is overwritten" :
			   ": clean, reads of it go to the backing device");
		if (dirty)
			key->flags |= CACHE_KEY_F_BAD;
	}
	if (!*spare)
		*spare = cache_key_alloc(cache);
	spin_lock(&st->lock);
	cache_key_insert(cache, st, key, spare);
	if (crc_bad && !dirty) {
		/* trimmed every older entry of its range: now leave the range to the backing device */
		rb_erase(&key->node, &st->root);
		cache_key_free(cache, key);
	}
	spin_unlock(&st->lock);
}

/*
 * cache_replay_end - the log ends at @pos: at the zero header written ahead
 * of every kset (@why -ENOENT), at a kset that is not valid (-EBADMSG) or
 * at one left by an earlier use of the segment (-ESTALE, foreign
 * gen_stamp). A torn last write looks like the second, and the rest of the
 * segment then holds nothing of this log: every kset is written after the
 * zero header that follows it, and a reused segment has a new generation.
 * A valid kset of this generation anywhere behind @pos in the segment
 * (cache_kset_find_after()) therefore proves that the log is damaged in
 * the middle, whatever @pos holds: refuse the start, replaying only up to
 * the damage would silently drop the dirty data of every later kset.
 * Otherwise say where and why the log ended, if not at a zero header.
 * Return: 0 (the log ends here) or -EUCLEAN (start refused).
 */
static int cache_replay_end(struct pcache_cache *cache, const struct cache_pos *pos, int why_ret,
			    const struct pcache_kset_onmedia *hdr, u64 *scan_ns)
{
	u32 nr = le16_to_cpu(hdr->key_num);
	bool last = le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST;
	struct cache_pos found;
	const char *why;
	u64 t0;
	int ret;

	if (why_ret == -ENOENT)
		why = "zero header";
	else if (why_ret == -ESTALE)
		why = "a kset of an earlier use of the segment";
	else if (le64_to_cpu(hdr->magic) != PCACHE_KSET_MAGIC)
		why = "bad magic";
	else if (!last && (!nr || nr > PCACHE_KSET_KEYS_MAX))
		why = "key count out of range";
	else
		why = "crc mismatch or past the segment end";

	t0 = ktime_get_ns();
	ret = cache_kset_find_after(cache, pos, cache->wb_kset_buf, &found);
	*scan_ns = ktime_get_ns() - t0;
	if (!ret) {
		pcache_err("%s: replay: the key log ends at %u:%u (%s) but a valid kset of this log follows at %u:%u; refusing to start, replaying up to the damage would drop dirty data (run pcachectl check)",
			   cache->name, pos->seg, pos->off, why, found.seg, found.off);
		return -EUCLEAN;
	}
	if (why_ret != -ENOENT)
		pcache_warn("%s: replay: key log ends at a damaged kset at %u:%u (%s): a torn last write, or keys after it are lost",
			    cache->name, pos->seg, pos->off, why);
	return 0;
}

/*
 * cache_replay - rebuild the index, segment references and key_head from
 * the key log between key_tail and its end (the first kset failing magic
 * or CRC). Every kset and key is checked before use: see cache_kset_read()
 * and cache_key_decode(). Keys of a reclaimed segment (seg_gen below the
 * segment's generation) are stale and skipped; a key out of range, claiming
 * a newer generation or a key segment is corruption: the start is refused.
 * With data_crc, a dirty key whose data fails its crc stays indexed as
 * BAD (reads fail, writeback stops before it); a clean one punches its range
 * out of the index (reads go to the backing device). A live key not aligned
 * to the backing disk's logical block size (a cache written for a disk with
 * smaller sectors) could only become misaligned backing I/O: the start is
 * refused and the data stays in pmem.
 * Return: 0, or -EINVAL for keys misaligned to the backing disk, -EIO on a
 * media error, -EUCLEAN when the log ends (zero, damaged or foreign header)
 * before a valid kset of the same generation in the same segment (see
 * cache_replay_end()), the log ends at damage
 * before dirty_tail, a LAST kset links to an invalid segment, a kset has
 * unknown flags or a key is corrupt.
 */
static int cache_replay_log(struct pcache_cache *cache, struct pcache_key **spare)
{
	u64 began = ktime_get_ns();
	void *buf = cache->gc_kset_buf;
	struct pcache_kset_onmedia *hdr = buf;
	struct pcache_key_onmedia *k = buf + PCACHE_KSET_HDR_SIZE;
	struct cache_pos pos = cache->key_tail, bad_pos = { };
	u64 nksets = 0, nkeys = 0, nstale = 0, nbad = 0, ncorrupt = 0;
	u64 log_dirty_keys = 0, log_dirty_bytes = 0, scan_ns = 0;
	u32 lbs = bdev_logical_block_size(cache->backing_dev->bdev);
	u64 nmisaligned = 0, misaligned_off = 0;
	bool past_dirty = false, ends_damaged = false;
	struct pcache_key *key;
	struct cache_seg *s;
	u32 i, nr, next;
	int ret;

	cache->segs[pos.seg].state = CACHE_SEG_KEY;
	for (;;) {
		if (cache_pos_eq(&pos, &cache->dirty_tail))
			past_dirty = true;
		ret = cache_kset_read(cache, &pos, buf);
		if (ret == -EIO) {
			pcache_err("%s: replay: media error reading the kset at %u:%u",
				   cache->name, pos.seg, pos.off);
			return -EIO;
		}
		if (ret == -ERANGE) {
			pcache_warn("%s: replay: key log runs past the end of segment %u (offset %u) without a LAST kset, log ends there",
				    cache->name, pos.seg, pos.off);
			ends_damaged = true;
			break;
		}
		if (ret == -EOPNOTSUPP) {
			pcache_err("%s: replay: kset at %u:%u has unknown flags 0x%x (written by a newer format?); refusing to start (run pcachectl check)",
				   cache->name, pos.seg, pos.off, le16_to_cpu(hdr->flags));
			return -EUCLEAN;
		}
		if (ret == -ENOENT || ret == -EBADMSG || ret == -ESTALE) {
			ends_damaged = ret != -ENOENT;
			ret = cache_replay_end(cache, &pos, ret, hdr, &scan_ns);
			if (ret)
				return ret;
			break;
		}
		if (ret)
			break;
		nksets++;
		if (le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST) {
			next = le32_to_cpu(hdr->next_cache_seg);
			if (next >= cache->n_segs || cache->segs[next].state != CACHE_SEG_FREE) {
				/* sealed by its crc, so not a torn write: the rest of the log is unreachable */
				pcache_err("%s: replay: kset at %u:%u links to invalid segment %u; refusing to start, the log behind it is unreachable (run pcachectl check)",
					   cache->name, pos.seg, pos.off, next);
				return -EUCLEAN;
			}
			cache->segs[next].state = CACHE_SEG_KEY;
			pos.seg = next;
			pos.off = 0;
			continue;
		}
		nr = le16_to_cpu(hdr->key_num);
		for (i = 0; i < nr; i++) {
			key = cache_key_alloc(cache);
			if (!cache_key_decode(cache, &k[i], key)) {
				if (!ncorrupt++)
					bad_pos = pos;
				cache_key_free(cache, key);
				continue;
			}
			s = &cache->segs[key->seg];
			if (key->seg_gen < s->gen) {
				nstale++;
				cache_key_free(cache, key);
				continue;
			}
			if ((key->off | key->len) & (lbs - 1)) {
				if (!nmisaligned++)
					misaligned_off = key->off;
				cache_key_free(cache, key);
				continue;
			}
			if (key->seg_gen > s->gen || !cache_replay_ref(cache, key)) {
				if (!ncorrupt++)
					bad_pos = pos;
				cache_key_free(cache, key);
				continue;
			}
			nkeys++;
			if (!(key->flags & CACHE_KEY_F_CLEAN)) {
				log_dirty_keys++;
				log_dirty_bytes += key->len;
			}
			if (past_dirty && !(key->flags & CACHE_KEY_F_CLEAN)) {
				atomic64_inc(&cache->dirty_keys);
				atomic64_add(key->len, &cache->dirty_bytes);
				cache_replay_key(cache, key, true, &nbad, spare);
			} else {
				key->flags |= CACHE_KEY_F_CLEAN;
				cache_replay_key(cache, key, false, &nbad, spare);
			}
		}
		pos.off += PCACHE_KSET_HDR_SIZE + nr * PCACHE_KEY_SIZE;
		cond_resched();
	}
	cache->key_head = pos;

	if (ncorrupt) {
		/*
		 * The module never logs such a key (generations are persisted
		 * before a segment is reused), and GC and writeback would
		 * judge them differently from replay: refuse the device.
		 */
		pcache_err("%s: replay: %llu keys in valid ksets are out of range, claim a future generation or point into the key log (first in the kset at %u:%u); refusing to start",
			   cache->name, ncorrupt, bad_pos.seg, bad_pos.off);
		return -EUCLEAN;
	}
	if (nmisaligned) {
		pcache_err("%s: replay: %llu keys are not aligned to the backing disk's %u-byte logical blocks (first at backing offset %llu): the cache was written for a disk with smaller sectors; refusing to start, its data stays in pmem",
			   cache->name, nmisaligned, lbs, misaligned_off);
		return -EINVAL;
	}
	if (!past_dirty && ends_damaged) {
		/*
		 * Writeback only ever passes persisted ksets, so a log that
		 * ends at damage before dirty_tail lost the ksets in between
		 * (or key_tail is wrong): their dirty data would be dropped.
		 */
		pcache_err("%s: replay: the key log ends at damage before dirty_tail %u:%u; the ksets in between would be lost; refusing to start (run pcachectl check)",
			   cache->name, cache->dirty_tail.seg, cache->dirty_tail.off);
		return -EUCLEAN;
	}
	if (!past_dirty) {
		/* a clean log end: writing back again from key_tail is harmless */
		pcache_warn("%s: replay: dirty_tail %u:%u is not in the log, writing back from key_tail %u:%u",
			    cache->name, cache->dirty_tail.seg, cache->dirty_tail.off,
			    cache->key_tail.seg, cache->key_tail.off);
		cache->dirty_tail = cache->key_tail;
		cache_pos_persist(cache, false);
		/* writeback counts down every dirty key from key_tail on */
		atomic64_set(&cache->dirty_keys, log_dirty_keys);
		atomic64_set(&cache->dirty_bytes, log_dirty_bytes);
	}
	/* see cache_seg_gen_bump(): ksets of an earlier use never match later */
	for (i = 0; i < cache->n_segs; i++)
		if (cache->segs[i].state == CACHE_SEG_FREE)
			cache_seg_gen_bump(cache, i);
	pcache_info("%s: replayed %llu ksets, %llu keys (%llu stale, %llu bad), %lld dirty bytes, log end %u:%u (rest of the segment scanned in %llu us), in %llu ms",
		    cache->name, nksets, nkeys, nstale, nbad,
		    atomic64_read(&cache->dirty_bytes), pos.seg, pos.off, div_u64(scan_ns, 1000),
		    div_u64(ktime_get_ns() - began, NSEC_PER_MSEC));
	return 0;
}

int cache_replay(struct pcache_cache *cache)
{
	struct pcache_key *spare = NULL;
	int ret;

	ret = cache_replay_log(cache, &spare);
	if (spare)
		cache_key_free(cache, spare);
	return ret;
}

static void cache_free(struct pcache_cache *cache)
{
	u32 i;

	if (cache->wq)
		destroy_workqueue(cache->wq);
	cache_index_destroy(cache);
	if (cache->ksets)
		for (i = 0; i < cache->n_ksets; i++)
			kfree(cache->ksets[i].buf);
	kfree(cache->ksets);
	kfree(cache->heads);
	kvfree(cache->subtrees);
	kvfree(cache->segs);
	kfree(cache->wb_kset_buf);
	kfree(cache->gc_kset_buf);
	kvfree(cache->wb_keys);
	mempool_destroy(cache->page_pool);
	mempool_destroy(cache->key_pool);
	kfree(container_of(cache, struct pcache_cache_named, cache));
}

/*
 * Index entries come from their own slab, unmerged, so that /proc/slabinfo
 * shows what the index costs ("pcache_key"); each cache keeps a mempool
 * on it so that inserts in the I/O path never fail.
 */
static struct kmem_cache *pcache_key_slab;

int pcache_cache_module_init(void)
{
	pcache_key_slab = kmem_cache_create("pcache_key", sizeof(struct pcache_key), 0,
					    SLAB_NO_MERGE, NULL);
	return pcache_key_slab ? 0 : -ENOMEM;
}

void pcache_cache_module_exit(void)
{
	kmem_cache_destroy(pcache_key_slab);
}

static int cache_alloc_mem(struct pcache_cache *cache, u32 queues)
{
	u32 i;

	cache->segs = kvcalloc(cache->n_segs, sizeof(*cache->segs), GFP_KERNEL);
	cache->n_subtrees = DIV_ROUND_UP_ULL(cache->dev_size, PCACHE_SUBTREE_SIZE);
	cache->subtrees = kvcalloc(cache->n_subtrees, sizeof(*cache->subtrees), GFP_KERNEL);
	/*
	 * A 4 MiB region always logs into the same kset (log order = index
	 * order); several ksets per queue keep writers on different regions
	 * from meeting on one kset lock.
	 */
	cache->n_ksets = queues * PCACHE_KSETS_PER_QUEUE;
	cache->ksets = kcalloc(cache->n_ksets, sizeof(*cache->ksets), GFP_KERNEL);
	cache->heads = kcalloc(queues, sizeof(*cache->heads), GFP_KERNEL);
	cache->wb_kset_buf = kmalloc(PCACHE_KSET_SIZE_MAX, GFP_KERNEL);
	cache->gc_kset_buf = kmalloc(PCACHE_KSET_SIZE_MAX, GFP_KERNEL);
	cache->wb_batch_bytes = (u64)cache->n_segs * PCACHE_SEG_DATA_SIZE / 8;
	cache->wb_batch_ksets = clamp_t(u64, cache->wb_batch_bytes / (PCACHE_KSET_KEYS_MAX * SZ_4K),
					PCACHE_WB_BATCH_KSETS_MIN, PCACHE_WB_BATCH_KSETS_MAX);
	cache->wb_keys = kvcalloc(2 * cache->wb_batch_ksets * PCACHE_KSET_KEYS_MAX,
				  sizeof(*cache->wb_keys), GFP_KERNEL);
	cache->key_pool = mempool_create_slab_pool(1024, pcache_key_slab);
	cache->page_pool = mempool_create_page_pool(4, 0);
	if (!cache->segs || !cache->subtrees || !cache->ksets || !cache->heads ||
	    !cache->wb_kset_buf || !cache->gc_kset_buf || !cache->wb_keys ||
	    !cache->key_pool || !cache->page_pool)
		return -ENOMEM;

	for (i = 0; i < cache->n_subtrees; i++) {
		spin_lock_init(&cache->subtrees[i].lock);
		cache->subtrees[i].root = RB_ROOT;
	}
	for (i = 0; i < cache->n_ksets; i++) {
		struct cache_kset *kset = &cache->ksets[i];

		kset->cache = cache;
		spin_lock_init(&kset->lock);
		INIT_DELAYED_WORK(&kset->flush_work, cache_kset_flush_fn);
		kset->buf = kzalloc(PCACHE_KSET_SIZE_MAX, GFP_KERNEL);
		if (!kset->buf)
			return -ENOMEM;
	}
	for (i = 0; i < queues; i++) {
		spin_lock_init(&cache->heads[i].lock);
		cache->heads[i].seg = -1;
	}
	cache->wq = alloc_workqueue("pcache_%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0, cache->name);
	if (!cache->wq)
		return -ENOMEM;
	return 0;
}

int pcache_cache_start(struct pcache_backing_dev *backing_dev,
		       const struct pcache_cache_opts *opts)
{
	struct pcache_cache_named *named;
	struct pcache_cache *cache;
	u32 i, free_segs = 0;
	int ret;

	named = kzalloc(sizeof(*named), GFP_KERNEL);
	if (!named)
		return -ENOMEM;
	cache = &named->cache;
	snprintf(named->name, sizeof(named->name), "backing_dev%u", backing_dev->id);
	cache->name = named->name;
	cache->backing_dev = backing_dev;
	cache->cache_dev = backing_dev->cache_dev;
	cache->dev_size = backing_dev->dev_sectors << SECTOR_SHIFT;
	cache->data_crc = opts->data_crc;
	cache->gc_percent = min_t(u32, opts->gc_percent, PCACHE_GC_PERCENT_MAX);
	cache->n_segs = opts->n_segs;
	spin_lock_init(&cache->seg_lock);
	spin_lock_init(&cache->log_lock);
	spin_lock_init(&cache->pos_lock);
	init_waitqueue_head(&cache->space_wq);
	init_waitqueue_head(&cache->wb_wq);
	INIT_DELAYED_WORK(&cache->wb_work, cache_writeback_fn);
	INIT_WORK(&cache->gc_work, cache_gc_fn);
	INIT_WORK(&cache->clean_work, cache_clean_fn);
	ratelimit_state_init(&cache->write_err_rs, 5 * HZ, 1);
	ratelimit_set_flags(&cache->write_err_rs, RATELIMIT_MSG_ON_RELEASE);

	if (opts->n_segs < 3 || !opts->queues || opts->queues > PCACHE_QUEUES_MAX ||
	    !cache->dev_size) {
		pcache_err("%s: cannot start a cache of %u segments and %u queues",
			   cache->name, opts->n_segs, opts->queues);
		ret = -EINVAL;
		goto free;
	}
	ret = cache_alloc_mem(cache, opts->queues);
	if (ret) {
		pcache_err("%s: out of memory starting the cache", cache->name);
		goto free;
	}
	for (i = 0; i < cache->n_segs; i++) {
		if (opts->seg_ids[i] >= cache->cache_dev->seg_num) {
			pcache_err("%s: segment id %u out of range", cache->name, opts->seg_ids[i]);
			ret = -EINVAL;
			goto free;
		}
		cache->segs[i].phys = opts->seg_ids[i];
	}
	/* the key log may use the last free segments, data may not */
	cache->data_reserve = cache->n_segs >= 16 ? 2 : 1;
	/*
	 * A data head keeps a partly filled segment; a writer only waits after
	 * its own head let go of a full one. Fewer heads than queues on small
	 * caches, so the heads can never hold all the space GC could give.
	 */
	cache->n_heads = clamp_t(u32, (cache->n_segs - 1 - cache->data_reserve) / 2, 1,
				 opts->queues);

	if (opts->new_cache) {
		for (i = 0; i < cache->n_segs; i++)
			cache_seg_gen_init(cache, i);
		cache_pos_init(cache, true);
		cache_pos_init(cache, false);
		cache_log_init(cache);
		cache->segs[0].state = CACHE_SEG_KEY;
	} else {
		for (i = 0; i < cache->n_segs; i++) {
			ret = cache_seg_gen_load(cache, i);
			if (ret)
				goto free;
		}
		ret = cache_pos_load(cache, true);
		if (!ret)
			ret = cache_pos_load(cache, false);
		if (!ret)
			ret = cache_replay(cache);
		if (ret)
			goto free;
	}
	for (i = 0; i < cache->n_segs; i++)
		free_segs += cache->segs[i].state == CACHE_SEG_FREE;
	cache->free_segs = free_segs;

	backing_dev->cache = cache;
	cache_writeback_kick(cache);
	cache_gc_kick(cache);
	return 0;
free:
	cache_free(cache);
	return ret;
}

/*
 * Persist the open ksets. With the key log full this needs writeback and
 * GC: wait at most 60 s, and not at all once writeback is stalled.
 */
static void cache_persist_for_stop(struct pcache_cache *cache)
{
	unsigned long deadline = jiffies + 60 * HZ;
	u32 i;

	for (i = 0; i < cache->n_ksets; i++)
		cancel_delayed_work_sync(&cache->ksets[i].flush_work);
	while (cache_ksets_persist_all(cache) == -ENOSPC) {
		if (time_after(jiffies, deadline) || cache_wb_stalled(cache)) {
			pcache_err("%s: stop: key log full, last keys not persisted",
				   cache->name);
			break;
		}
		cache_writeback_kick(cache);
		cache_gc_kick(cache);
		wait_event_timeout(cache->space_wq, READ_ONCE(cache->free_segs) > 0, HZ);
	}
}

/*
 * Wait for writeback to reach the end of the log. Interruptible: a signal
 * to the caller ends the wait with -EINTR. Bounded: -EIO once writeback has
 * failed without progress for stall_timeout_s (cache_wb_stalled()), and the
 * drain itself has lasted that long. The cache keeps running either way.
 */
static int cache_writeback_all(struct pcache_cache *cache)
{
	unsigned long logged = jiffies, started = jiffies;
	bool persisted;
	long left;

	WRITE_ONCE(cache->wb_drain, true);
	/* a failing writeback retries now rather than at the end of its backoff */
	WRITE_ONCE(cache->wb_retry_at, jiffies);
	for (;;) {
		/*
		 * Keys still in memory (the log was full when the stop began)
		 * are not behind key_head, so cache_is_clean() cannot see them:
		 * clean only counts once every kset is in the log.
		 */
		persisted = cache_ksets_persist_all(cache) == 0;
		mod_delayed_work(cache->wq, &cache->wb_work, 0);
		left = wait_event_interruptible_timeout(cache->wb_wq, cache_is_clean(cache), HZ);
		if (left > 0 && persisted)
			return 0;
		if (left < 0) {
			pcache_info("%s: stop: writeback interrupted, %llu MiB dirty", cache->name,
				    DIV_ROUND_UP_ULL(atomic64_read(&cache->dirty_bytes), SZ_1M));
			return -EINTR;
		}
		/*
		 * Writeback that failed before the drain began (the disk may just
		 * have recovered) gets stall_timeout_s of the drain's own time:
		 * its first retry batch may take longer than the wait above.
		 */
		if (cache_wb_stalled(cache) &&
		    time_after(jiffies, started + cache_wb_stall_secs() * HZ)) {
			pcache_err("%s: stop: writeback failing (%d) without progress for over %u s, %llu MiB dirty stay in the cache",
				   cache->name, READ_ONCE(cache->wb_last_err), cache_wb_stall_secs(),
				   DIV_ROUND_UP_ULL(atomic64_read(&cache->dirty_bytes), SZ_1M));
			return -EIO;
		}
		if (time_after(jiffies, logged + 5 * HZ)) {
			logged = jiffies;
			pcache_info("%s: writeback %llu MiB left", cache->name,
				    DIV_ROUND_UP_ULL(atomic64_read(&cache->dirty_bytes), SZ_1M));
		}
	}
}

int pcache_cache_drain(struct pcache_cache *cache)
{
	int ret;

	ret = cache_writeback_all(cache);
	if (!ret)
		ret = backing_dev_flush(cache->backing_dev);
	WRITE_ONCE(cache->wb_drain, false);
	return ret;
}

int pcache_cache_stop(struct pcache_backing_dev *backing_dev, bool writeback_all)
{
	struct pcache_cache *cache = backing_dev->cache;
	u32 i;
	int ret = 0;

	if (!cache)
		return 0;

	cache_persist_for_stop(cache);
	if (writeback_all) {
		ret = cache_writeback_all(cache);
		if (!ret)
			ret = backing_dev_flush(backing_dev);
		if (!ret)
			pcache_info("%s: cache clean", cache->name);
	}

	WRITE_ONCE(cache->stopping, true);
	wake_up_all(&cache->space_wq);
	flush_workqueue(cache->wq);
	cancel_delayed_work_sync(&cache->wb_work);
	cancel_work_sync(&cache->gc_work);
	cancel_work_sync(&cache->clean_work);
	for (i = 0; i < cache->n_ksets; i++)
		cancel_delayed_work_sync(&cache->ksets[i].flush_work);
	/* anything appended after the persist above (none expected) goes too */
	if (cache_ksets_persist_all(cache)) {
		pcache_err("%s: stop: key log full, the last keys could not be persisted",
			   cache->name);
		if (!ret)
			ret = -EIO;	/* not clean: the record must not say stopped */
	}

	backing_dev->cache = NULL;
	cache_free(cache);
	return ret;
}

void pcache_cache_set_gc_percent(struct pcache_cache *cache, u32 gc_percent)
{
	WRITE_ONCE(cache->gc_percent, min_t(u32, gc_percent, PCACHE_GC_PERCENT_MAX));
	cache_gc_kick(cache);
}

u32 pcache_cache_used_segs(struct pcache_cache *cache)
{
	return cache_used_segs(cache);
}

ssize_t pcache_cache_stats_show(struct pcache_cache *cache, char *buf)
{
	bool failing = READ_ONCE(cache->wb_failing);
	u32 failing_s = failing ? jiffies_to_msecs(jiffies - READ_ONCE(cache->wb_failing_since)) / 1000 : 0;
	struct cache_pos kt, dt, head;

	spin_lock(&cache->pos_lock);
	kt = cache->key_tail;
	dt = cache->dirty_tail;
	spin_unlock(&cache->pos_lock);
	spin_lock(&cache->log_lock);
	head = cache->key_head;
	spin_unlock(&cache->log_lock);

	return sysfs_emit(buf,
			  "hits %lld\nmisses %lld\nhit_bytes %lld\nmiss_bytes %lld\n"
			  "fills %lld\ndirty_keys %lld\ndirty_bytes %lld\n"
			  "writeback_bytes %lld\nwriteback_seg %u\nwriteback_off %u\n"
			  "key_tail_seg %u\nkey_tail_off %u\nkey_head_seg %u\nkey_head_off %u\n"
			  "key_segs_chained %lld\n"
			  "used_segs %u\nfree_segs %u\nspace_waits %lld\n"
			  "gc_runs %lld\nsegs_freed %lld\n"
			  "data_crc_errors %lld\nwriteback_errors %lld\n"
			  "writeback_failing %u\nwriteback_last_error %d\nwriteback_failing_s %u\n"
			  "write_errors %lld\n",
			  atomic64_read(&cache->hits), atomic64_read(&cache->misses),
			  atomic64_read(&cache->hit_bytes), atomic64_read(&cache->miss_bytes),
			  atomic64_read(&cache->fills), atomic64_read(&cache->dirty_keys),
			  atomic64_read(&cache->dirty_bytes), atomic64_read(&cache->writeback_bytes),
			  dt.seg, dt.off, kt.seg, kt.off, head.seg, head.off,
			  atomic64_read(&cache->key_segs),
			  cache_used_segs(cache), READ_ONCE(cache->free_segs),
			  atomic64_read(&cache->space_waits),
			  atomic64_read(&cache->gc_runs), atomic64_read(&cache->segs_freed),
			  atomic64_read(&cache->data_crc_errors),
			  atomic64_read(&cache->writeback_errors),
			  failing, -READ_ONCE(cache->wb_last_err), failing_s,
			  atomic64_read(&cache->write_errors));
}
