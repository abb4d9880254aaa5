/* Detecting kvm_pvm through sysfs. */
#include "kvm/host.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

bool kvm_host_is_pvm(const char *sysfs_root)
{
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/module/kvm_pvm", sysfs_root) >= (int)sizeof(path))
                return false;
        return access(path, F_OK) == 0;
}
