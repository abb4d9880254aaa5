/* Test fixture for test_kernel_image_*: kernel_image_parse on a file between guard pages. */
#ifndef WISP_TESTS_KERNEL_IMAGE_FIXTURE_H
#define WISP_TESTS_KERNEL_IMAGE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "boot/kernel_image.h"

/* What the last parse gave: the image and the reason for a refusal. */
extern struct kernel_image img;
extern const char *why;

/*
 * kernel_image_parse on a copy of buf in a read-only mapping between two PROT_NONE pages,
 * once flush against each: a read outside the file (or any write) crashes the test. Both
 * runs must agree. Returns the result.
 */
int parse(const uint8_t *buf, size_t len);
/* parse must refuse the file (-ENOEXEC) and say why. */
void expect_fail(const uint8_t *buf, size_t len, const char *what);
/* What every successful parse must promise: segments inside the file, sane sizes. */
void check_consistent(size_t len);

#endif
