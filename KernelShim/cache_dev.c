// SPDX-License-Identifier: GPL-2.0
/*
 * cache_dev.c - one registered pmem device: /sys/bus/pcache/devices/cache_devN.
 *
 * Register opens the device exclusively, maps all of it through DAX
 * (directly when one dax_direct_access() call covers it, else through a
 * vmap of its pages), validates the superblock written by `pcachectl
 * format` and rebuilds the segment bitmap from the backing records. The
 * module never writes the superblock.
 */
#include <linux/module.h>
#include <linux/capability.h>
#include <linux/idr.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/pfn_t.h>
#include <linux/uaccess.h>

#include "pcache_internal.h"

static DEFINE_IDA(cache_dev_ida);

static struct pcache_cache_dev *dev_to_cache_dev(struct device *dev)
{
	return container_of(dev, struct pcache_cache_dev, dev);
}

static ssize_t path_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_to_cache_dev(dev)->path);
}
static DEVICE_ATTR_ADMIN_RO(path);

static ssize_t info_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct pcache_cache_dev *cache_dev = dev_to_cache_dev(dev);
	const struct pcache_sb_onmedia *sb = &cache_dev->sb;
	char label[sizeof(sb->label) + 1];
	size_t i;

	/* the label comes from pmem: print it, but only printable bytes */
	for (i = 0; i < sizeof(sb->label) && sb->label[i]; i++)
		label[i] = (sb->label[i] >= 0x20 && sb->label[i] < 0x7f) ? sb->label[i] : '?';
	label[i] = '\0';

	return sysfs_emit(buf,
			  "uuid: %pUb\nlabel: %s\nversion: %u\nseg_num: %u\nseg_used: %u\n"
			  "seg_size: %u\ndev_size: %llu\nbacking_devs: %u\n",
			  sb->uuid, label, le16_to_cpu(sb->version), cache_dev->seg_num,
			  READ_ONCE(cache_dev->seg_used), PCACHE_SEG_SIZE, cache_dev->size,
			  READ_ONCE(cache_dev->nr_backings));
}
static DEVICE_ATTR_ADMIN_RO(info);

static ssize_t adm_store(struct device *dev, struct device_attribute *attr, const char *ubuf,
			 size_t size)
{
	struct pcache_cache_dev *cache_dev = dev_to_cache_dev(dev);
	char obj[32], *buf;
	int ret;

	snprintf(obj, sizeof(obj), "cache_dev%d: adm", cache_dev->id);
	if (!pcache_capable(obj))
		return -EPERM;
	snprintf(obj, sizeof(obj), "cache_dev%d", cache_dev->id);

	buf = pcache_store_dup(obj, ubuf, size);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	/* a stop in progress holds the lock for a bounded time; a signal ends the wait */
	ret = mutex_lock_interruptible(&cache_dev->lock);
	if (ret)
		goto free;
	if (cache_dev->dying)
		ret = -ENODEV;
	else
		ret = backing_dev_adm(cache_dev, buf);
	mutex_unlock(&cache_dev->lock);
free:
	kfree(buf);

	return ret ? ret : size;
}
static DEVICE_ATTR_WO(adm);

static ssize_t backing_records_attr_show(struct device *dev, struct device_attribute *attr,
					 char *buf)
{
	return backing_records_show(dev_to_cache_dev(dev), buf);
}
static struct device_attribute dev_attr_backing_records =
	__ATTR(backing_records, 0400, backing_records_attr_show, NULL);

static struct attribute *cache_dev_attrs[] = {
	&dev_attr_path.attr,
	&dev_attr_info.attr,
	&dev_attr_adm.attr,
	&dev_attr_backing_records.attr,
	NULL,
};
ATTRIBUTE_GROUPS(cache_dev);

static void cache_dev_release(struct device *dev)
{
	kfree(dev_to_cache_dev(dev));
}

static const struct device_type cache_dev_type = {
	.name		= "cache_dev",
	.groups		= cache_dev_groups,
	.release	= cache_dev_release,
};

/*
 * Map the whole device. dax_direct_access() returns how many pages from
 * pgoff are contiguous in the kernel's direct map; if that is all of them
 * the direct address is used, else the pages are collected chunk by chunk
 * and vmapped. The writeback path builds bios on these pages, so pfns
 * without a struct page are refused.
 */
static int cache_dev_map(struct pcache_cache_dev *cache_dev, u64 start_off)
{
	long nr_pages = cache_dev->size >> PAGE_SHIFT;
	pgoff_t pgoff = start_off >> PAGE_SHIFT;
	struct page **pages;
	long i = 0, j, avail;
	void *kaddr;
	pfn_t pfn;
	int id, ret = 0;

	id = dax_read_lock();
	avail = dax_direct_access(cache_dev->dax_dev, pgoff, nr_pages, DAX_ACCESS, &kaddr, &pfn);
	if (avail <= 0) {
		cache_dev_err(cache_dev, "%s: dax_direct_access failed (%ld)", cache_dev->path, avail);
		ret = avail ? avail : -EIO;
		goto unlock;
	}
	if (!pfn_t_has_page(pfn)) {
		cache_dev_err(cache_dev, "%s: DAX pfns have no struct page (use an fsdax namespace)",
			      cache_dev->path);
		ret = -EOPNOTSUPP;
		goto unlock;
	}
	if (avail >= nr_pages) {
		cache_dev->base = kaddr;
		cache_dev->vmapped = false;
		goto unlock;
	}

	pages = kvmalloc_array(nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		ret = -ENOMEM;
		goto unlock;
	}
	while (i < nr_pages) {
		avail = dax_direct_access(cache_dev->dax_dev, pgoff + i, nr_pages - i, DAX_ACCESS,
					  &kaddr, &pfn);
		if (avail <= 0 || !pfn_t_has_page(pfn)) {
			cache_dev_err(cache_dev, "%s: cannot map page %ld (%ld)", cache_dev->path, i,
				      avail);
			ret = avail < 0 ? avail : -EOPNOTSUPP;
			goto free_pages;
		}
		for (j = 0; j < avail && i < nr_pages; j++, i++)
			pages[i] = pfn_t_to_page(pfn) + j;
	}
	cache_dev->base = vmap(pages, nr_pages, VM_MAP, PAGE_KERNEL);
	if (!cache_dev->base) {
		cache_dev_err(cache_dev, "%s: vmap of %ld pages failed", cache_dev->path, nr_pages);
		ret = -ENOMEM;
		goto free_pages;
	}
	cache_dev->vmapped = true;
free_pages:
	kvfree(pages);
unlock:
	dax_read_unlock(id);
	return ret;
}

static void cache_dev_unmap(struct pcache_cache_dev *cache_dev)
{
	if (cache_dev->vmapped)
		vunmap(cache_dev->base);
	cache_dev->base = NULL;
}

/* Whether @sb is usable on this device; if not, why not goes into @why. */
static bool cache_dev_sb_valid(struct pcache_cache_dev *cache_dev,
			       const struct pcache_sb_onmedia *sb, char *why, size_t len)
{
	u32 seg_num = le32_to_cpu(sb->seg_num);

	if (le64_to_cpu(sb->magic) != PCACHE_MAGIC) {
		snprintf(why, len, "bad magic 0x%llx", le64_to_cpu(sb->magic));
		return false;
	}
	if (le32_to_cpu(sb->crc) != pcache_crc((const u8 *)sb + 4, PCACHE_SB_CRC_LEN)) {
		snprintf(why, len, "crc mismatch");
		return false;
	}
	if (le16_to_cpu(sb->version) != PCACHE_FORMAT_VERSION) {
		/* an older one: Docs/format.md says how to move its data over */
		snprintf(why, len, "%s format version %u (module supports %u)",
			 le16_to_cpu(sb->version) < PCACHE_FORMAT_VERSION ? "older" : "unsupported",
			 le16_to_cpu(sb->version), PCACHE_FORMAT_VERSION);
		return false;
	}
	if (le16_to_cpu(sb->flags)) {	/* version 1 defines no PCACHE_SB_F_* */
		snprintf(why, len, "unknown flags 0x%x", le16_to_cpu(sb->flags));
		return false;
	}
	if (le32_to_cpu(sb->feature_incompat)) {
		snprintf(why, len, "unknown incompat features 0x%x",
			 le32_to_cpu(sb->feature_incompat));
		return false;
	}
	if (le32_to_cpu(sb->feature_ro_compat)) {
		snprintf(why, len, "unknown ro_compat features 0x%x (a cache cannot run read-only)",
			 le32_to_cpu(sb->feature_ro_compat));
		return false;
	}
	if (le32_to_cpu(sb->seg_size) != PCACHE_SEG_SIZE ||
	    le64_to_cpu(sb->segments_off) != PCACHE_SEGMENTS_OFF ||
	    le32_to_cpu(sb->backing_max) != PCACHE_BACKING_MAX) {
		snprintf(why, len, "unexpected geometry seg_size %u segments_off %llu backing_max %u",
			 le32_to_cpu(sb->seg_size), le64_to_cpu(sb->segments_off),
			 le32_to_cpu(sb->backing_max));
		return false;
	}
	if (seg_num < 1 || seg_num > PCACHE_SEG_MAX ||
	    PCACHE_SEGMENTS_OFF + ((u64)seg_num << PCACHE_SEG_SHIFT) > cache_dev->size) {
		snprintf(why, len, "seg_num %u does not fit the device (%llu bytes)", seg_num,
			 cache_dev->size);
		return false;
	}
	return true;
}

static int cache_dev_sb_load(struct pcache_cache_dev *cache_dev, bool force)
{
	static const u64 off[PCACHE_META_COPIES] = { PCACHE_SB_OFF, PCACHE_SB1_OFF };
	struct pcache_sb_onmedia sb[PCACHE_META_COPIES];
	char why[PCACHE_META_COPIES][96];
	bool valid[PCACHE_META_COPIES];
	int i, use = -1, zero_magic = 0;

	for (i = 0; i < PCACHE_META_COPIES; i++) {
		void *src = cache_dev_addr(cache_dev, off[i], sizeof(sb[i]));

		if (!src || copy_mc_to_kernel(&sb[i], src, sizeof(sb[i]))) {
			snprintf(why[i], sizeof(why[i]), "media error");
			valid[i] = false;
			continue;
		}
		if (!sb[i].magic)
			zero_magic++;
		valid[i] = cache_dev_sb_valid(cache_dev, &sb[i], why[i], sizeof(why[i]));
		if (valid[i] && use < 0)
			use = i;
	}

	/*
	 * Only a zero magic in every copy means never formatted. Anything else (random bytes, a bad crc,
	 * a media error) may sit in front of dirty data: format would destroy it, so never advise it.
	 */
	if (use < 0) {
		for (i = 0; i < PCACHE_META_COPIES; i++) {
			u16 ver = le16_to_cpu(sb[i].version);

			/* intact, but another format: not damage */
			if (strncmp(why[i], "media", 5) && le64_to_cpu(sb[i].magic) == PCACHE_MAGIC &&
			    le32_to_cpu(sb[i].crc) == pcache_crc((const u8 *)&sb[i] + 4,
								 PCACHE_SB_CRC_LEN) &&
			    ver != PCACHE_FORMAT_VERSION) {
				cache_dev_err(cache_dev, "%s has on-media format version %u, this module reads version %u%s",
					      cache_dev->path, ver, PCACHE_FORMAT_VERSION,
					      ver < PCACHE_FORMAT_VERSION ?
					      ": write its caches back under the module that wrote it, then format it (Docs/format.md, Upgrading)" :
					      ": load a newer module");
				return -EINVAL;
			}
		}
		if (zero_magic == PCACHE_META_COPIES)
			cache_dev_err(cache_dev, "%s is not formatted, run 'pcachectl format'",
				      cache_dev->path);
		else
			cache_dev_err(cache_dev, "%s: both superblock copies damaged (copy 0: %s; copy 1: %s); run 'pcachectl check %s'",
				      cache_dev->path, why[0], why[1], cache_dev->path);
		return -EINVAL;
	}
	if (!valid[!use])
		cache_dev_warn(cache_dev, "%s: superblock copy %d invalid (%s), using copy %d; run 'pcachectl check' to repair",
			       cache_dev->path, !use, why[!use], use);

	if (le64_to_cpu(sb[use].dev_size) != cache_dev->size && !force) {
		cache_dev_err(cache_dev, "%s: device has %llu bytes but was formatted with %llu; pass force=1 to use it anyway",
			      cache_dev->path, cache_dev->size, le64_to_cpu(sb[use].dev_size));
		return -EINVAL;
	}

	cache_dev->sb = sb[use];
	cache_dev->seg_num = le32_to_cpu(sb[use].seg_num);
	return 0;
}

static void cache_dev_close(struct pcache_cache_dev *cache_dev)
{
	cache_dev_segs_exit(cache_dev);
	cache_dev_unmap(cache_dev);
	fs_put_dax(cache_dev->dax_dev, cache_dev);
	fput(cache_dev->bdev_file);
}

static int cache_dev_open(struct pcache_cache_dev *cache_dev, bool force)
{
	struct block_device *bdev;
	u64 start_off = 0;
	int ret;

	cache_dev->bdev_file = bdev_file_open_by_path(cache_dev->path,
						      BLK_OPEN_READ | BLK_OPEN_WRITE, cache_dev,
						      NULL);
	if (IS_ERR(cache_dev->bdev_file)) {
		ret = PTR_ERR(cache_dev->bdev_file);
		cache_dev_err(cache_dev, "cannot open %s exclusively: %s (%d)", cache_dev->path,
			      ret == -EBUSY ? "in use" : "open failed", ret);
		return ret;
	}
	bdev = file_bdev(cache_dev->bdev_file);
	cache_dev->size = round_down(bdev_nr_bytes(bdev), PAGE_SIZE);

	cache_dev->dax_dev = fs_dax_get_by_bdev(bdev, &start_off, cache_dev, NULL);
	if (!cache_dev->dax_dev) {
		cache_dev_err(cache_dev, "%s does not support DAX (not a pmem device?)",
			      cache_dev->path);
		ret = -EOPNOTSUPP;
		goto close_bdev;
	}
	if (cache_dev->size < PCACHE_SEGMENTS_OFF + PCACHE_SEG_SIZE) {
		cache_dev_err(cache_dev, "%s is too small (%llu bytes)", cache_dev->path,
			      cache_dev->size);
		ret = -EINVAL;
		goto put_dax;
	}

	ret = cache_dev_map(cache_dev, start_off);
	if (ret)
		goto put_dax;
	ret = cache_dev_sb_load(cache_dev, force);
	if (ret)
		goto unmap;
	ret = cache_dev_segs_init(cache_dev);
	if (ret)
		goto unmap;
	return 0;

unmap:
	cache_dev_unmap(cache_dev);
put_dax:
	fs_put_dax(cache_dev->dax_dev, cache_dev);
close_bdev:
	fput(cache_dev->bdev_file);
	return ret;
}

/**
 * pcache_check_dev_path - check a device path given in an option.
 * @object: name used in the log line of a refusal.
 * @path: must lie under /dev/, be shorter than PCACHE_PATH_LEN and name an
 *        existing block device.
 * @devt: receives the device number.
 *
 * Return: 0, -EINVAL, -ENOENT or -ENOTBLK, the refusal logged once.
 */
int pcache_check_dev_path(const char *object, const char *path, dev_t *devt)
{
	int ret;

	if (strlen(path) >= PCACHE_PATH_LEN) {
		pcache_err("%s: path is longer than %d bytes", object, PCACHE_PATH_LEN - 1);
		return -EINVAL;
	}
	if (strncmp(path, "/dev/", 5)) {
		pcache_err("%s: path '%s' is not under /dev/", object, path);
		return -EINVAL;
	}
	ret = lookup_bdev(path, devt);
	if (ret == -ENOTBLK)
		pcache_err("%s: %s is not a block device", object, path);
	else if (ret == -ENOENT)
		pcache_err("%s: %s does not exist", object, path);
	else if (ret)
		pcache_err("%s: cannot look up %s (%d)", object, path, ret);
	return ret;
}

int cache_dev_register(const char *object, char *buf)
{
	struct pcache_opt opts[] = { { .key = "path" }, { .key = "force" } };
	struct pcache_cache_dev *cache_dev, *other;
	u32 force = 0;
	dev_t devt;
	int ret;

	ret = pcache_opts_parse(object, buf, opts, ARRAY_SIZE(opts));
	if (ret)
		return ret;
	if (!opts[0].val) {
		pcache_err("%s: path= is required", object);
		return -EINVAL;
	}
	if (opts[1].val) {
		ret = pcache_opt_u32(object, &opts[1], 0, 1, &force);
		if (ret)
			return ret;
	}
	ret = pcache_check_dev_path(object, opts[0].val, &devt);
	if (ret)
		return ret;

	mutex_lock(&pcache_mutex);
	list_for_each_entry(other, &pcache_cache_devs, node) {
		if (other->devt == devt) {
			pcache_err("%s: %s is already registered as cache_dev%d", object,
				   opts[0].val, other->id);
			ret = -EEXIST;
			goto unlock;
		}
	}

	cache_dev = kzalloc(sizeof(*cache_dev), GFP_KERNEL);
	if (!cache_dev) {
		ret = -ENOMEM;
		goto unlock;
	}
	ret = ida_alloc_max(&cache_dev_ida, PCACHE_CACHE_DEV_MAX - 1, GFP_KERNEL);
	if (ret < 0) {
		pcache_err("%s: no free cache_dev id (%d)", object, ret);
		goto free_cache_dev;
	}
	cache_dev->id = ret;
	mutex_init(&cache_dev->lock);
	spin_lock_init(&cache_dev->seg_lock);
	strscpy(cache_dev->path, opts[0].val, sizeof(cache_dev->path));
	cache_dev->devt = devt;

	ret = cache_dev_open(cache_dev, force);
	if (ret)
		goto free_id;

	device_initialize(&cache_dev->dev);
	device_set_pm_not_required(&cache_dev->dev);
	cache_dev->dev.bus = &pcache_bus_type;
	cache_dev->dev.type = &cache_dev_type;
	cache_dev->dev.parent = pcache_root_dev;
	ret = dev_set_name(&cache_dev->dev, "cache_dev%d", cache_dev->id);
	if (ret)
		goto put_device;
	ret = device_add(&cache_dev->dev);
	if (ret)
		goto put_device;

	list_add_tail(&cache_dev->node, &pcache_cache_devs);
	__module_get(THIS_MODULE);
	cache_dev_info(cache_dev, "registered %s: %u segments of 16 MiB, %u in use",
		       cache_dev->path, cache_dev->seg_num, cache_dev->seg_used);
	mutex_unlock(&pcache_mutex);
	return 0;

put_device:
	/* the release callback frees cache_dev; undo the rest first */
	cache_dev_close(cache_dev);
	ida_free(&cache_dev_ida, cache_dev->id);
	put_device(&cache_dev->dev);
	goto unlock;
free_id:
	ida_free(&cache_dev_ida, cache_dev->id);
free_cache_dev:
	kfree(cache_dev);
unlock:
	mutex_unlock(&pcache_mutex);
	return ret;
}

int cache_dev_unregister(const char *object, char *buf)
{
	struct pcache_opt opts[] = { { .key = "cache_dev_id" } };
	struct pcache_cache_dev *cache_dev = NULL, *iter;
	u32 id;
	int ret;

	ret = pcache_opts_parse(object, buf, opts, ARRAY_SIZE(opts));
	if (ret)
		return ret;
	if (!opts[0].val) {
		pcache_err("%s: cache_dev_id= is required", object);
		return -EINVAL;
	}
	ret = pcache_opt_u32(object, &opts[0], 0, INT_MAX, &id);
	if (ret)
		return ret;

	ret = mutex_lock_interruptible(&pcache_mutex);
	if (ret)
		return ret;
	list_for_each_entry(iter, &pcache_cache_devs, node) {
		if (iter->id == id) {
			cache_dev = iter;
			break;
		}
	}
	if (!cache_dev) {
		pcache_err("%s: cache_dev%u is not registered", object, id);
		ret = -ENOENT;
		goto unlock;
	}

	/* behind a backing-stop: bounded (see backing_dev_stop), and interruptible */
	ret = mutex_lock_interruptible(&cache_dev->lock);
	if (ret)
		goto unlock;
	if (cache_dev->nr_backings) {
		cache_dev_err(cache_dev, "cannot unregister: %u backing devices attached",
			      cache_dev->nr_backings);
		mutex_unlock(&cache_dev->lock);
		ret = -EBUSY;
		goto unlock;
	}
	cache_dev->dying = true;
	mutex_unlock(&cache_dev->lock);

	/* waits for adm stores in flight; they see @dying */
	device_del(&cache_dev->dev);
	list_del(&cache_dev->node);
	cache_dev_close(cache_dev);
	cache_dev_info(cache_dev, "unregistered %s", cache_dev->path);
	ida_free(&cache_dev_ida, cache_dev->id);
	put_device(&cache_dev->dev);
	module_put(THIS_MODULE);
unlock:
	mutex_unlock(&pcache_mutex);
	return ret;
}
