/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cache_internal.h - objects private to the cache engine (cache*.c).
 *
 * Lock order (outer first); none of these is taken from interrupt context:
 *
 *   subtree->lock -> kset->lock -> cache->log_lock -> cache->seg_lock
 *   head->lock -> cache->seg_lock
 *
 * Segment references: a data segment's refs count the logged keys that
 * point into it and have not been garbage-collected yet, plus one while a
 * data head allocates from it, plus the references that head took ahead
 * and has not handed out yet (cache_head.credit). At zero the segment is
 * queued for reclaim: the GC worker bumps and persists its generation,
 * which makes every index entry still pointing into it stale, and only
 * then frees it.
 */
#ifndef PCACHE_CACHE_INTERNAL_H
#define PCACHE_CACHE_INTERNAL_H

#include <linux/rbtree.h>
#include <linux/workqueue.h>
#include <linux/wait.h>
#include <linux/mempool.h>
#include <linux/atomic.h>
#include <linux/ratelimit.h>

#include "cache.h"

/* Index subtree span: a key never crosses it. */
#define PCACHE_SUBTREE_SHIFT	22
#define PCACHE_SUBTREE_SIZE	(1U << PCACHE_SUBTREE_SHIFT)

#define PCACHE_KSET_HDR_SIZE	((u32)sizeof(struct pcache_kset_onmedia))
#define PCACHE_KEY_SIZE		((u32)sizeof(struct pcache_key_onmedia))
#define PCACHE_KSET_FLUSH_DELAY	HZ
#define PCACHE_KSETS_PER_QUEUE	8

/*
 * Writeback issues at most this many bytes per bio. A batch takes ksets
 * until it holds an eighth of the cache's data or wb_batch_ksets ksets
 * (an eighth of the cache in 4 KiB keys, within these bounds); its
 * entries (each key, plus one split) live in a preallocated array.
 * Larger batches fold more overwrites and merge more neighbours; the
 * byte bound keeps GC from waiting long for dirty_tail to move.
 */
#define PCACHE_WB_IO_MAX	(512U * 1024)
#define PCACHE_WB_BATCH_KSETS_MIN	16
#define PCACHE_WB_BATCH_KSETS_MAX	256
/* How often a waiting writeback looks again for idle time or a full cache. */
#define PCACHE_WB_RECHECK	(HZ / 4)
/* A failing writeback retries after 1 s, doubling up to 30 s. */
#define PCACHE_WB_BACKOFF_MIN	HZ
#define PCACHE_WB_BACKOFF_MAX	(30 * HZ)
/* A writeback still failing is logged again at most this often. */
#define PCACHE_WB_ERR_RELOG	(60 * HZ)

enum cache_seg_state {
	CACHE_SEG_FREE = 0,
	CACHE_SEG_DATA,		/* a data head or logged keys use it */
	CACHE_SEG_KEY,		/* holds ksets of the key log */
	CACHE_SEG_RECLAIM,	/* unused; GC bumps its gen, then frees it */
};

struct cache_seg {
	u32		phys;		/* physical segment id */
	u32		state;		/* enum cache_seg_state, under seg_lock */
	u32		refs;		/* under seg_lock */
	int		gen_slot;	/* slot of the latest gen copy */
	u32		gen_seq;	/* its seq */
	u64		gen;		/* READ_ONCE by readers; written under seg_lock */
};

/* A position in the key log: chain index and byte offset in its data area. */
struct cache_pos {
	u32		seg;
	u32		off;
};

static inline bool cache_pos_eq(const struct cache_pos *a, const struct cache_pos *b)
{
	return a->seg == b->seg && a->off == b->off;
}

/* Index entry flags (in memory only). */
#define CACHE_KEY_F_CLEAN	BIT(0)	/* read fill or written back */
#define CACHE_KEY_F_BAD		BIT(1)	/* data_crc mismatch found at replay */

/*
 * struct pcache_key - one extent of the in-memory index. Entries of a
 * subtree never overlap. [crc_off, crc_off + crc_len) is the extent of the
 * logged key this entry was cut from, which its data_crc covers.
 */
struct pcache_key {
	struct rb_node	node;
	u64		off;		/* backing byte offset */
	u32		len;
	u32		flags;		/* CACHE_KEY_F_* */
	u32		seg;		/* chain index */
	u32		seg_off;	/* data-area offset of byte @off */
	u64		seg_gen;
	u32		crc_off;
	u32		crc_len;
	u32		data_crc;
};

static inline u64 cache_key_end(const struct pcache_key *key)
{
	return key->off + key->len;
}

struct cache_subtree {
	spinlock_t	lock;
	struct rb_root	root;
	u64		eseq;		/* bumped when a stale entry is erased */
};

struct cache_kset {
	struct pcache_cache	*cache;
	spinlock_t		lock;
	u32			nr;
	u32			dirty_keys;
	u64			dirty_bytes;
	struct delayed_work	flush_work;
	struct pcache_kset_onmedia *buf;	/* header + PCACHE_KSET_KEYS_MAX keys */
};

/* References a data head takes on its segment at a time, for the extents it hands out. */
#define PCACHE_HEAD_CREDIT	64

struct cache_head {
	spinlock_t	lock;
	int		seg;		/* -1: none */
	u32		off;		/* next free byte of the data area */
	u32		credit;		/* references taken but not handed out yet */
};

struct pcache_cache {
	struct pcache_backing_dev *backing_dev;
	struct pcache_cache_dev	*cache_dev;
	const char		*name;		/* for log lines */
	u64			dev_size;	/* backing bytes */
	bool			data_crc;
	u32			gc_percent;
	u32			n_segs;
	struct cache_seg	*segs;

	spinlock_t		seg_lock;
	u32			free_segs;
	u32			alloc_hint;
	u32			data_reserve;	/* free segments kept for the key log */
	atomic_t		space_waiters;
	wait_queue_head_t	space_wq;

	u32			n_subtrees;
	struct cache_subtree	*subtrees;

	u32			n_ksets;
	struct cache_kset	*ksets;
	u32			n_heads;
	struct cache_head	*heads;

	spinlock_t		log_lock;
	struct cache_pos	key_head;

	/* key_tail is moved only by GC, dirty_tail only by writeback */
	spinlock_t		pos_lock;
	struct cache_pos	key_tail;
	struct cache_pos	dirty_tail;
	int			key_tail_slot;
	int			dirty_tail_slot;
	u32			key_tail_seq;
	u32			dirty_tail_seq;

	mempool_t		*key_pool;
	mempool_t		*page_pool;

	struct workqueue_struct	*wq;
	struct delayed_work	wb_work;
	struct work_struct	gc_work;
	struct work_struct	clean_work;
	wait_queue_head_t	wb_wq;		/* writeback progress */
	void			*wb_kset_buf;
	struct pcache_key	*wb_keys;	/* 2 * wb_batch_ksets * PCACHE_KSET_KEYS_MAX */
	u32			wb_batch_ksets;
	u64			wb_batch_bytes;
	void			*gc_kset_buf;
	/*
	 * Writeback failure state: written by the writeback worker only
	 * (wb_retry_at also by a drain), read anywhere with READ_ONCE.
	 * wb_failing is set by the first error after progress and cleared
	 * by the next batch that reaches the disk.
	 */
	bool			wb_failing;
	int			wb_last_err;		/* -errno of the last error, 0: none yet */
	unsigned long		wb_failing_since;	/* jiffies of the first error */
	unsigned long		wb_backoff;		/* current retry delay */
	unsigned long		wb_retry_at;		/* jiffies: no retry before */
	unsigned long		wb_err_logged_at;
	struct ratelimit_state	write_err_rs;		/* "write failed" log lines */
	bool			log_err_logged;
	bool			stopping;
	bool			wb_drain;	/* write everything back now (stop) */
	unsigned long		last_io;	/* jiffies of the last request */

	/* counters */
	atomic64_t		hits, misses, hit_bytes, miss_bytes;
	atomic64_t		dirty_keys, dirty_bytes;
	atomic64_t		gc_runs, segs_freed;
	atomic64_t		data_crc_errors, writeback_errors;
	atomic64_t		fills, writeback_bytes, space_waits, key_segs;
	atomic64_t		write_errors;	/* requests failed: no space while writeback failed */
};

static inline void *cache_seg_base(struct pcache_cache *cache, u32 seg)
{
	return pcache_seg_addr(cache->cache_dev, cache->segs[seg].phys);
}

static inline void *cache_data_addr(struct pcache_cache *cache, u32 seg, u32 off)
{
	return cache_seg_base(cache, seg) + PCACHE_SEG_DATA_OFF + off;
}

static inline u32 cache_used_segs(struct pcache_cache *cache)
{
	return cache->n_segs - READ_ONCE(cache->free_segs);
}

/*
 * Space pressure: writers wait for space, or used segments reached @pct
 * percent of the gc_percent threshold (GC acts at 100, writeback at 50).
 */
static inline bool cache_space_pressure(struct pcache_cache *cache, u32 pct)
{
	return atomic_read(&cache->space_waiters) ||
	       (u64)cache_used_segs(cache) * 100 * 100 >=
	       (u64)cache->n_segs * READ_ONCE(cache->gc_percent) * pct;
}

/* cache_segment.c */
int cache_seg_gen_init(struct pcache_cache *cache, u32 seg);
void cache_seg_gen_bump(struct pcache_cache *cache, u32 seg);
int cache_seg_gen_load(struct pcache_cache *cache, u32 seg);
int cache_seg_alloc(struct pcache_cache *cache, enum cache_seg_state state, u32 reserve);
void cache_seg_get(struct pcache_cache *cache, u32 seg, u32 n);
void cache_seg_put(struct pcache_cache *cache, u32 seg);
void cache_seg_put_locked(struct pcache_cache *cache, u32 seg);
u32 cache_seg_reclaim(struct pcache_cache *cache);
void cache_space_kick(struct pcache_cache *cache);
u32 cache_data_alloc(struct pcache_cache *cache, u32 head_idx, u32 want, bool may_wait,
		     u32 *seg, u32 *seg_off, u64 *gen);
int cache_data_crc(struct pcache_cache *cache, u32 seg, u32 off, u32 len, u32 *crc);

/* cache_key.c */
struct pcache_key *cache_key_alloc(struct pcache_cache *cache);
void cache_key_free(struct pcache_cache *cache, struct pcache_key *key);
void cache_key_insert_tree(struct pcache_cache *cache, struct cache_subtree *st,
			   struct pcache_key *key, struct pcache_key **spare, bool pooled);

/* Insert into the index (entries from the key mempool). */
static inline void cache_key_insert(struct pcache_cache *cache, struct cache_subtree *st,
				    struct pcache_key *key, struct pcache_key **spare)
{
	cache_key_insert_tree(cache, st, key, spare, true);
}
struct pcache_key *cache_key_first_after(struct cache_subtree *st, u64 off);
bool cache_key_stale(struct pcache_cache *cache, const struct pcache_key *key);
bool cache_range_empty(struct cache_subtree *st, u64 off, u32 len);
void cache_index_destroy(struct pcache_cache *cache);
void cache_clean_fn(struct work_struct *work);
int cache_key_commit(struct pcache_cache *cache, struct cache_subtree *st,
		     struct pcache_key *key, struct pcache_key **spare, bool dirty);
int cache_kset_persist(struct cache_kset *kset);
int cache_ksets_persist_all(struct pcache_cache *cache);
void cache_kset_flush_fn(struct work_struct *work);
int cache_kset_read(struct pcache_cache *cache, const struct cache_pos *pos, void *buf);
int cache_kset_find_after(struct pcache_cache *cache, const struct cache_pos *from, void *buf,
			  struct cache_pos *found);
bool cache_key_decode(struct pcache_cache *cache, const struct pcache_key_onmedia *k,
		      struct pcache_key *key);
void cache_log_init(struct pcache_cache *cache);

static inline struct cache_subtree *cache_subtree_of(struct pcache_cache *cache, u64 off)
{
	return &cache->subtrees[off >> PCACHE_SUBTREE_SHIFT];
}

/* cache_writeback.c */
void cache_writeback_fn(struct work_struct *work);
bool cache_is_clean(struct pcache_cache *cache);
void cache_pos_persist(struct pcache_cache *cache, bool key_tail);
void cache_writeback_kick(struct pcache_cache *cache);
void cache_writeback_nudge(struct pcache_cache *cache);
bool cache_wb_stalled(struct pcache_cache *cache);
u32 cache_wb_stall_secs(void);

/* cache_gc.c */
void cache_gc_fn(struct work_struct *work);
void cache_gc_kick(struct pcache_cache *cache);

/* cache.c */
int cache_replay(struct pcache_cache *cache);

#endif /* PCACHE_CACHE_INTERNAL_H */
