// SPDX-License-Identifier: GPL-2.0
/*
 * logic_dev.c - /dev/pcacheN, the blk-mq disk in front of a backing device.
 *
 * Requests go to the cache engine when one runs (backing_dev->cache), else
 * straight to the backing device: the request's own pages are mapped into
 * bios, nothing is copied. The tag set is BLK_MQ_F_BLOCKING because the
 * engine copies data synchronously and may wait for cache space in
 * queue_rq. Write cache and FUA are advertised so that flushes and FUA
 * writes reach the driver instead of being dropped by the block layer.
 *
 * The queue limits come from the backing disk (logic_dev_set_limits()): a
 * request of /dev/pcacheN is always a whole number of the backing disk's
 * logical blocks, so every key, miss and writeback built from it is too.
 *
 * The gendisk holds a reference on backing_dev->dev from add_disk() until
 * its free_disk callback: an opener (udev probing the new disk) may keep it
 * open past a failed start or a stop, and its release must still find the
 * backing_dev it points to.
 */
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/major.h>
#include <linux/moduleparam.h>
#include <linux/random.h>

#include "pcache_internal.h"
#include "cache.h"

#define LOGIC_DEV_MINORS	16
#define LOGIC_DEV_QUEUE_DEPTH	128
#define LOGIC_DEV_MAX_SECTORS	2048		/* 1 MiB, the engine's largest request */
#define LOGIC_DEV_PHYS_MIN	4096		/* pmem is written in 4 KiB pages at best */

static int logic_dev_major;
static DEFINE_IDA(logic_dev_ida);

/*
 * Testing knob for the passthrough path: issue each request as up to this
 * many backing_dev_rq_io() calls over random sub-ranges aligned to the
 * logical block size, the way the cache engine does for misses and partial
 * hits. It may change at any time: queue_rq reads it once per request.
 */
static unsigned int passthrough_split;
module_param(passthrough_split, uint, 0644);
MODULE_PARM_DESC(passthrough_split,
		 "testing: split each passthrough request into up to N random sub-ranges (0 = off, max 16)");

#define LOGIC_DEV_SPLIT_MAX	16

/*
 * Testing knob for the start error path: a backing-start sleeps this long
 * after add_disk() (long enough for a test to open /dev/pcacheN, as udev
 * does) and then fails, as a later step of the start would.
 */
static unsigned int fail_start_ms;
module_param(fail_start_ms, uint, 0644);
MODULE_PARM_DESC(fail_start_ms,
		 "testing: fail every backing-start N ms after /dev/pcacheN appeared (0 = off, max 10000)");

#define LOGIC_DEV_FAIL_START_MAX_MS	10000

/* Per-request data of the passthrough path (the engine uses the same space its own way). */
struct logic_dev_pdu {
	atomic_t	remaining;
	blk_status_t	status;
};

static int logic_dev_open(struct gendisk *disk, blk_mode_t mode)
{
	struct pcache_logic_dev *logic_dev = &((struct pcache_backing_dev *)disk->private_data)->logic_dev;
	int ret = 0;

	spin_lock(&logic_dev->open_lock);
	if (logic_dev->closing)
		ret = -ENXIO;
	else
		atomic_inc(&logic_dev->open_count);
	spin_unlock(&logic_dev->open_lock);
	return ret;
}

static void logic_dev_release(struct gendisk *disk)
{
	struct pcache_logic_dev *logic_dev = &((struct pcache_backing_dev *)disk->private_data)->logic_dev;

	atomic_dec(&logic_dev->open_count);
}

/* The last reference on the disk is gone (after del_gendisk and every close). */
static void logic_dev_free_disk(struct gendisk *disk)
{
	struct pcache_backing_dev *backing_dev = disk->private_data;

	put_device(&backing_dev->dev);
}

static const struct block_device_operations logic_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= logic_dev_open,
	.release	= logic_dev_release,
	.free_disk	= logic_dev_free_disk,
};

static void logic_dev_rq_done(void *priv, blk_status_t status)
{
	blk_mq_end_request(priv, status);
}

static void logic_dev_piece_done(void *priv, blk_status_t status)
{
	struct request *rq = priv;
	struct logic_dev_pdu *pdu = blk_mq_rq_to_pdu(rq);

	if (status)
		cmpxchg(&pdu->status, BLK_STS_OK, status);
	if (atomic_dec_and_test(&pdu->remaining))
		blk_mq_end_request(rq, READ_ONCE(pdu->status));
}

/*
 * Issue @rq as up to @max_pieces backing_dev_rq_io() calls over random
 * sub-ranges of whole logical blocks. Any @max_pieces is safe: it is
 * clamped to 1..LOGIC_DEV_SPLIT_MAX, and the last piece takes the rest.
 */
static void logic_dev_rq_io_split(struct pcache_backing_dev *backing_dev, struct request *rq,
				  unsigned int max_pieces)
{
	struct logic_dev_pdu *pdu = blk_mq_rq_to_pdu(rq);
	u32 unit = queue_logical_block_size(rq->q);
	u32 len[LOGIC_DEV_SPLIT_MAX];
	u32 left = blk_rq_bytes(rq) / unit, off = 0;
	unsigned int n = 0, i;

	max_pieces = clamp(max_pieces, 1U, LOGIC_DEV_SPLIT_MAX);
	while (left) {
		len[n] = n + 1 >= max_pieces ? left : 1 + get_random_u32_below(left);
		left -= len[n++];
	}
	pdu->status = BLK_STS_OK;
	atomic_set(&pdu->remaining, n);
	for (i = 0; i < n; i++) {
		backing_dev_rq_io(backing_dev, rq, off * unit, len[i] * unit, logic_dev_piece_done,
				  rq);
		off += len[i];
	}
}

static blk_status_t logic_dev_queue_rq(struct blk_mq_hw_ctx *hctx,
				       const struct blk_mq_queue_data *bd)
{
	struct pcache_backing_dev *backing_dev = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	unsigned int split;

	blk_mq_start_request(rq);
	if (backing_dev->cache)
		return pcache_cache_queue_rq(backing_dev->cache, rq);

	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		backing_dev_flush_async(backing_dev, logic_dev_rq_done, rq);
		return BLK_STS_OK;
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		/* one read: a store between two reads must not change the decision */
		split = READ_ONCE(passthrough_split);
		if (split > 1)
			logic_dev_rq_io_split(backing_dev, rq, split);
		else
			backing_dev_rq_io(backing_dev, rq, 0, blk_rq_bytes(rq), logic_dev_rq_done,
					  rq);
		return BLK_STS_OK;
	default:
		return BLK_STS_NOTSUPP;
	}
}

static const struct blk_mq_ops logic_dev_mq_ops = {
	.queue_rq	= logic_dev_queue_rq,
};

/*
 * The limits of /dev/pcacheN, inherited from the backing disk:
 *
 *   logical_block_size   the backing disk's (at least 512): no request, key,
 *                        miss or writeback is ever smaller or misaligned
 *   physical_block_size  the backing disk's, at least 4 KiB
 *   io_min, io_opt       the backing disk's, at least physical_block_size and
 *                        4 KiB
 *   max_hw_sectors       the backing disk's, at most LOGIC_DEV_MAX_SECTORS;
 *                        with blocks larger than 512 bytes at most 255 pages
 *   dma_alignment        the backing disk's, at least 511: passthrough maps
 *                        the request's own pages into backing bios
 *
 * Return: 0, or -EINVAL (logged) for a logical block size the engine cannot
 * hold whole in a segment.
 */
static int logic_dev_set_limits(struct pcache_backing_dev *backing_dev, struct queue_limits *lim)
{
	struct block_device *bdev = backing_dev->bdev;
	unsigned int lbs = max_t(unsigned int, SECTOR_SIZE, bdev_logical_block_size(bdev));
	unsigned int max_hw = queue_max_hw_sectors(bdev_get_queue(bdev));

	if (lbs > PAGE_SIZE || PCACHE_SEG_DATA_SIZE % lbs) {
		backing_dev_err(backing_dev, "cannot start: the backing disk's logical block size %u is not supported (at most %lu, dividing the %u-byte segment data area)",
				lbs, PAGE_SIZE, PCACHE_SEG_DATA_SIZE);
		return -EINVAL;
	}
	lim->logical_block_size = lbs;
	lim->physical_block_size = max3(lbs, (unsigned int)LOGIC_DEV_PHYS_MIN,
					bdev_physical_block_size(bdev));
	lim->io_min = max(lim->physical_block_size, bdev_io_min(bdev));
	lim->io_opt = max_t(unsigned int, lim->io_min, bdev_io_opt(bdev));
	max_hw = clamp_t(unsigned int, max_hw, PAGE_SIZE >> SECTOR_SHIFT, LOGIC_DEV_MAX_SECTORS);
	/*
	 * Larger logical blocks: a request must fit one backing bio. A chain is
	 * cut every BIO_MAX_VECS single-page bvecs, which is a block boundary
	 * only when the request's memory starts on one; 255 pages of data span
	 * at most BIO_MAX_VECS pages, whatever their offset.
	 */
	if (lbs > SECTOR_SIZE)
		max_hw = min_t(unsigned int, max_hw, (BIO_MAX_VECS - 1) * (PAGE_SIZE >> SECTOR_SHIFT));
	lim->max_hw_sectors = round_down(max_hw, lbs >> SECTOR_SHIFT);
	lim->dma_alignment = clamp_t(unsigned int, bdev_dma_alignment(bdev), SECTOR_SIZE - 1,
				     PAGE_SIZE - 1);
	lim->features = BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA;
	return 0;
}

/* fail_start_ms: sleep, then fail the start (an opener may hold the disk by then). */
static int logic_dev_test_fail_start(struct pcache_backing_dev *backing_dev)
{
	unsigned int ms = READ_ONCE(fail_start_ms);

	if (!ms)
		return 0;
	msleep(min(ms, LOGIC_DEV_FAIL_START_MAX_MS));
	backing_dev_err(backing_dev, "fail_start_ms: failing the start of /dev/pcache%d (testing)",
			backing_dev->logic_dev.mapped_id);
	return -EIO;
}

int logic_dev_start(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;
	struct queue_limits lim = { };
	struct gendisk *disk;
	int ret;

	ret = logic_dev_set_limits(backing_dev, &lim);
	if (ret)
		return ret;
	ret = ida_alloc_max(&logic_dev_ida, (MINORMASK + 1) / LOGIC_DEV_MINORS - 1, GFP_KERNEL);
	if (ret < 0)
		return ret;
	logic_dev->mapped_id = ret;
	atomic_set(&logic_dev->open_count, 0);
	logic_dev->closing = false;

	logic_dev->tag_set.ops = &logic_dev_mq_ops;
	logic_dev->tag_set.nr_hw_queues = le32_to_cpu(backing_dev->info.queues);
	logic_dev->tag_set.queue_depth = LOGIC_DEV_QUEUE_DEPTH;
	logic_dev->tag_set.numa_node = NUMA_NO_NODE;
	logic_dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_BLOCKING;
	logic_dev->tag_set.cmd_size = max(sizeof(struct logic_dev_pdu), pcache_cache_rq_pdu_size());
	logic_dev->tag_set.driver_data = backing_dev;
	ret = blk_mq_alloc_tag_set(&logic_dev->tag_set);
	if (ret)
		goto free_id;

	disk = blk_mq_alloc_disk(&logic_dev->tag_set, &lim, backing_dev);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto free_tag_set;
	}
	disk->major = logic_dev_major;
	disk->first_minor = logic_dev->mapped_id * LOGIC_DEV_MINORS;
	disk->minors = LOGIC_DEV_MINORS;
	disk->fops = &logic_dev_fops;
	disk->private_data = backing_dev;
	snprintf(disk->disk_name, DISK_NAME_LEN, "pcache%d", logic_dev->mapped_id);
	set_capacity(disk, backing_dev->dev_sectors);
	logic_dev->disk = disk;

	ret = add_disk(disk);
	if (ret)
		goto put_disk;
	/*
	 * From here the disk can be opened and may outlive this function's
	 * caller's reference; free_disk is called only for an added disk.
	 */
	get_device(&backing_dev->dev);
	ret = logic_dev_test_fail_start(backing_dev);
	if (ret)
		goto del_disk;
	return 0;

del_disk:
	del_gendisk(disk);
put_disk:
	put_disk(disk);
	logic_dev->disk = NULL;
free_tag_set:
	blk_mq_free_tag_set(&logic_dev->tag_set);
free_id:
	ida_free(&logic_dev_ida, logic_dev->mapped_id);
	return ret;
}

/* Refuse new opens; -EBUSY (and nothing changed) while the disk is open. */
int logic_dev_close(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;
	int ret = 0;

	spin_lock(&logic_dev->open_lock);
	if (atomic_read(&logic_dev->open_count))
		ret = -EBUSY;
	else
		logic_dev->closing = true;
	spin_unlock(&logic_dev->open_lock);
	return ret;
}

/*
 * del_gendisk() waits for every request in flight to complete. The disk
 * itself (and its reference on backing_dev->dev) lives on until the last
 * opener, if any, closes it.
 */
void logic_dev_stop(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;

	del_gendisk(logic_dev->disk);
	put_disk(logic_dev->disk);
	logic_dev->disk = NULL;
	blk_mq_free_tag_set(&logic_dev->tag_set);
	ida_free(&logic_dev_ida, logic_dev->mapped_id);
}

int logic_dev_init(void)
{
	logic_dev_major = register_blkdev(0, "pcache");
	return logic_dev_major < 0 ? logic_dev_major : 0;
}

void logic_dev_exit(void)
{
	unregister_blkdev(logic_dev_major, "pcache");
	ida_destroy(&logic_dev_ida);
}
