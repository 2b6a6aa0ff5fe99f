// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - the `pcache` bus, its root device, strict option parsing and
 * module init/exit.
 *
 * /sys/bus/pcache/cache_dev_register and cache_dev_unregister live here;
 * everything under cache_devN/ lives with its object. Every store needs
 * CAP_SYS_ADMIN. A registered cache_dev holds a reference on this module, so
 * the module cannot be unloaded while any device exists.
 */
#include <linux/module.h>
#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "pcache_internal.h"
#include "cache.h"

DEFINE_MUTEX(pcache_mutex);
LIST_HEAD(pcache_cache_devs);
struct device *pcache_root_dev;

/**
 * pcache_opts_parse - split "key=value,key=value[\n]" into @opts.
 * @object: name used in the log line of a refusal ("cache_dev_register").
 * @buf: writable, NUL-terminated input; values end up pointing into it.
 * @opts: known keys; their @val is set, or left NULL when absent.
 * @nr: entries in @opts.
 *
 * One trailing newline is accepted (echo adds it). Empty input, an empty
 * token, a token without '=', an empty value, an unknown key or a key given
 * twice are refused with -EINVAL and one log line.
 *
 * Return: 0 or -EINVAL.
 */
int pcache_opts_parse(const char *object, char *buf, struct pcache_opt *opts, int nr)
{
	size_t len = strlen(buf);
	char *token, *val;
	int i;

	for (i = 0; i < nr; i++)
		opts[i].val = NULL;

	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (!len) {
		pcache_err("%s: empty input", object);
		return -EINVAL;
	}

	while ((token = strsep(&buf, ",")) != NULL) {
		if (!*token) {
			pcache_err("%s: empty option (stray comma)", object);
			return -EINVAL;
		}
		val = strchr(token, '=');
		if (!val) {
			pcache_err("%s: option '%.32s' has no '=value'", object, token);
			return -EINVAL;
		}
		*val++ = '\0';
		for (i = 0; i < nr; i++)
			if (!strcmp(token, opts[i].key))
				break;
		if (i == nr) {
			pcache_err("%s: unknown option '%.32s'", object, token);
			return -EINVAL;
		}
		if (opts[i].val) {
			pcache_err("%s: option '%s' given twice", object, opts[i].key);
			return -EINVAL;
		}
		if (!*val) {
			pcache_err("%s: option '%s' has an empty value", object, opts[i].key);
			return -EINVAL;
		}
		opts[i].val = val;
	}
	return 0;
}

/**
 * pcache_opt_u32 - parse a decimal option value and check its range.
 * @object: name used in the log line of a refusal.
 * @opt: the option, with a non-NULL value.
 * @min: smallest accepted value.
 * @max: largest accepted value.
 * @out: receives the value.
 *
 * Return: 0, or -EINVAL with one log line naming the option when the value
 * is negative, non-numeric, overflowing, has trailing garbage or lies
 * outside [@min, @max].
 */
int pcache_opt_u32(const char *object, const struct pcache_opt *opt, u32 min, u32 max,
		   u32 *out)
{
	u32 v;

	if (kstrtou32(opt->val, 10, &v)) {
		pcache_err("%s: %s='%.32s' is not a decimal number", object, opt->key, opt->val);
		return -EINVAL;
	}
	if (v < min || v > max) {
		pcache_err("%s: %s=%u out of range %u..%u", object, opt->key, v, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/**
 * pcache_capable - whether the writer may change pcache state.
 * @object: the attribute, for the (rate-limited) log line of a refusal.
 *
 * Return: true with CAP_SYS_ADMIN; else false, and the store returns -EPERM.
 */
bool pcache_capable(const char *object)
{
	if (capable(CAP_SYS_ADMIN))
		return true;
	pr_err_ratelimited("pcache: %s: permission denied (CAP_SYS_ADMIN required)\n", object);
	return false;
}

/**
 * pcache_store_dup - copy what a sysfs store received into a string.
 * @object: name used in the log line of a refusal.
 * @ubuf: the bytes written.
 * @size: how many; sysfs hands over at most PAGE_SIZE bytes of a write and
 *        silently passes the rest as a further write, so PAGE_SIZE or more
 *        bytes is refused as too long (no valid input comes close).
 *
 * Return: a kmalloc'ed NUL-terminated copy, or an ERR_PTR (-EINVAL for
 * input that is too long or holds a NUL byte, logged; -ENOMEM).
 */
char *pcache_store_dup(const char *object, const char *ubuf, size_t size)
{
	char *buf;

	if (size >= PAGE_SIZE) {
		pcache_err("%s: input too long (%zu bytes)", object, size);
		return ERR_PTR(-EINVAL);
	}
	if (memchr(ubuf, '\0', size)) {
		pcache_err("%s: input contains a NUL byte", object);
		return ERR_PTR(-EINVAL);
	}
	buf = kmemdup_nul(ubuf, size, GFP_KERNEL);
	return buf ?: ERR_PTR(-ENOMEM);
}

static ssize_t cache_dev_register_store(const struct bus_type *bus, const char *ubuf,
					size_t size)
{
	char *buf;
	int ret;

	if (!pcache_capable("cache_dev_register"))
		return -EPERM;

	buf = pcache_store_dup("cache_dev_register", ubuf, size);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = cache_dev_register("cache_dev_register", buf);
	kfree(buf);

	return ret ? ret : size;
}
static BUS_ATTR_WO(cache_dev_register);

static ssize_t cache_dev_unregister_store(const struct bus_type *bus, const char *ubuf,
					  size_t size)
{
	char *buf;
	int ret;

	if (!pcache_capable("cache_dev_unregister"))
		return -EPERM;

	buf = pcache_store_dup("cache_dev_unregister", ubuf, size);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = cache_dev_unregister("cache_dev_unregister", buf);
	kfree(buf);

	return ret ? ret : size;
}
static BUS_ATTR_WO(cache_dev_unregister);

static struct attribute *pcache_bus_attrs[] = {
	&bus_attr_cache_dev_register.attr,
	&bus_attr_cache_dev_unregister.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pcache_bus);

const struct bus_type pcache_bus_type = {
	.name		= "pcache",
	.bus_groups	= pcache_bus_groups,
};

static int __init pcache_init(void)
{
	int ret;

	ret = pcache_cache_module_init();
	if (ret)
		return ret;

	ret = logic_dev_init();
	if (ret)
		goto exit_cache;

	pcache_root_dev = root_device_register("pcache");
	if (IS_ERR(pcache_root_dev)) {
		ret = PTR_ERR(pcache_root_dev);
		goto exit_logic_dev;
	}

	ret = bus_register(&pcache_bus_type);
	if (ret)
		goto unregister_root;

	pcache_info("loaded, on-media format version %u", PCACHE_FORMAT_VERSION);
	return 0;

unregister_root:
	root_device_unregister(pcache_root_dev);
exit_logic_dev:
	logic_dev_exit();
exit_cache:
	pcache_cache_module_exit();
	return ret;
}

/*
 * Every cache_dev holds a module reference, so by the time exit runs no
 * device is left; the bus goes first so no new register can start.
 */
static void __exit pcache_exit(void)
{
	bus_unregister(&pcache_bus_type);
	root_device_unregister(pcache_root_dev);
	logic_dev_exit();
	pcache_cache_module_exit();
	pcache_info("unloaded");
}

module_init(pcache_init);
module_exit(pcache_exit);

MODULE_DESCRIPTION("pcache: persistent memory cache for block devices");
MODULE_LICENSE("GPL");
