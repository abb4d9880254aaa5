/* VM creation: capability checks, RAM slots around the PCI hole, irqchip, PIT. */
#include "kvm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/layout.h"

#define CPUID_MAX_ENTRIES 256
#define MSR_LIST_MAX 1024

struct cap {
        unsigned int id;
        const char *name;
};

static const struct cap required_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
};

static int open_dev(struct kvm_vm *vm, char *err, size_t errlen)
{
        int fd = vm->sys->open_dev(vm->sys);

        if (fd == -ENOENT)
                snprintf(err, errlen,
                         "/dev/kvm does not exist: load the kvm_intel or kvm_amd "
                         "module and enable virtualisation in the firmware");
        else if (fd == -EACCES || fd == -EPERM)
                snprintf(err, errlen,
                         "no permission to open /dev/kvm: add the user to the "
                         "'kvm' group or run as root");
        else if (fd < 0)
                snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(-fd));
        return fd;
}

static int check_caps(struct kvm_vm *vm, char *err, size_t errlen)
{
        int r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_GET_API_VERSION, NULL);

        if (r != KVM_API_VERSION) {
                snprintf(err, errlen, "/dev/kvm speaks API version %d, wisp needs %d", r,
                         KVM_API_VERSION);
                return -ENOTSUP;
        }
        for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
                r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_CHECK_EXTENSION,
                              (void *)(unsigned long)required_caps[i].id);
                if (r <= 0) {
                        snprintf(err, errlen,
                                 "the host's KVM lacks %s: a newer host kernel is "
                                 "needed",
                                 required_caps[i].name);
                        return -ENOTSUP;
                }
        }
        r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_MAX_VCPUS);
        vm->max_vcpus = r > 0 ? (unsigned int)r : 1;
        r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
        if (r <= 0) {
                snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(-r));
                return r < 0 ? r : -EINVAL;
        }
        vm->run_size = (size_t)r;
        return 0;
}

static int get_host_tables(struct kvm_vm *vm, char *err, size_t errlen)
{
        int r;

        vm->supported = calloc(1, sizeof(*vm->supported) +
                                      CPUID_MAX_ENTRIES * sizeof(vm->supported->entries[0]));
        vm->msrs = calloc(1, sizeof(*vm->msrs) + MSR_LIST_MAX * sizeof(vm->msrs->indices[0]));
        if (!vm->supported || !vm->msrs)
                return -ENOMEM;
        vm->supported->nent = CPUID_MAX_ENTRIES;
        r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->supported);
        if (r < 0) {
                snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-r));
                return r;
        }
        vm->msrs->nmsrs = MSR_LIST_MAX;
        r = kvm_ioctl(vm->sys, vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, vm->msrs);
        if (r < 0) {
                snprintf(err, errlen, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(-r));
                return r;
        }
        return 0;
}

static int map_ram(struct kvm_vm *vm, uint64_t ram_size, char *err, size_t errlen)
{
        int r = guest_mem_layout(&vm->mem, ram_size);

        if (r < 0) {
                snprintf(err, errlen, "guest memory size must be a non-zero multiple of 4 KiB");
                return r;
        }
        for (unsigned int i = 0; i < vm->mem.nr; i++) {
                struct guest_region *g = &vm->mem.region[i];
                /* NORESERVE: the guest's RAM costs host memory only as it
                 * is touched, so -m sizes the ceiling, not the footprint. */
                void *p = mmap(NULL, g->size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                struct kvm_userspace_memory_region slot = {
                    .slot = i, .guest_phys_addr = g->gpa, .memory_size = g->size};

                if (p == MAP_FAILED) {
                        r = -errno;
                        snprintf(err, errlen, "cannot map %llu MiB of guest memory: %s",
                                 (unsigned long long)(g->size >> 20), strerror(errno));
                        return r;
                }
                g->host = p;
                /* Guest RAM is never part of a core dump of wisp. */
                madvise(p, g->size, MADV_DONTDUMP);
                slot.userspace_addr = (uint64_t)(unsigned long)p;
                r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
                if (r < 0) {
                        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION failed: %s",
                                 strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int create_machine(struct kvm_vm *vm, char *err, size_t errlen)
{
        uint64_t ident = WISP_KVM_IDENTITY_MAP_ADDR;
        struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
        int r;

        r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_SET_TSS_ADDR, (void *)WISP_KVM_TSS_ADDR);
        if (r >= 0)
                r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
        if (r >= 0)
                r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
        if (r >= 0)
                r = kvm_ioctl(vm->sys, vm->vm_fd, KVM_CREATE_PIT2, &pit);
        if (r < 0)
                snprintf(err, errlen, "cannot set up the VM's irqchip and PIT: %s", strerror(-r));
        return r < 0 ? r : 0;
}

int kvm_vm_open(struct kvm_vm *vm, const struct kvm_sys *sys, uint64_t ram_size, bool pvm,
                char *err, size_t errlen)
{
        int r;

        memset(vm, 0, sizeof(*vm));
        vm->sys = sys;
        vm->vm_fd = -1;
        vm->pvm = pvm;
        vm->kvm_fd = r = open_dev(vm, err, errlen);
        if (r < 0)
                goto fail;
        r = check_caps(vm, err, errlen);
        if (r < 0)
                goto fail;
        r = get_host_tables(vm, err, errlen);
        if (r < 0)
                goto fail;
        vm->vm_fd = r = kvm_ioctl(sys, vm->kvm_fd, KVM_CREATE_VM, NULL);
        if (r < 0) {
                snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(-r));
                goto fail;
        }
        r = create_machine(vm, err, errlen);
        if (r < 0)
                goto fail;
        r = map_ram(vm, ram_size, err, errlen);
        if (r < 0)
                goto fail;
        return 0;
fail:
        kvm_vm_close(vm);
        return r;
}

void kvm_vm_close(struct kvm_vm *vm)
{
        for (unsigned int i = 0; i < vm->mem.nr; i++)
                if (vm->mem.region[i].host)
                        munmap(vm->mem.region[i].host, vm->mem.region[i].size);
        memset(&vm->mem, 0, sizeof(vm->mem));
        if (vm->vm_fd >= 0)
                close(vm->vm_fd);
        if (vm->kvm_fd >= 0)
                close(vm->kvm_fd);
        vm->vm_fd = vm->kvm_fd = -1;
        free(vm->supported);
        free(vm->msrs);
        vm->supported = NULL;
        vm->msrs = NULL;
}

int kvm_vm_irq_line(struct kvm_vm *vm, unsigned int gsi, int level)
{
        struct kvm_irq_level irq = {.irq = gsi, .level = level};

        return kvm_ioctl(vm->sys, vm->vm_fd, KVM_IRQ_LINE, &irq);
}
