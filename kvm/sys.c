/* The host implementation of struct kvm_sys: plain ioctl(2) and mmap(2). */
#include "kvm/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int host_ioctl(const struct kvm_sys *sys, int fd, unsigned long req, void *arg)
{
        (void)sys;
        /* EINTR is passed up, not retried: it is how a vCPU is stopped. */
        int r = ioctl(fd, req, arg);

        return r < 0 ? -errno : r;
}

static int host_open_dev(const struct kvm_sys *sys)
{
        (void)sys;
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static void *host_map_run(const struct kvm_sys *sys, int vcpu_fd, size_t size)
{
        (void)sys;
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);

        return p == MAP_FAILED ? NULL : p;
}

static void host_unmap_run(const struct kvm_sys *sys, void *run, size_t size)
{
        (void)sys;
        munmap(run, size);
}

const struct kvm_sys kvm_sys_host = {
    .ioctl = host_ioctl,
    .open_dev = host_open_dev,
    .map_run = host_map_run,
    .unmap_run = host_unmap_run,
};
