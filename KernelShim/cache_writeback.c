// SPDX-License-Identifier: GPL-2.0
/*
 * cache_writeback.c - write dirty keys back in log order.
 *
 * The worker takes up to wb_batch_ksets ksets from dirty_tail and
 * folds their dirty keys, in log order, into a batch tree where the later
 * key wins every overlap (as in the index, but only within the batch).
 * What is left is disjoint: it is written from pmem to the backing device
 * all at once, in offset order, adjacent pieces merged; then the backing
 * device is flushed and only then dirty_tail advances and is persisted.
 * After a crash the unfinished batch is simply written again.
 *
 * Keys overwritten by a later key of the same batch are not written; every
 * other dirty key is, overwritten later or not, so that after each batch
 * the backing device holds a prefix of the write history (old data, then
 * new): if the pmem device is ever lost, the backing disk is an older but
 * consistent image. Only the states inside a batch, which no flush ever
 * exposed as durable, are skipped.
 *
 * Writeback runs when the cache has been idle for writeback_idle_ms, when
 * used segments pass half of gc_percent, when writers wait for space, and
 * always to the end on a stop with flush=1: until then the cache absorbs bursts
 * and rewrites without competing with them for the CPU and the disk. At
 * idle time it takes small batches (it stops at the end of one when I/O
 * comes back), otherwise batches of up to an eighth of the cache, with at
 * most PCACHE_WB_INFLIGHT writes in flight. A stop that keeps the cache
 * ends a batch early and waits only for the writes in flight.
 */
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/moduleparam.h>

#include "cache_internal.h"

struct cache_wb_io {
	atomic_t		pending;	/* writes in flight, + 1 held by the worker */
	blk_status_t		status;
	struct completion	done;
	wait_queue_head_t	window;		/* a write completed */
};

/*
 * Writes in flight per batch: enough for the disk's queue (up to 32 MiB of
 * PCACHE_WB_IO_MAX pieces), and a bound on what a stop that keeps the cache
 * waits for (the rest of a batch is not issued once the cache is stopping).
 */
#define PCACHE_WB_INFLIGHT	64

static void cache_wb_done(void *priv, blk_status_t status)
{
	struct cache_wb_io *io = priv;

	if (status)
		cmpxchg(&io->status, BLK_STS_OK, status);
	/* before the decrement: @io lives on the worker's stack until pending is 0 */
	wake_up(&io->window);
	if (atomic_dec_and_test(&io->pending))
		complete(&io->done);
}

/* Wait for every write issued so far; returns 0 or -EIO and rearms @io. */
static int cache_wb_wait(struct cache_wb_io *io)
{
	int ret;

	if (!atomic_dec_and_test(&io->pending))
		wait_for_completion_io(&io->done);
	ret = io->status ? -EIO : 0;
	atomic_set(&io->pending, 1);
	reinit_completion(&io->done);
	io->status = BLK_STS_OK;
	return ret;
}

void cache_pos_persist(struct pcache_cache *cache, bool key_tail)
{
	struct pcache_pos_onmedia rec = { };
	struct cache_pos pos;
	void *slot0;
	u32 *seq;

	spin_lock(&cache->pos_lock);
	pos = key_tail ? cache->key_tail : cache->dirty_tail;
	spin_unlock(&cache->pos_lock);

	seq = key_tail ? &cache->key_tail_seq : &cache->dirty_tail_seq;
	rec.header.seq = cpu_to_le32(*seq);	/* meta_write adds 1 */
	rec.cache_seg = cpu_to_le32(pos.seg);
	rec.seg_off = cpu_to_le32(pos.off);
	slot0 = cache_seg_base(cache, 0) +
		(key_tail ? PCACHE_SEG_KEY_TAIL_OFF : PCACHE_SEG_DIRTY_TAIL_OFF);
	pcache_meta_write(slot0, PCACHE_SEG_POS_STRIDE, sizeof(rec), &rec,
			  key_tail ? &cache->key_tail_slot : &cache->dirty_tail_slot);
	*seq = le32_to_cpu(rec.header.seq);
}

bool cache_is_clean(struct pcache_cache *cache)
{
	struct cache_pos head, tail;

	spin_lock(&cache->log_lock);
	head = cache->key_head;
	spin_unlock(&cache->log_lock);
	spin_lock(&cache->pos_lock);
	tail = cache->dirty_tail;
	spin_unlock(&cache->pos_lock);
	return cache_pos_eq(&head, &tail);
}

void cache_writeback_kick(struct pcache_cache *cache)
{
	mod_delayed_work(cache->wq, &cache->wb_work, 0);
}

/*
 * New dirty data: make sure the worker looks at it, but leave a pending
 * recheck (PCACHE_WB_RECHECK) alone rather than waking the worker for
 * every kset while writers are busy.
 */
void cache_writeback_nudge(struct pcache_cache *cache)
{
	queue_delayed_work(cache->wq, &cache->wb_work, 0);
}

/* Idle time before background writeback starts (a tunable, and a testing aid). */
static unsigned int writeback_idle_ms = 1000;
module_param(writeback_idle_ms, uint, 0644);
MODULE_PARM_DESC(writeback_idle_ms,
		 "milliseconds without I/O before writeback starts below the watermark (default 1000)");

static bool cache_wb_wanted(struct pcache_cache *cache)
{
	return READ_ONCE(cache->wb_drain) || cache_space_pressure(cache, 50) ||
	       time_after(jiffies, READ_ONCE(cache->last_io) +
			  msecs_to_jiffies(READ_ONCE(writeback_idle_ms)));
}

/*
 * How long writeback may fail without progress before whoever waits on it
 * gives up: writers and flushes waiting for cache space fail with EIO, a
 * backing-stop returns EIO (the device keeps running). A disk that is
 * merely slow never trips it: only failed attempts start the clock.
 */
static unsigned int stall_timeout_s = 30;
module_param(stall_timeout_s, uint, 0644);
MODULE_PARM_DESC(stall_timeout_s,
		 "seconds writeback may fail without progress before writes waiting for cache space, flushes and backing-stop fail with EIO (default 30, min 1)");

u32 cache_wb_stall_secs(void)
{
	return max(READ_ONCE(stall_timeout_s), 1U);
}

/* Writeback has been failing, with no batch reaching the disk, for stall_timeout_s. */
bool cache_wb_stalled(struct pcache_cache *cache)
{
	return READ_ONCE(cache->wb_failing) &&
	       time_after(jiffies, READ_ONCE(cache->wb_failing_since) +
			  cache_wb_stall_secs() * HZ);
}

/*
 * A batch failed: dirty_tail stays, the same batch is retried after a
 * backoff (1 s doubling to 30 s; kicks before then do not retry early).
 * One log line when writeback starts failing, then at most one a minute.
 */
static void cache_wb_error(struct pcache_cache *cache, const char *what, int err)
{
	unsigned long now = jiffies;

	atomic64_inc(&cache->writeback_errors);
	WRITE_ONCE(cache->wb_last_err, err);
	if (!cache->wb_failing) {
		WRITE_ONCE(cache->wb_failing_since, now);
		WRITE_ONCE(cache->wb_failing, true);
		cache->wb_backoff = PCACHE_WB_BACKOFF_MIN;
		cache->wb_err_logged_at = now;
		pcache_err("%s: writeback failing: %s (%d); dirty data stays in the cache, reads of it work, retrying with backoff",
			   cache->name, what, err);
	} else {
		cache->wb_backoff = min(cache->wb_backoff * 2, PCACHE_WB_BACKOFF_MAX);
		if (time_after(now, cache->wb_err_logged_at + PCACHE_WB_ERR_RELOG)) {
			cache->wb_err_logged_at = now;
			pcache_err("%s: writeback still failing after %u s: %s (%d), %lld errors, %llu MiB dirty",
				   cache->name, jiffies_to_msecs(now - cache->wb_failing_since) / 1000,
				   what, err, atomic64_read(&cache->writeback_errors),
				   DIV_ROUND_UP_ULL(atomic64_read(&cache->dirty_bytes), SZ_1M));
		}
	}
	WRITE_ONCE(cache->wb_retry_at, now + cache->wb_backoff);
	queue_delayed_work(cache->wq, &cache->wb_work, cache->wb_backoff);
}

/* A batch reached the disk (or there was nothing to write): progress. */
static void cache_wb_ok(struct pcache_cache *cache)
{
	if (!cache->wb_failing)
		return;
	pcache_info("%s: writeback recovered after %u s of errors",
		    cache->name, jiffies_to_msecs(jiffies - cache->wb_failing_since) / 1000);
	WRITE_ONCE(cache->wb_failing, false);
	cache->wb_backoff = 0;
}

/* A batch: its tree and the entries of wb_keys used so far. */
struct cache_wb_batch {
	struct cache_subtree	tree;
	u32			used;
};

/*
 * A dirty key failed its data_crc (or its data could not be read). If an
 * index entry still points at its data (same segment, generation and
 * logged extent), that data is what reads of the range must return: mark
 * those entries BAD (reads fail with EIO) and return true, for writeback
 * must not pass the key (GC would free it, and reads would silently return
 * the older data of the backing device). Once every such entry has been
 * overwritten, return false: the key is then just not written back.
 * Counted and logged once, when its entries are first marked.
 */
static bool cache_wb_bad_key(struct pcache_cache *cache, const struct pcache_key *key, int err)
{
	struct cache_subtree *st = cache_subtree_of(cache, key->off);
	bool current_data = false, newly = false;
	struct pcache_key *t;
	struct rb_node *n;

	spin_lock(&st->lock);
	for (t = cache_key_first_after(st, key->off); t && t->off < cache_key_end(key);
	     t = n ? rb_entry(n, struct pcache_key, node) : NULL) {
		n = rb_next(&t->node);
		if (t->seg != key->seg || t->seg_gen != key->seg_gen || t->crc_off != key->seg_off)
			continue;
		current_data = true;
		if (!(t->flags & CACHE_KEY_F_BAD))
			newly = true;
		t->flags |= CACHE_KEY_F_BAD;
	}
	spin_unlock(&st->lock);

	if (current_data && !newly)
		return true;
	atomic64_inc(&cache->data_crc_errors);
	pr_err_ratelimited("pcache: %s: writeback: %s at backing offset %llu (cache segment %u offset %u len %u): %s\n",
			   cache->name, err ? "media error" : "data_crc mismatch", key->off, key->seg,
			   key->seg_off, key->len,
			   current_data ? "reads of it fail with EIO and writeback stops before it until it is overwritten" :
			   "overwritten since, not written back");
	return current_data;
}

/*
 * Fold one kset's dirty keys into @b. Keys whose data_crc no longer
 * matches are left out; if such a key's data is still in use, the kset is
 * not folded any further (see cache_wb_bad_key()).
 * Return: true if writeback must stop before this kset (what it folded
 * already is a prefix of the log and harmless to write); otherwise its
 * non-CLEAN keys and their bytes are added to @keys/@bytes.
 */
static bool cache_wb_kset(struct pcache_cache *cache, struct cache_wb_batch *b,
			  u64 *keys, u64 *bytes)
{
	struct pcache_kset_onmedia *hdr = cache->wb_kset_buf;
	struct pcache_key_onmedia *k = cache->wb_kset_buf + PCACHE_KSET_HDR_SIZE;
	u32 i, nr = le16_to_cpu(hdr->key_num), crc;
	struct pcache_key *key, *spare;
	u64 nkeys = 0, nbytes = 0;
	int ret;

	/* the caller left room for two entries (a key and a split) per key */
	for (i = 0; i < nr; i++) {
		key = &cache->wb_keys[b->used];
		if (!cache_key_decode(cache, &k[i], key)) {
			pcache_err("%s: writeback: skipping out-of-range key %u of a kset",
				   cache->name, i);
			continue;
		}
		if (key->flags & CACHE_KEY_F_CLEAN)
			continue;
		nkeys++;
		nbytes += key->len;
		if (cache_key_stale(cache, key))
			continue;
		if (cache->data_crc) {
			ret = cache_data_crc(cache, key->seg, key->seg_off, key->len, &crc);
			if (ret || crc != key->data_crc) {
				if (cache_wb_bad_key(cache, key, ret))
					return true;
				continue;
			}
		}
		RB_CLEAR_NODE(&key->node);
		spare = &cache->wb_keys[b->used + 1];
		cache_key_insert_tree(cache, &b->tree, key, &spare, false);
		b->used += spare ? 1 : 2;
	}
	*keys += nkeys;
	*bytes += nbytes;
	return false;
}

/* Write @len bytes of cache segment @seg at @seg_off to backing offset @off. */
static void cache_wb_write(struct pcache_cache *cache, struct cache_wb_io *io, u32 seg,
			   u32 seg_off, u64 off, u32 len)
{
	atomic_inc(&io->pending);
	backing_dev_write_pmem(cache->backing_dev, cache_data_addr(cache, seg, seg_off),
			       off, len, cache_wb_done, io);
	atomic64_add(len, &cache->writeback_bytes);
}

/*
 * Wait until a write of the batch may be added (at most PCACHE_WB_INFLIGHT
 * in flight). Return: false if the cache is stopping: the rest of the batch
 * is not issued, dirty_tail stays, the next start writes the batch again.
 */
static bool cache_wb_window(struct pcache_cache *cache, struct cache_wb_io *io)
{
	if (READ_ONCE(cache->stopping))
		return false;
	wait_event(io->window, atomic_read(&io->pending) <= PCACHE_WB_INFLIGHT);
	return true;
}

/*
 * Issue every piece of @b, merging neighbours adjacent on both devices.
 * Return: false if issuing stopped early because the cache is stopping.
 */
static bool cache_wb_issue(struct pcache_cache *cache, struct cache_wb_batch *b,
			   struct cache_wb_io *io)
{
	struct pcache_key *cur = NULL, *key;
	struct blk_plug plug;
	struct rb_node *n;
	u64 off = 0;
	u32 len = 0, seg = 0, seg_off = 0;
	bool whole = true;

	/* one plug: the backing queue sees the batch in runs, not bio by bio */
	blk_start_plug(&plug);
	for (n = rb_first(&b->tree.root);; n = rb_next(n)) {
		key = n ? rb_entry(n, struct pcache_key, node) : NULL;
		if (key && cur && key->off == off + len && key->seg == seg &&
		    key->seg_off == seg_off + len && len + key->len <= PCACHE_WB_IO_MAX) {
			len += key->len;
			continue;
		}
		if (cur) {
			whole = cache_wb_window(cache, io);
			if (!whole)
				break;
			cache_wb_write(cache, io, seg, seg_off, off, len);
		}
		if (!key)
			break;
		cur = key;
		off = key->off;
		len = key->len;
		seg = key->seg;
		seg_off = key->seg_off;
		/* a key longer than a bio goes out in PCACHE_WB_IO_MAX pieces */
		while (len > PCACHE_WB_IO_MAX) {
			whole = cache_wb_window(cache, io);
			if (!whole)
				goto out;
			cache_wb_write(cache, io, seg, seg_off, off, PCACHE_WB_IO_MAX);
			off += PCACHE_WB_IO_MAX;
			seg_off += PCACHE_WB_IO_MAX;
			len -= PCACHE_WB_IO_MAX;
		}
	}
out:
	blk_finish_plug(&plug);
	return whole;
}

void cache_writeback_fn(struct work_struct *work)
{
	struct pcache_cache *cache = container_of(to_delayed_work(work), struct pcache_cache,
						  wb_work);
	struct pcache_kset_onmedia *hdr = cache->wb_kset_buf;
	struct cache_pos head, start, cur;
	struct cache_wb_batch b;
	struct cache_wb_io io;
	u64 keys, bytes, max_bytes;
	unsigned long now, retry_at;
	u32 nk, next, max_ksets;
	bool blocked, whole;
	int ret;

	atomic_set(&io.pending, 1);
	io.status = BLK_STS_OK;
	init_completion(&io.done);
	init_waitqueue_head(&io.window);

	/* failing: kicks (waiters, kset flushes) do not retry before the backoff */
	now = jiffies;
	retry_at = READ_ONCE(cache->wb_retry_at);
	if (READ_ONCE(cache->wb_failing) && time_before(now, retry_at)) {
		queue_delayed_work(cache->wq, &cache->wb_work, retry_at - now);
		return;
	}

	while (!READ_ONCE(cache->stopping)) {
		spin_lock(&cache->log_lock);
		head = cache->key_head;
		spin_unlock(&cache->log_lock);
		spin_lock(&cache->pos_lock);
		start = cache->dirty_tail;
		spin_unlock(&cache->pos_lock);
		if (cache_pos_eq(&start, &head))
			break;
		if (!cache_wb_wanted(cache)) {
			/* look again later: the cache may have become idle */
			queue_delayed_work(cache->wq, &cache->wb_work, PCACHE_WB_RECHECK);
			break;
		}

		/*
		 * Writeback at idle time takes small batches, so that it yields
		 * soon when I/O comes back; under space pressure or on a drain,
		 * large ones, for throughput.
		 */
		if (READ_ONCE(cache->wb_drain) || cache_space_pressure(cache, 50)) {
			max_ksets = cache->wb_batch_ksets;
			max_bytes = cache->wb_batch_bytes;
		} else {
			max_ksets = PCACHE_WB_BATCH_KSETS_MIN;
			max_bytes = min_t(u64, cache->wb_batch_bytes,
					  PCACHE_WB_BATCH_KSETS_MIN * PCACHE_KSET_KEYS_MAX * SZ_4K);
		}
		keys = 0;
		bytes = 0;
		b.tree.root = RB_ROOT;
		b.used = 0;
		ret = 0;
		blocked = false;
		cur = start;
		for (nk = 0; nk < max_ksets && !cache_pos_eq(&cur, &head); nk++) {
			if (bytes >= max_bytes)
				break;
			ret = cache_kset_read(cache, &cur, hdr);
			if (ret)
				break;
			if (le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST) {
				next = le32_to_cpu(hdr->next_cache_seg);
				if (next >= cache->n_segs ||
				    READ_ONCE(cache->segs[next].state) != CACHE_SEG_KEY) {
					ret = -ERANGE;
					break;
				}
				cur.seg = next;
				cur.off = 0;
				continue;
			}
			if (cache_wb_kset(cache, &b, &keys, &bytes)) {
				blocked = true;
				break;
			}
			cur.off += PCACHE_KSET_HDR_SIZE + le16_to_cpu(hdr->key_num) * PCACHE_KEY_SIZE;
		}
		/* a bad kset: write back what precedes it; the next round reports it */
		if (ret && cache_pos_eq(&cur, &start)) {
			cache_wb_error(cache, "bad kset in the log", ret);
			break;
		}
		/* a bad dirty key still in use: look again later (it may be overwritten) */
		if (blocked && cache_pos_eq(&cur, &start)) {
			cache_wb_error(cache, "dirty data failing data_crc is still in use", -EBADMSG);
			break;
		}
		whole = cache_wb_issue(cache, &b, &io);
		ret = cache_wb_wait(&io);
		if (ret) {
			cache_wb_error(cache, "backing write failed", ret);
			break;
		}
		if (!whole)
			break;		/* stopping: this batch is written again at the next start */
		ret = RB_EMPTY_ROOT(&b.tree.root) ? 0 : backing_dev_flush(cache->backing_dev);
		if (ret) {
			cache_wb_error(cache, "backing flush failed", ret);
			break;
		}
		cache_wb_ok(cache);

		spin_lock(&cache->pos_lock);
		cache->dirty_tail = cur;
		spin_unlock(&cache->pos_lock);
		cache_pos_persist(cache, false);
		atomic64_sub(keys, &cache->dirty_keys);
		atomic64_sub(bytes, &cache->dirty_bytes);
		wake_up_all(&cache->wb_wq);
		cache_gc_kick(cache);
		cond_resched();
	}
	wake_up_all(&cache->wb_wq);
}
