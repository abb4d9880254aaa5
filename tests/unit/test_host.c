/* Unit tests for kvm/host.c: kvm_pvm detection through a fake sysfs tree. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm/host.h"

static char root[] = "/tmp/wisp-sysfs-XXXXXX";
static char path[PATH_MAX];

static void setup(void)
{
        cr_assert_not_null(mkdtemp(root));
        snprintf(path, sizeof(path), "%s/module", root);
        cr_assert_eq(mkdir(path, 0755), 0);
}

static void teardown(void)
{
        snprintf(path, sizeof(path), "%s/module/kvm_pvm", root);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/module/kvm_intel", root);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/module", root);
        rmdir(path);
        rmdir(root);
}

TestSuite(host, .init = setup, .fini = teardown);

Test(host, kvm_pvm_module_present)
{
        snprintf(path, sizeof(path), "%s/module/kvm_pvm", root);
        cr_assert_eq(mkdir(path, 0755), 0);
        cr_assert(kvm_host_is_pvm(root));
}

Test(host, other_kvm_modules_are_not_pvm)
{
        snprintf(path, sizeof(path), "%s/module/kvm_intel", root);
        cr_assert_eq(mkdir(path, 0755), 0);
        cr_assert_not(kvm_host_is_pvm(root));
}

Test(host, missing_root_and_overlong_paths)
{
        char *longroot = malloc(PATH_MAX + 16);

        cr_assert_not(kvm_host_is_pvm("/nonexistent/wisp/sysfs"));
        memset(longroot, 'a', PATH_MAX + 15);
        longroot[0] = '/';
        longroot[PATH_MAX + 15] = 0;
        cr_assert_not(kvm_host_is_pvm(longroot), "too long for PATH_MAX: false, no overflow");
        free(longroot);
}
