/* The seam between wisp and /dev/kvm: every KVM ioctl and mmap goes through here. */
#ifndef WISP_KVM_SYS_H
#define WISP_KVM_SYS_H

#include <stddef.h>

/*
 * wisp never calls ioctl() on a KVM fd directly. Unit tests substitute a fake
 * that answers the queries and records what was set, so the VM and vCPU
 * set-up logic runs without /dev/kvm.
 */
struct kvm_sys {
        /* Returns the ioctl's non-negative result or -errno. */
        int (*ioctl)(const struct kvm_sys *sys, int fd, unsigned long req, void *arg);
        /* Opens /dev/kvm (or the fake's equivalent); returns an fd or -errno. */
        int (*open_dev)(const struct kvm_sys *sys);
        /* Maps a vCPU's struct kvm_run; returns NULL with errno set on failure. */
        void *(*map_run)(const struct kvm_sys *sys, int vcpu_fd, size_t size);
        void (*unmap_run)(const struct kvm_sys *sys, void *run, size_t size);
        void *ctx; /* the fake's state */
};

/* The real thing: ioctl(2) on /dev/kvm. */
extern const struct kvm_sys kvm_sys_host;

static inline int kvm_ioctl(const struct kvm_sys *sys, int fd, unsigned long req, void *arg)
{
        return sys->ioctl(sys, fd, req, arg);
}

#endif
