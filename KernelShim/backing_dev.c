// SPDX-License-Identifier: GPL-2.0
/*
 * backing_dev.c - one cached disk: cache_devN/backing_devM, its segment
 * chain, backing-start and backing-stop, and the bios sent to it. Its
 * record (found again by the identity of its disk, see backing_record.c)
 * says what a start finds: a cache to replay (RUNNING with INIT_DONE after
 * a crash, CACHED after a stop that kept it) or none. backing-start,
 * backing-stop and backing-forget run under cache_dev->lock; none waits
 * there without bound (a stop keeping the cache waits only for writeback's
 * writes in flight; a stop with flush=1 drains interruptibly and gives up
 * when writeback fails, see backing_dev_stop).
 */
#include <linux/capability.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "pcache_internal.h"
#include "backing_record.h"
#include "cache.h"

static bool passthrough;
module_param(passthrough, bool, 0644);
MODULE_PARM_DESC(passthrough,
		 "debug: start backing devices without the cache engine, all I/O goes straight to the backing device (default 0)");

#define PCACHE_CACHE_SEGS_MIN	4
#define PCACHE_MIB_PER_SEG	(PCACHE_SEG_SIZE >> 20)

/* Bios from backing_dev->bioset carry this in their front pad. */
struct backing_bio {
	backing_dev_done_fn	done;
	void			*priv;
	struct bio		bio;
};

static struct pcache_backing_dev *dev_to_backing_dev(struct device *dev)
{
	return container_of(dev, struct pcache_backing_dev, dev);
}

/* ---- sysfs: cache_devN/backing_devM/ ---- */

static ssize_t path_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_to_backing_dev(dev)->info.path);
}
static DEVICE_ATTR_ADMIN_RO(path);

static ssize_t ident_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_to_backing_dev(dev)->info.ident);
}
static DEVICE_ATTR_ADMIN_RO(ident);

static ssize_t mapped_id_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", dev_to_backing_dev(dev)->logic_dev.mapped_id);
}
static DEVICE_ATTR_ADMIN_RO(mapped_id);

static ssize_t cache_segs_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", le32_to_cpu(dev_to_backing_dev(dev)->info.cache_segs));
}
static DEVICE_ATTR_ADMIN_RO(cache_segs);

static ssize_t data_crc_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	u32 flags = le32_to_cpu(dev_to_backing_dev(dev)->info.flags);

	return sysfs_emit(buf, "%u\n", !!(flags & PCACHE_BACKING_F_DATA_CRC));
}
static DEVICE_ATTR_ADMIN_RO(data_crc);

static ssize_t cache_used_segs_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pcache_backing_dev *backing_dev = dev_to_backing_dev(dev);
	u32 used = backing_dev->cache ? pcache_cache_used_segs(backing_dev->cache) : 0;

	return sysfs_emit(buf, "%u\n", used);
}
static DEVICE_ATTR_ADMIN_RO(cache_used_segs);

static ssize_t stats_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pcache_backing_dev *backing_dev = dev_to_backing_dev(dev);

	if (!backing_dev->cache)
		return 0;
	return pcache_cache_stats_show(backing_dev->cache, buf);
}
static DEVICE_ATTR_ADMIN_RO(stats);

static ssize_t cache_gc_percent_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", le32_to_cpu(dev_to_backing_dev(dev)->info.gc_percent));
}

static ssize_t cache_gc_percent_store(struct device *dev, struct device_attribute *attr,
				      const char *buf, size_t size)
{
	struct pcache_backing_dev *backing_dev = dev_to_backing_dev(dev);
	char obj[64];
	u32 val;

	snprintf(obj, sizeof(obj), "cache_dev%d: backing_dev%u: cache_gc_percent",
		 backing_dev->cache_dev->id, backing_dev->id);
	if (!pcache_capable(obj))
		return -EPERM;
	if (memchr(buf, '\0', size) || kstrtou32(buf, 10, &val)) {
		backing_dev_err(backing_dev, "cache_gc_percent: '%.16s' is not a decimal number",
				buf);
		return -EINVAL;
	}
	if (val > PCACHE_GC_PERCENT_MAX) {
		backing_dev_err(backing_dev, "cache_gc_percent: %u out of range %u..%u", val,
				PCACHE_GC_PERCENT_MIN, PCACHE_GC_PERCENT_MAX);
		return -EINVAL;
	}

	mutex_lock(&backing_dev->info_lock);
	backing_dev->info.gc_percent = cpu_to_le32(val);
	backing_dev_info_write(backing_dev);
	mutex_unlock(&backing_dev->info_lock);
	if (backing_dev->cache)
		pcache_cache_set_gc_percent(backing_dev->cache, val);

	return size;
}
static DEVICE_ATTR_ADMIN_RW(cache_gc_percent);

static struct attribute *backing_dev_attrs[] = {
	&dev_attr_path.attr,
	&dev_attr_ident.attr,
	&dev_attr_mapped_id.attr,
	&dev_attr_cache_segs.attr,
	&dev_attr_cache_used_segs.attr,
	&dev_attr_cache_gc_percent.attr,
	&dev_attr_data_crc.attr,
	&dev_attr_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(backing_dev);

static void backing_dev_release(struct device *dev)
{
	struct pcache_backing_dev *backing_dev = dev_to_backing_dev(dev);

	kvfree(backing_dev->seg_ids);
	kfree(backing_dev);
}

static const struct device_type backing_dev_type = {
	.name		= "backing_dev",
	.groups		= backing_dev_groups,
	.release	= backing_dev_release,
};

/* ---- bios to the backing device ---- */

static void backing_bio_end(struct bio *bio)
{
	struct backing_bio *bb = container_of(bio, struct backing_bio, bio);
	backing_dev_done_fn done = bb->done;
	blk_status_t status = bio->bi_status;
	void *priv = bb->priv;

	bio_put(bio);
	done(priv, status);
}

/*
 * Builds one logical I/O as a chain of bios: when a bio is full, the next
 * one becomes the parent (bio_chain) and the full one is submitted, so the
 * parent's end_io runs after all of them with the first error seen.
 */
struct backing_bio_builder {
	struct pcache_backing_dev *backing_dev;
	blk_opf_t	opf;
	sector_t	sector;
	u32		vecs_left;
	struct bio	*bio;
};

static void backing_bio_add(struct backing_bio_builder *b, struct page *page, u32 len, u32 off)
{
	struct bio *next;

	if (!b->bio || b->bio->bi_vcnt == b->bio->bi_max_vecs) {
		next = bio_alloc_bioset(b->backing_dev->bdev, min_t(u32, b->vecs_left, BIO_MAX_VECS),
					b->opf, GFP_NOIO, &b->backing_dev->bioset);
		next->bi_iter.bi_sector = b->bio ? bio_end_sector(b->bio) : b->sector;
		if (b->bio) {
			bio_chain(b->bio, next);
			submit_bio_noacct(b->bio);
		}
		b->bio = next;
	}
	__bio_add_page(b->bio, page, len, off);
	b->vecs_left--;
}

static void backing_bio_submit(struct backing_bio_builder *b, backing_dev_done_fn done,
			       void *priv)
{
	struct backing_bio *bb = container_of(b->bio, struct backing_bio, bio);

	bb->done = done;
	bb->priv = priv;
	b->bio->bi_end_io = backing_bio_end;
	submit_bio_noacct(b->bio);
}

void backing_dev_rq_io(struct pcache_backing_dev *backing_dev, struct request *rq,
		       u32 rq_off, u32 len, backing_dev_done_fn done, void *priv)
{
	struct backing_bio_builder b = {
		.backing_dev	= backing_dev,
		.opf		= req_op(rq),
		.sector		= blk_rq_pos(rq) + (rq_off >> SECTOR_SHIFT),
	};
	u32 end = rq_off + len, pos = 0, start, take;
	struct req_iterator iter;
	struct bio_vec bv;

	if (WARN_ON_ONCE(!len || (rq_off | len) & (SECTOR_SIZE - 1) ||
			 end > blk_rq_bytes(rq))) {
		done(priv, BLK_STS_IOERR);
		return;
	}
	if (op_is_write(req_op(rq)))
		b.opf |= rq->cmd_flags & (REQ_FUA | REQ_SYNC);

	rq_for_each_segment(bv, rq, iter) {
		if (pos < end && pos + bv.bv_len > rq_off)
			b.vecs_left++;
		pos += bv.bv_len;
	}

	pos = 0;
	rq_for_each_segment(bv, rq, iter) {
		if (pos >= end)
			break;
		if (pos + bv.bv_len > rq_off) {
			start = rq_off > pos ? rq_off - pos : 0;
			take = min(bv.bv_len - start, end - (pos + start));
			backing_bio_add(&b, bv.bv_page, take, bv.bv_offset + start);
		}
		pos += bv.bv_len;
	}
	backing_bio_submit(&b, done, priv);
}

static void backing_dev_pmem_io(struct pcache_backing_dev *backing_dev, blk_opf_t opf,
				void *addr, u64 off, u32 len, backing_dev_done_fn done, void *priv)
{
	struct pcache_cache_dev *cache_dev = backing_dev->cache_dev;
	struct backing_bio_builder b = {
		.backing_dev	= backing_dev,
		.opf		= opf,
		.sector		= off >> SECTOR_SHIFT,
	};
	u32 take;

	if (WARN_ON_ONCE(!len || (off | len) & (SECTOR_SIZE - 1) ||
			 !cache_dev_addr(cache_dev, addr - cache_dev->base, len))) {
		done(priv, BLK_STS_IOERR);
		return;
	}
	b.vecs_left = DIV_ROUND_UP(offset_in_page(addr) + len, PAGE_SIZE);
	while (len) {
		take = min_t(u32, len, PAGE_SIZE - offset_in_page(addr));
		backing_bio_add(&b, cache_dev_addr_to_page(cache_dev, addr), take,
				offset_in_page(addr));
		addr += take;
		len -= take;
	}
	backing_bio_submit(&b, done, priv);
}

void backing_dev_write_pmem(struct pcache_backing_dev *backing_dev, void *addr,
			    u64 off, u32 len, backing_dev_done_fn done, void *priv)
{
	backing_dev_pmem_io(backing_dev, REQ_OP_WRITE, addr, off, len, done, priv);
}

void backing_dev_read_pmem(struct pcache_backing_dev *backing_dev, void *addr,
			   u64 off, u32 len, backing_dev_done_fn done, void *priv)
{
	backing_dev_pmem_io(backing_dev, REQ_OP_READ, addr, off, len, done, priv);
}

/* An empty PREFLUSH write: the passthrough answer to REQ_OP_FLUSH. */
void backing_dev_flush_async(struct pcache_backing_dev *backing_dev, backing_dev_done_fn done,
			     void *priv)
{
	struct backing_bio_builder b = { .backing_dev = backing_dev };

	b.bio = bio_alloc_bioset(backing_dev->bdev, 0, REQ_OP_WRITE | REQ_PREFLUSH, GFP_NOIO,
				 &backing_dev->bioset);
	backing_bio_submit(&b, done, priv);
}

int backing_dev_flush(struct pcache_backing_dev *backing_dev)
{
	return blkdev_issue_flush(backing_dev->bdev);
}

/* ---- backing-start / backing-stop ---- */

static struct pcache_backing_dev *backing_dev_find_started(struct pcache_cache_dev *cache_dev,
							   dev_t devt)
{
	u32 i;

	for (i = 0; i < PCACHE_BACKING_MAX; i++)
		if (cache_dev->backings[i] && cache_dev->backings[i]->bdev->bd_dev == devt)
			return cache_dev->backings[i];
	return NULL;
}

/* Segments for the cache: the chain claimed at register, or a new one. */
static int backing_dev_segs_get(struct pcache_backing_dev *backing_dev, const char *obj,
				bool new_cache)
{
	struct pcache_cache_dev *cache_dev = backing_dev->cache_dev;
	u32 n = le32_to_cpu(backing_dev->info.cache_segs);
	u32 free;
	int ret;

	if (!new_cache) {
		u32 *chain = cache_dev->chains[backing_dev->id];

		if (WARN_ON_ONCE(!chain || chain[0] != le32_to_cpu(backing_dev->info.first_seg)))
			return -EINVAL;
		backing_dev->seg_ids = chain;
		cache_dev->chains[backing_dev->id] = NULL;
		backing_dev->nr_seg_ids = n;
		backing_dev->segs_owned = true;
		return 0;
	}

	free = cache_dev->seg_num - READ_ONCE(cache_dev->seg_used);
	if (n > free) {
		pcache_err("%s: cache needs %u segments but only %u of %u are free", obj, n, free,
			   cache_dev->seg_num);
		return -ENOSPC;
	}
	backing_dev->seg_ids = kvcalloc(n, sizeof(u32), GFP_KERNEL);
	if (!backing_dev->seg_ids)
		return -ENOMEM;
	ret = segment_chain_create(cache_dev, backing_dev->id, n, backing_dev->seg_ids);
	if (ret) {
		pcache_err("%s: cannot allocate %u segments", obj, n);
		kvfree(backing_dev->seg_ids);
		backing_dev->seg_ids = NULL;
		return ret;
	}
	backing_dev->nr_seg_ids = n;
	backing_dev->segs_owned = true;
	return 0;
}

/*
 * Give the segments back: a chain that may hold dirty data (@keep) goes back
 * to cache_dev->chains, still claimed, for a later replay; else it is freed.
 */
static void backing_dev_segs_put(struct pcache_backing_dev *backing_dev, bool keep)
{
	struct pcache_cache_dev *cache_dev = backing_dev->cache_dev;

	if (!backing_dev->segs_owned)
		return;
	if (keep) {
		cache_dev->chains[backing_dev->id] = backing_dev->seg_ids;
	} else {
		/* not info.cache_segs: a failed start restores the old record first */
		segment_chain_release(cache_dev, backing_dev->seg_ids, backing_dev->nr_seg_ids);
		kvfree(backing_dev->seg_ids);
	}
	backing_dev->seg_ids = NULL;
	backing_dev->segs_owned = false;
}

/*
 * cache_devN/backing_devM, /sys/block/pcacheN/pcache -> backing_devM, and
 * the holders/slaves links that let lsblk show pcacheN on top of both the
 * backing disk and the pmem device.
 */
static int backing_dev_sysfs_add(struct pcache_backing_dev *backing_dev)
{
	struct block_device *pmem = file_bdev(backing_dev->cache_dev->bdev_file);
	struct gendisk *disk = backing_dev->logic_dev.disk;
	int ret;

	ret = device_add(&backing_dev->dev);
	if (ret)
		return ret;
	ret = sysfs_create_link(&disk_to_dev(disk)->kobj, &backing_dev->dev.kobj, "pcache");
	if (ret)
		goto del_dev;
	ret = bd_link_disk_holder(backing_dev->bdev, disk);
	if (ret)
		goto remove_link;
	ret = bd_link_disk_holder(pmem, disk);
	if (ret)
		goto unlink_backing;
	return 0;

unlink_backing:
	bd_unlink_disk_holder(backing_dev->bdev, disk);
remove_link:
	sysfs_remove_link(&disk_to_dev(disk)->kobj, "pcache");
del_dev:
	device_del(&backing_dev->dev);
	return ret;
}

static void backing_dev_sysfs_del(struct pcache_backing_dev *backing_dev)
{
	struct block_device *pmem = file_bdev(backing_dev->cache_dev->bdev_file);
	struct gendisk *disk = backing_dev->logic_dev.disk;

	bd_unlink_disk_holder(pmem, disk);
	bd_unlink_disk_holder(backing_dev->bdev, disk);
	sysfs_remove_link(&disk_to_dev(disk)->kobj, "pcache");
	device_del(&backing_dev->dev);
}

static int backing_dev_start(struct pcache_cache_dev *cache_dev, const char *obj,
			     const struct backing_start_opts *o)
{
	struct pcache_cache_opts cache_opts = {};
	struct pcache_backing_onmedia old_rec;
	struct pcache_backing_dev *backing_dev, *other;
	struct backing_match m = {};
	bool new_cache;
	u32 id, flags;
	int ret;

	other = backing_dev_find_started(cache_dev, o->devt);
	if (other) {
		pcache_err("%s: %s is already started as backing_dev%u", obj, o->path, other->id);
		return -EBUSY;
	}

	backing_dev = kzalloc(sizeof(*backing_dev), GFP_KERNEL);
	if (!backing_dev)
		return -ENOMEM;
	backing_dev->cache_dev = cache_dev;
	mutex_init(&backing_dev->info_lock);
	spin_lock_init(&backing_dev->logic_dev.open_lock);
	device_initialize(&backing_dev->dev);
	device_set_pm_not_required(&backing_dev->dev);
	backing_dev->dev.parent = &cache_dev->dev;
	backing_dev->dev.type = &backing_dev_type;

	/* exclusive: a second open with another holder (or a mount) gets -EBUSY */
	backing_dev->bdev_file = bdev_file_open_by_path(o->path, BLK_OPEN_READ | BLK_OPEN_WRITE,
							backing_dev, NULL);
	if (IS_ERR(backing_dev->bdev_file)) {
		ret = PTR_ERR(backing_dev->bdev_file);
		pcache_err("%s: cannot open %s exclusively: %s (%d)", obj, o->path,
			   ret == -EBUSY ? "in use" : "open failed", ret);
		goto put_dev;
	}
	backing_dev->bdev = file_bdev(backing_dev->bdev_file);
	backing_dev->dev_sectors = bdev_nr_sectors(backing_dev->bdev);

	/* the disk that was opened, not what the path named at the check */
	ret = backing_record_lookup(cache_dev, obj, o, backing_dev->bdev->bd_dev,
				    &backing_dev->info, &backing_dev->info_slot, &m);
	if (ret)
		goto close_bdev;
	id = m.id;
	backing_dev->id = id;
	if (cache_dev->backings[id]) {
		pcache_err("%s: %s belongs to backing_dev%u, which is started with %s", obj,
			   o->path, id, cache_dev->backings[id]->info.path);
		ret = -EBUSY;
		goto close_bdev;
	}
	ret = dev_set_name(&backing_dev->dev, "backing_dev%u", id);
	if (ret)
		goto close_bdev;

	ret = backing_dev_check_record(backing_dev, obj, o, &m);
	if (ret)
		goto close_bdev;

	ret = bioset_init(&backing_dev->bioset, 128, offsetof(struct backing_bio, bio),
			  BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER);
	if (ret)
		goto close_bdev;

	old_rec = backing_dev->info;
	/* only a chain the engine initialised can hold anything to replay */
	new_cache = !m.found || !pcache_rec_holds_cache(&old_rec);
	if (m.found && le32_to_cpu(old_rec.state) == PCACHE_BACKING_STATE_RUNNING && new_cache)
		backing_dev_info(backing_dev, "record of %s says running but its cache was never initialised: nothing to replay, starting a new cache",
				 old_rec.path);
	if (!m.found) {
		memset(&backing_dev->info, 0, sizeof(backing_dev->info));
		backing_dev->info.header.seq = old_rec.header.seq;
		backing_dev->info.gc_percent = cpu_to_le32(PCACHE_GC_PERCENT_DEFAULT);
		backing_dev->info.cache_segs = cpu_to_le32(o->cache_segs);
		backing_dev->info.queues = cpu_to_le32(1);
		backing_dev->info.start_time = cpu_to_le64(ktime_get_real_seconds());
		strscpy(backing_dev->info.path, o->path, sizeof(backing_dev->info.path));
	}
	ret = backing_dev_segs_get(backing_dev, obj, new_cache);
	if (ret)
		goto exit_bioset;

	/*
	 * The record is the commit point of the chain: written after it, and
	 * marked INIT_DONE only once the engine has initialised a new chain
	 * (a crash in between leaves a RUNNING record with nothing to replay).
	 */
	flags = le32_to_cpu(backing_dev->info.flags);
	if (o->data_crc >= 0)
		flags = o->data_crc ? flags | PCACHE_BACKING_F_DATA_CRC :
				      flags & ~PCACHE_BACKING_F_DATA_CRC;
	if (new_cache)
		flags &= ~PCACHE_BACKING_F_INIT_DONE;
	backing_dev->info.state = cpu_to_le32(PCACHE_BACKING_STATE_RUNNING);
	backing_dev->info.backing_id = cpu_to_le32(id);
	backing_dev->info.flags = cpu_to_le32(flags);
	backing_dev->info.first_seg = cpu_to_le32(backing_dev->seg_ids[0]);
	if (o->queues)
		backing_dev->info.queues = cpu_to_le32(o->queues);
	backing_dev->info.dev_sectors = cpu_to_le64(backing_dev->dev_sectors);
	if (o->ident && (o->force || !backing_dev->info.ident[0]))
		strscpy(backing_dev->info.ident, o->ident, sizeof(backing_dev->info.ident));
	mutex_lock(&backing_dev->info_lock);
	backing_dev_info_write(backing_dev);
	mutex_unlock(&backing_dev->info_lock);

	cache_opts.seg_ids = backing_dev->seg_ids;
	cache_opts.n_segs = le32_to_cpu(backing_dev->info.cache_segs);
	cache_opts.new_cache = new_cache;
	cache_opts.data_crc = flags & PCACHE_BACKING_F_DATA_CRC;
	cache_opts.gc_percent = le32_to_cpu(backing_dev->info.gc_percent);
	cache_opts.queues = le32_to_cpu(backing_dev->info.queues);
	if (passthrough && new_cache) {
		/* nothing to replay: the chain stays empty, I/O bypasses it */
		backing_dev->cache = NULL;
	} else {
		ret = pcache_cache_start(backing_dev, &cache_opts);
		if (ret)
			goto restore_record;
		if (new_cache) {
			mutex_lock(&backing_dev->info_lock);
			backing_dev->info.flags = cpu_to_le32(flags | PCACHE_BACKING_F_INIT_DONE);
			backing_dev_info_write(backing_dev);
			mutex_unlock(&backing_dev->info_lock);
		}
	}

	ret = logic_dev_start(backing_dev);
	if (ret)
		goto stop_cache;
	ret = backing_dev_sysfs_add(backing_dev);
	if (ret)
		goto stop_logic_dev;

	cache_dev->backings[id] = backing_dev;
	cache_dev->nr_backings++;
	cache_dev->rec_devt[id] = backing_dev->bdev->bd_dev;
	backing_dev_info(backing_dev, "started %s as /dev/pcache%d: %u segments, %u queues, data_crc %u, %s",
			 o->path, backing_dev->logic_dev.mapped_id, cache_opts.n_segs,
			 cache_opts.queues, cache_opts.data_crc,
			 !backing_dev->cache ? "passthrough" : new_cache ? "new cache" :
			 le32_to_cpu(old_rec.state) == PCACHE_BACKING_STATE_CACHED ?
			 "cache kept at the last stop replayed" :
			 "cache replayed after an unclean stop");
	return 0;

stop_logic_dev:
	logic_dev_stop(backing_dev);
stop_cache:
	/* nothing was written through the disk yet; keep what a replay found */
	if (backing_dev->cache)
		pcache_cache_stop(backing_dev, false);
	backing_dev->cache = NULL;
restore_record:
	/* a kept cache stays CACHED, a new chain is not referenced any more */
	old_rec.header.seq = backing_dev->info.header.seq;
	backing_dev->info = old_rec;
	mutex_lock(&backing_dev->info_lock);
	backing_dev_info_write(backing_dev);
	mutex_unlock(&backing_dev->info_lock);
	backing_dev_segs_put(backing_dev, !new_cache);
exit_bioset:
	bioset_exit(&backing_dev->bioset);
close_bdev:
	fput(backing_dev->bdev_file);
put_dev:
	put_device(&backing_dev->dev);
	return ret;
}

/* A stop that gave up before the teardown: let /dev/pcacheN be opened again. */
static void backing_dev_reopen(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;

	spin_lock(&logic_dev->open_lock);
	logic_dev->closing = false;
	spin_unlock(&logic_dev->open_lock);
}

/*
 * backing-stop. By default (and with force=1, kept for scripts written
 * before format 3) the cache is kept: /dev/pcacheN is torn down, the open
 * ksets are persisted and the record is marked CACHED with its chain still
 * claimed, so the next start (or a module reload, or a reboot) replays the
 * log and finds the cache warm, dirty data included. No writeback, so the
 * stop takes the same short time with a dead disk or a full cache.
 *
 * With @flush: /dev/pcacheN is closed to new opens, then everything is
 * written back while it still exists; if that is interrupted (-EINTR) or
 * writeback fails without progress (-EIO, bounded by stall_timeout_s), the
 * device is opened again and keeps running, nothing lost. Only a drained
 * cache is torn down, its chain released and its record marked STOPPED:
 * the bare disk is then current and may be used alone.
 */
static int backing_dev_stop(struct pcache_cache_dev *cache_dev, const char *obj, u32 id,
			    bool flush)
{
	struct pcache_backing_dev *backing_dev;
	ktime_t began = ktime_get();
	bool keep;
	int ret;

	backing_dev = id < PCACHE_BACKING_MAX ? cache_dev->backings[id] : NULL;
	if (!backing_dev) {
		pcache_err("%s: backing_dev%u is not started", obj, id);
		return -ENOENT;
	}
	ret = logic_dev_close(backing_dev);
	if (ret) {
		backing_dev_err(backing_dev, "cannot stop: /dev/pcache%d is open",
				backing_dev->logic_dev.mapped_id);
		return ret;
	}
	if (backing_dev->cache && flush) {
		ret = pcache_cache_drain(backing_dev->cache);
		if (ret) {
			backing_dev_reopen(backing_dev);
			backing_dev_err(backing_dev, "stop with flush=1 %s (%d): /dev/pcache%d keeps running with its dirty data; retry, or stop without flush=1 to keep the cache",
					ret == -EINTR ? "interrupted" : "failed: writeback is failing",
					ret, backing_dev->logic_dev.mapped_id);
			return ret;
		}
	}

	backing_dev_sysfs_del(backing_dev);
	logic_dev_stop(backing_dev);		/* drains every request */
	cache_dev->backings[id] = NULL;
	cache_dev->nr_backings--;

	keep = !flush && backing_dev->cache;
	ret = backing_dev->cache ? pcache_cache_stop(backing_dev, flush) : 0;
	backing_dev->cache = NULL;
	if (ret) {
		/* not every kset persisted: record RUNNING, chain claimed for replay */
		backing_dev_err(backing_dev, "stopped uncleanly (%d): cache kept for replay at next start",
				ret);
		backing_dev_segs_put(backing_dev, true);
	} else if (keep) {
		backing_dev_segs_put(backing_dev, true);
		mutex_lock(&backing_dev->info_lock);
		backing_dev->info.state = cpu_to_le32(PCACHE_BACKING_STATE_CACHED);
		backing_dev_info_write(backing_dev);
		mutex_unlock(&backing_dev->info_lock);
		backing_dev_info(backing_dev, "stopped %s in %lld ms, cache kept for the next start; the disk alone is not current until a stop with flush=1",
				 backing_dev->info.path, ktime_ms_delta(ktime_get(), began));
	} else {
		backing_dev_segs_put(backing_dev, false);
		mutex_lock(&backing_dev->info_lock);
		backing_dev->info.state = cpu_to_le32(PCACHE_BACKING_STATE_STOPPED);
		backing_dev_info_write(backing_dev);
		mutex_unlock(&backing_dev->info_lock);
		backing_dev_info(backing_dev, "stopped %s%s: cache released, the disk is current",
				 backing_dev->info.path, flush ? " with flush=1" : "");
	}

	bioset_exit(&backing_dev->bioset);
	fput(backing_dev->bdev_file);
	put_device(&backing_dev->dev);
	return ret;
}

static bool backing_ident_valid(const char *ident)
{
	size_t len = strlen(ident);
	size_t i;

	if (len >= PCACHE_IDENT_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (ident[i] < 0x20 || ident[i] > 0x7e)
			return false;
	return true;
}

enum { OPT_OP, OPT_PATH, OPT_QUEUES, OPT_CACHE_SIZE, OPT_DATA_CRC, OPT_IDENT, OPT_FORCE,
       OPT_BACKING_ID, OPT_FLUSH, OPT_NR };

/**
 * backing_dev_adm - handle a write to cache_devN/adm (cache_dev->lock held).
 * @cache_dev: the cache device.
 * @buf: the written text, NUL-terminated, modified while parsing.
 *
 *   op=backing-start,path=/dev/X[,queues=N][,cache_size=MiB][,data_crc=0|1]
 *                    [,ident=ID][,force=0|1]
 *   op=backing-stop,backing_id=M[,force=0|1]
 *   op=backing-forget,backing_id=M
 */
int backing_dev_adm(struct pcache_cache_dev *cache_dev, char *buf)
{
	struct pcache_opt opts[OPT_NR] = {
		[OPT_OP] = { .key = "op" },
		[OPT_PATH] = { .key = "path" },
		[OPT_QUEUES] = { .key = "queues" },
		[OPT_CACHE_SIZE] = { .key = "cache_size" },
		[OPT_DATA_CRC] = { .key = "data_crc" },
		[OPT_IDENT] = { .key = "ident" },
		[OPT_FORCE] = { .key = "force" },
		[OPT_BACKING_ID] = { .key = "backing_id" },
		[OPT_FLUSH] = { .key = "flush" },
	};
	struct backing_start_opts o = { .data_crc = -1 };
	bool start, forget = false, flush = false;
	char obj[32];
	u32 v, mib;
	int i, ret;

	lockdep_assert_held(&cache_dev->lock);
	snprintf(obj, sizeof(obj), "cache_dev%d", cache_dev->id);

	ret = pcache_opts_parse(obj, buf, opts, OPT_NR);
	if (ret)
		return ret;
	if (!opts[OPT_OP].val) {
		pcache_err("%s: op= is required (backing-start, backing-stop or backing-forget)", obj);
		return -EINVAL;
	}
	if (!strcmp(opts[OPT_OP].val, "backing-start")) {
		start = true;
	} else if (!strcmp(opts[OPT_OP].val, "backing-stop")) {
		start = false;
	} else if (!strcmp(opts[OPT_OP].val, "backing-forget")) {
		start = false;
		forget = true;
	} else {
		pcache_err("%s: unknown op '%.32s'", obj, opts[OPT_OP].val);
		return -EINVAL;
	}
	for (i = OPT_PATH; i < OPT_NR; i++) {
		if (opts[i].val && (start ? i == OPT_BACKING_ID || i == OPT_FLUSH :
				    i != OPT_BACKING_ID &&
				    (forget || (i != OPT_FORCE && i != OPT_FLUSH)))) {
			pcache_err("%s: option '%s' does not apply to %s", obj, opts[i].key,
				   opts[OPT_OP].val);
			return -EINVAL;
		}
	}

	if (opts[OPT_FORCE].val) {
		ret = pcache_opt_u32(obj, &opts[OPT_FORCE], 0, 1, &v);
		if (ret)
			return ret;
		o.force = v;
	}
	if (opts[OPT_FLUSH].val) {
		ret = pcache_opt_u32(obj, &opts[OPT_FLUSH], 0, 1, &v);
		if (ret)
			return ret;
		flush = v;
		if (flush && o.force) {
			pcache_err("%s: flush=1 (write everything back, release the cache) and force=1 (keep the cache) contradict each other",
				   obj);
			return -EINVAL;
		}
	}
	if (!start) {
		if (!opts[OPT_BACKING_ID].val) {
			pcache_err("%s: %s needs backing_id=", obj, opts[OPT_OP].val);
			return -EINVAL;
		}
		ret = pcache_opt_u32(obj, &opts[OPT_BACKING_ID], 0, U32_MAX, &v);
		if (ret)
			return ret;
		return forget ? backing_record_forget(cache_dev, obj, v) :
				backing_dev_stop(cache_dev, obj, v, flush);
	}

	if (!opts[OPT_PATH].val) {
		pcache_err("%s: backing-start needs path=", obj);
		return -EINVAL;
	}
	o.path = opts[OPT_PATH].val;
	if (opts[OPT_QUEUES].val) {
		ret = pcache_opt_u32(obj, &opts[OPT_QUEUES], 1, PCACHE_QUEUES_MAX, &o.queues);
		if (ret)
			return ret;
	}
	if (opts[OPT_CACHE_SIZE].val) {
		ret = pcache_opt_u32(obj, &opts[OPT_CACHE_SIZE], 1, U32_MAX, &mib);
		if (ret)
			return ret;
		o.cache_segs = DIV_ROUND_UP(mib, PCACHE_MIB_PER_SEG);
		if (o.cache_segs < PCACHE_CACHE_SEGS_MIN) {
			pcache_err("%s: cache_size=%u MiB is %u segments, at least %u (%u MiB) are needed",
				   obj, mib, o.cache_segs, PCACHE_CACHE_SEGS_MIN,
				   PCACHE_CACHE_SEGS_MIN * PCACHE_MIB_PER_SEG);
			return -EINVAL;
		}
		if (o.cache_segs > cache_dev->seg_num) {
			pcache_err("%s: cache_size=%u MiB is %u segments, the device has %u", obj,
				   mib, o.cache_segs, cache_dev->seg_num);
			return -ENOSPC;
		}
	}
	if (opts[OPT_DATA_CRC].val) {
		ret = pcache_opt_u32(obj, &opts[OPT_DATA_CRC], 0, 1, &v);
		if (ret)
			return ret;
		o.data_crc = v;
	}
	if (opts[OPT_IDENT].val) {
		o.ident = opts[OPT_IDENT].val;
		if (!backing_ident_valid(o.ident)) {
			pcache_err("%s: ident must be 1..%d printable characters",
				   obj, PCACHE_IDENT_LEN - 1);
			return -EINVAL;
		}
	}
	ret = pcache_check_dev_path(obj, o.path, &o.devt);
	if (ret)
		return ret;

	return backing_dev_start(cache_dev, obj, &o);
}
