// SPDX-License-Identifier: GPL-2.0
/*
 * Exercises the shadow variable API (Documentation/livepatch/shadow-vars.rst)
 * when loaded, logging every call with its arguments and result.
 *
 * Three objects each get two shadow variables, as a livepatch adding two
 * fields to an existing structure would: id 0x1234 holds a pointer to a
 * char, id 0x1235 a pointer to an int. The module allocates them, finds
 * them again, checks that klp_shadow_get_or_alloc() returns the existing
 * ones, then frees the first set one by one and the second with
 * klp_shadow_free_all(). Nothing is left when init returns, so unloading
 * prints nothing.
 *
 * Addresses change from boot to boot, so the log names each pointer PTR<n>,
 * n being the order in which this module first met it (PTR0 is NULL): the
 * lines then read the same on every run, as the kernel's
 * tools/testing/selftests/livepatch/test-shadow-vars.sh expects them.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#define CHAR_FIELD_ID	0x1234
#define INT_FIELD_ID	0x1235
#define NR_OBJECTS	3

struct test_object {
	int existing_field;
};

static struct test_object objects[NR_OBJECTS];
static char char_fields[NR_OBJECTS];
static int int_fields[NR_OBJECTS];

/*
 * A fixed table, so that naming a pointer never allocates: the test makes
 * 18 of them. A pointer beyond the table is named PTR-1, which no expected
 * line has.
 */
static const void *named[32];
static int nr_named;

static int ptr_name(const void *ptr)
{
	int i;

	for (i = 0; i < nr_named; i++) {
		if (named[i] == ptr)
			return i;
	}
	if (nr_named == ARRAY_SIZE(named))
		return -1;
	named[nr_named] = ptr;
	return nr_named++;
}

/* Stores the field's address (ctor_data) in the new shadow variable. */
static int shadow_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	void **field = shadow_data;

	*field = ctor_data;
	pr_info("%s: PTR%d -> PTR%d\n", __func__,
		ptr_name(shadow_data), ptr_name(ctor_data));
	return 0;
}

static void shadow_dtor(void *obj, void *shadow_data)
{
	int obj_name = ptr_name(obj);

	pr_info("%s(obj=PTR%d, shadow_data=PTR%d)\n", __func__,
		obj_name, ptr_name(shadow_data));
}

/*
 * The wrappers below name the pointers one by one before printing, so that
 * the numbering does not depend on the order in which the compiler
 * evaluates printk's arguments.
 */
static void **shadow_get(void *obj, unsigned long id)
{
	void **sv = klp_shadow_get(obj, id);
	int obj_name = ptr_name(obj);

	pr_info("klp_shadow_get(obj=PTR%d, id=0x%lx) = PTR%d\n",
		obj_name, id, ptr_name(sv));
	return sv;
}

static void log_alloc(const char *call, void *obj, unsigned long id,
		      gfp_t gfp, void *field, void **sv)
{
	int obj_name = ptr_name(obj);
	int ctor_name = ptr_name(shadow_ctor);
	int field_name = ptr_name(field);

	pr_info("%s(obj=PTR%d, id=0x%lx, size=%zx, gfp_flags=%pGg), ctor=PTR%d, ctor_data=PTR%d = PTR%d\n",
		call, obj_name, id, sizeof(field), &gfp, ctor_name,
		field_name, ptr_name(sv));
}

/*
 * The field is named before the call: the constructor's line is printed
 * inside it, and must show the field as an already known pointer.
 */
static void **shadow_alloc(void *obj, unsigned long id, void *field)
{
	void **sv;

	ptr_name(field);
	sv = klp_shadow_alloc(obj, id, sizeof(field), GFP_KERNEL,
			      shadow_ctor, field);
	log_alloc("klp_shadow_alloc", obj, id, GFP_KERNEL, field, sv);
	return sv;
}

static void **shadow_get_or_alloc(void *obj, unsigned long id, void *field)
{
	void **sv;

	ptr_name(field);
	sv = klp_shadow_get_or_alloc(obj, id, sizeof(field), GFP_KERNEL,
				     shadow_ctor, field);
	log_alloc("klp_shadow_get_or_alloc", obj, id, GFP_KERNEL, field, sv);
	return sv;
}

static void shadow_free(void *obj, unsigned long id)
{
	int obj_name;

	klp_shadow_free(obj, id, shadow_dtor);
	obj_name = ptr_name(obj);
	pr_info("klp_shadow_free(obj=PTR%d, id=0x%lx, dtor=PTR%d)\n",
		obj_name, id, ptr_name(shadow_dtor));
}

static void shadow_free_all(unsigned long id)
{
	klp_shadow_free_all(id, NULL);
	pr_info("klp_shadow_free_all(id=0x%lx, dtor=PTR%d)\n",
		id, ptr_name(NULL));
}

/* Returns whether sv is the shadow variable allocated before, still intact. */
static bool check_found(void **sv, void **allocated, void *field)
{
	if (sv != allocated || *sv != field) {
		pr_info("  unexpected PTR%d, allocated PTR%d\n",
			ptr_name(sv), ptr_name(allocated));
		return false;
	}
	pr_info("  got expected PTR%d -> PTR%d result\n",
		ptr_name(sv), ptr_name(*sv));
	return true;
}

static bool check_gone(void **sv)
{
	if (sv) {
		pr_info("  unexpected PTR%d, expected NULL\n", ptr_name(sv));
		return false;
	}
	pr_info("  got expected NULL result\n");
	return true;
}

static int __init livepatch_shadow_vars_init(void)
{
	void **char_svs[NR_OBJECTS], **int_svs[NR_OBJECTS];
	int i;

	ptr_name(NULL);

	/* Nothing is allocated yet. */
	if (!check_gone(shadow_get(&objects[0], CHAR_FIELD_ID)))
		return -EINVAL;

	/* Both calls allocate a missing variable; use both. */
	for (i = 0; i < NR_OBJECTS; i++) {
		if (i % 2)
			char_svs[i] = shadow_alloc(&objects[i], CHAR_FIELD_ID,
						   &char_fields[i]);
		else
			char_svs[i] = shadow_get_or_alloc(&objects[i],
							  CHAR_FIELD_ID,
							  &char_fields[i]);
		if (!char_svs[i])
			goto nomem;
		int_svs[i] = shadow_alloc(&objects[i], INT_FIELD_ID,
					  &int_fields[i]);
		if (!int_svs[i])
			goto nomem;
	}

	for (i = 0; i < NR_OBJECTS; i++) {
		if (!check_found(shadow_get(&objects[i], CHAR_FIELD_ID),
				 char_svs[i], &char_fields[i]) ||
		    !check_found(shadow_get(&objects[i], INT_FIELD_ID),
				 int_svs[i], &int_fields[i]))
			goto fail;
	}

	/* An existing variable is returned as it is: no constructor call. */
	for (i = 0; i < NR_OBJECTS; i++) {
		if (!check_found(shadow_get_or_alloc(&objects[i],
						     CHAR_FIELD_ID,
						     &char_fields[i]),
				 char_svs[i], &char_fields[i]))
			goto fail;
	}

	/* Freeing one variable leaves the object's other one alone. */
	for (i = 0; i < NR_OBJECTS; i++) {
		shadow_free(&objects[i], CHAR_FIELD_ID);
		if (!check_gone(shadow_get(&objects[i], CHAR_FIELD_ID)))
			goto fail;
	}
	for (i = 0; i < NR_OBJECTS; i++) {
		if (!check_found(shadow_get(&objects[i], INT_FIELD_ID),
				 int_svs[i], &int_fields[i]))
			goto fail;
	}

	/* Without a destructor: the order of several frees is not defined. */
	shadow_free_all(INT_FIELD_ID);
	for (i = 0; i < NR_OBJECTS; i++) {
		if (!check_gone(shadow_get(&objects[i], INT_FIELD_ID)))
			goto fail;
	}
	return 0;

nomem:
	klp_shadow_free_all(CHAR_FIELD_ID, NULL);
	klp_shadow_free_all(INT_FIELD_ID, NULL);
	return -ENOMEM;
fail:
	klp_shadow_free_all(CHAR_FIELD_ID, NULL);
	klp_shadow_free_all(INT_FIELD_ID, NULL);
	return -EINVAL;
}

static void __exit livepatch_shadow_vars_exit(void)
{
}

module_init(livepatch_shadow_vars_init);
module_exit(livepatch_shadow_vars_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: the shadow variable API");
