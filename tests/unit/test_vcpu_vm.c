/* Unit tests for kvm/vm.c and kvm/vcpu.c through a fake kvm_sys, plus vcpu.c's pure helpers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/cpu_tables.h"
#include "boot/layout.h"
#include "fake_kvm.h"
#include "kvm/cpuid.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct fake_kvm fk;
static struct kvm_vm vm;
static char err[512];

static void setup(void)
{
        fake_kvm_init(&fk);
        memset(err, 0, sizeof(err));
}

TestSuite(vm, .init = setup);
TestSuite(vcpu, .init = setup);

static uint32_t reg32(const struct kvm_lapic_state *l, unsigned int off)
{
        uint32_t v;

        memcpy(&v, &l->regs[off], 4);
        return v;
}

/* ---- kvm_vm_open ---- */

Test(vm, open_64_mib)
{
        int kvm_fd, vm_fd;

        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 64 * MiB, false, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(fk.wrong_fd, 0, "every ioctl went to the right kind of fd");
        cr_assert_eq(vm.kvm_fd, fk.kvm_fd);
        cr_assert_eq(vm.vm_fd, fk.vm_fd);
        cr_assert_eq(vm.run_size, 3 * 4096);
        cr_assert_eq(vm.max_vcpus, 288);
        cr_assert_not(vm.pvm);

        cr_assert_eq(fk.nslot, 1);
        cr_assert_eq(fk.slot[0].slot, 0);
        cr_assert_eq(fk.slot[0].guest_phys_addr, 0);
        cr_assert_eq(fk.slot[0].memory_size, 64 * MiB);
        cr_assert_eq(fk.slot[0].flags, 0);
        cr_assert_eq(fk.slot[0].userspace_addr, (uint64_t)(uintptr_t)vm.mem.region[0].host);
        cr_assert_eq(vm.mem.nr, 1);

        cr_assert_eq(fk.tss_addr, WISP_KVM_TSS_ADDR);
        cr_assert_eq(fk.identity_addr, WISP_KVM_IDENTITY_MAP_ADDR);
        cr_assert_eq(fake_kvm_count(&fk, KVM_CREATE_IRQCHIP), 1);
        cr_assert_eq(fake_kvm_count(&fk, KVM_CREATE_PIT2), 1);
        cr_assert_eq(fk.pit.flags, KVM_PIT_SPEAKER_DUMMY);
        cr_assert_eq(fake_kvm_count(&fk, KVM_CREATE_VM), 1);

        cr_assert_not_null(vm.supported);
        cr_assert_eq(vm.supported->nent, fk.ncpuid);
        cr_assert_eq(memcmp(vm.supported->entries, fk.cpuid, fk.ncpuid * sizeof(fk.cpuid[0])), 0);
        cr_assert_not_null(vm.msrs);
        cr_assert_eq(vm.msrs->nmsrs, fk.nmsr_index);
        cr_assert_eq(vm.msrs->indices[3], 0x1a0);

        /* The slot is real memory: guest writes land in it. */
        cr_assert_eq(guest_write(&vm.mem, 64 * MiB - 4, "wisp", 4), 0);
        cr_assert_eq(memcmp(vm.mem.region[0].host + 64 * MiB - 4, "wisp", 4), 0);

        kvm_fd = vm.kvm_fd;
        vm_fd = vm.vm_fd;
        kvm_vm_close(&vm);
        cr_assert_not(fd_is_open(kvm_fd), "/dev/kvm fd closed");
        cr_assert_not(fd_is_open(vm_fd), "VM fd closed");
        cr_assert_null(vm.supported);
        cr_assert_null(vm.msrs);
        cr_assert_eq(vm.mem.nr, 0);
        kvm_vm_close(&vm); /* a second close is harmless */
}

Test(vm, ram_above_the_hole_gets_a_second_slot_at_4_gib)
{
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 3 * GiB + 64 * MiB, false, err, sizeof(err)), 0,
                     "%s", err);
        cr_assert_eq(fk.nslot, 2);
        cr_assert_eq(fk.slot[0].slot, 0);
        cr_assert_eq(fk.slot[0].guest_phys_addr, 0);
        cr_assert_eq(fk.slot[0].memory_size, 3 * GiB);
        cr_assert_eq(fk.slot[1].slot, 1);
        cr_assert_eq(fk.slot[1].guest_phys_addr, 4 * GiB);
        cr_assert_eq(fk.slot[1].memory_size, 64 * MiB);
        cr_assert_eq(fk.slot[1].userspace_addr, (uint64_t)(uintptr_t)vm.mem.region[1].host);
        cr_assert_neq(fk.slot[0].userspace_addr, fk.slot[1].userspace_addr);
        cr_assert_eq(guest_write(&vm.mem, 4 * GiB + 8, "hi", 2), 0);
        cr_assert_eq(memcmp(vm.mem.region[1].host + 8, "hi", 2), 0);
        kvm_vm_close(&vm);
}

Test(vm, pvm_flag_is_kept)
{
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, true, err, sizeof(err)), 0, "%s", err);
        cr_assert(vm.pvm);
        kvm_vm_close(&vm);
}

Test(vm, missing_dev_kvm_says_how_to_fix_it)
{
        fk.open_result = -ENOENT;
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), -ENOENT);
        cr_assert(strstr(err, "/dev/kvm"), "err: %s", err);
        cr_assert(strstr(err, "kvm_intel") || strstr(err, "kvm_amd"), "names the module: %s", err);
        cr_assert(strstr(err, "firmware") || strstr(err, "BIOS"), "mentions enabling VT: %s", err);
        cr_assert_eq(fk.nlog, 0, "no ioctl without a device");
}

Test(vm, no_permission_says_how_to_fix_it)
{
        const int errs[] = {-EACCES, -EPERM};

        for (size_t i = 0; i < 2; i++) {
                setup();
                fk.open_result = errs[i];
                cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), errs[i]);
                cr_assert(strstr(err, "/dev/kvm"), "err: %s", err);
                cr_assert(strstr(err, "kvm' group") || strstr(err, "kvm group"),
                          "names the group: %s", err);
                cr_assert(strstr(err, "root"), "err: %s", err);
        }
}

Test(vm, other_open_errors_are_named)
{
        fk.open_result = -EBUSY;
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), -EBUSY);
        cr_assert(strstr(err, "/dev/kvm"), "err: %s", err);
        cr_assert(strstr(err, strerror(EBUSY)), "err: %s", err);
}

Test(vm, wrong_api_version)
{
        int kvm_fd;

        fk.api_version = 11;
        cr_assert_lt(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), 0);
        cr_assert(strstr(err, "11") && strstr(err, "12"), "err: %s", err);
        kvm_fd = fk.kvm_fd;
        cr_assert_not(fd_is_open(kvm_fd), "nothing left open");
        cr_assert_eq(fake_kvm_count(&fk, KVM_CREATE_VM), 0);
}

Test(vm, each_missing_capability_is_named)
{
        static const struct {
                unsigned long id;
                const char *name;
        } caps[] = {
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

        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
                setup();
                fk.cap_missing = true;
                fk.missing_cap = caps[i].id;
                cr_assert_lt(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), 0,
                             "%s missing but the VM opened", caps[i].name);
                cr_assert(strstr(err, caps[i].name), "err does not name %s: %s", caps[i].name, err);
                cr_assert_not(fd_is_open(fk.kvm_fd), "%s: /dev/kvm left open", caps[i].name);
                cr_assert_eq(fake_kvm_count(&fk, KVM_CREATE_VM), 0);
        }
}

Test(vm, missing_max_vcpus_capability_means_one)
{
        fk.cap_missing = true;
        fk.missing_cap = KVM_CAP_MAX_VCPUS;
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(vm.max_vcpus, 1);
        kvm_vm_close(&vm);
}

Test(vm, bad_mmap_size)
{
        fk.mmap_size = 0;
        cr_assert_lt(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), 0);
        cr_assert(strstr(err, "KVM_GET_VCPU_MMAP_SIZE"), "err: %s", err);
        cr_assert_not(fd_is_open(fk.kvm_fd));
}

/* A failing step names itself and leaves nothing open. */
static void open_fails_at(unsigned long req, const char *name)
{
        int r;

        setup();
        fk.fail_req = req;
        fk.fail_err = -EINVAL;
        r = kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err));
        cr_assert_eq(r, -EINVAL, "%s: returned %d", name, r);
        cr_assert_neq(err[0], 0, "%s: no message", name);
        if (name)
                cr_assert(strstr(err, name), "err does not name %s: %s", name, err);
        cr_assert_not(fd_is_open(fk.kvm_fd), "%s: /dev/kvm left open", name);
        if (fk.vm_fd >= 0)
                cr_assert_not(fd_is_open(fk.vm_fd), "%s: VM fd left open", name);
        cr_assert_null(vm.supported);
        cr_assert_eq(vm.mem.nr, 0);
}

Test(vm, failing_steps_are_named_and_unwound)
{
        open_fails_at(KVM_GET_SUPPORTED_CPUID, "KVM_GET_SUPPORTED_CPUID");
        open_fails_at(KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST");
        open_fails_at(KVM_CREATE_VM, "KVM_CREATE_VM");
        open_fails_at(KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION");
        open_fails_at(KVM_CREATE_IRQCHIP, "irqchip");
        open_fails_at(KVM_CREATE_PIT2, "PIT");
        open_fails_at(KVM_SET_TSS_ADDR, NULL);
}

Test(vm, bad_ram_size)
{
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 64 * MiB + 100, false, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "4 KiB"), "err: %s", err);
        cr_assert_not(fd_is_open(fk.kvm_fd));
        cr_assert_not(fd_is_open(fk.vm_fd));
        cr_assert_eq(fk.nslot, 0);
}

Test(vm, irq_line)
{
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, false, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(kvm_vm_irq_line(&vm, 4, 1), 0);
        cr_assert_eq(fk.irq.irq, 4);
        cr_assert_eq(fk.irq.level, 1);
        cr_assert_eq(kvm_vm_irq_line(&vm, 4, 0), 0);
        cr_assert_eq(fk.irq.level, 0);
        cr_assert_eq(fk.wrong_fd, 0);
        kvm_vm_close(&vm);
}

/* ---- kvm_vcpu_create ---- */

static void open_vm(bool pvm)
{
        cr_assert_eq(kvm_vm_open(&vm, &fk.sys, 2 * MiB, pvm, err, sizeof(err)), 0, "%s", err);
}

Test(vcpu, create_sets_cpuid_msrs_fpu_and_lapic)
{
        struct kvm_vcpu v;
        struct kvm_cpuid_entry2 want[FAKE_MAX_CPUID + 8];
        struct cpuid_params p = {.ncpus = 2, .apic_id = 1, .pvm = false};
        struct kvm_msr_entry msrs[16];
        unsigned int nmsrs;
        int n;

        open_vm(false);
        cr_assert_eq(kvm_vcpu_create(&vm, 1, 2, &v, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(fk.wrong_fd, 0);
        cr_assert_eq(fk.nvcpu, 1);
        cr_assert_eq(fk.vcpu_id[0], 1, "KVM_CREATE_VCPU gets the index as its APIC id");
        cr_assert_eq(v.fd, fk.vcpu_fd[0]);
        cr_assert_eq(v.index, 1);
        cr_assert_eq(v.run, fk.run);
        cr_assert_eq(fk.run_size, vm.run_size, "kvm_run mapped with the KVM-reported size");
        cr_assert_eq(fk.run_fd, v.fd);

        n = cpuid_template(vm.supported->entries, vm.supported->nent, &p, want, FAKE_MAX_CPUID);
        cr_assert_gt(n, 0);
        cr_assert_eq(fk.nset_cpuid, (unsigned int)n);
        cr_assert_eq(memcmp(fk.set_cpuid, want, n * sizeof(want[0])), 0, "the template's entries");
        cr_assert_eq(fk.set_cpuid_fd, v.fd);

        nmsrs = kvm_boot_msrs(fk.msr_index, fk.nmsr_index, msrs, 16);
        cr_assert_eq(fk.nset_msrs, nmsrs);
        cr_assert_eq(nmsrs, 10);
        cr_assert_eq(memcmp(fk.set_msrs, msrs, nmsrs * sizeof(msrs[0])), 0);

        cr_assert_eq(fk.fpu.fcw, 0x37f);
        cr_assert_eq(fk.fpu.mxcsr, 0x1f80);

        cr_assert_eq(fake_kvm_count(&fk, KVM_GET_LAPIC), 1);
        cr_assert_eq(fake_kvm_count(&fk, KVM_SET_LAPIC), 1);
        cr_assert_eq((reg32(&fk.set_lapic, 0x350) >> 8) & 7, 7, "LVT0 ExtINT");
        cr_assert_eq((reg32(&fk.set_lapic, 0x360) >> 8) & 7, 4, "LVT1 NMI");
        cr_assert_eq(reg32(&fk.set_lapic, 0x350) & (1u << 16), 0, "LVT0 unmasked");
        cr_assert_eq(reg32(&fk.set_lapic, 0x360) & (1u << 16), 0, "LVT1 unmasked");
        cr_assert_eq(reg32(&fk.set_lapic, 0x30), 0x14, "other registers as KVM gave them");

        kvm_vcpu_destroy(&v);
        cr_assert_eq(fk.unmaps, 1);
        cr_assert_not(fd_is_open(fk.vcpu_fd[0]));
        kvm_vm_close(&vm);
}

Test(vcpu, pvm_hides_the_vmcall_features)
{
        struct kvm_vcpu v;
        const struct kvm_cpuid_entry2 *e = NULL;

        open_vm(true);
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), 0, "%s", err);
        for (unsigned int i = 0; i < fk.nset_cpuid; i++)
                if (fk.set_cpuid[i].function == 0x40000001)
                        e = &fk.set_cpuid[i];
        cr_assert_not_null(e);
        cr_assert_eq(e->eax & (1u << 7 | 1u << 9 | 1u << 11 | 1u << 13 | 1u << 16), 0);
        cr_assert(e->eax & (1u << 3), "kvmclock kept");
        kvm_vcpu_destroy(&v);
        kvm_vm_close(&vm);
}

static void create_fails_at(unsigned long req, const char *step, int want)
{
        struct kvm_vcpu v;
        int r;

        setup();
        open_vm(false);
        fk.fail_req = req;
        fk.fail_err = -EIO;
        r = kvm_vcpu_create(&vm, 3, 4, &v, err, sizeof(err));
        cr_assert_eq(r, want, "%s: returned %d", step, r);
        cr_assert(strstr(err, "vCPU 3"), "err: %s", err);
        cr_assert(strstr(err, step), "err does not name %s: %s", step, err);
        cr_assert_eq(fk.maps, fk.unmaps, "%s: kvm_run left mapped", step);
        for (unsigned int i = 0; i < fk.nvcpu; i++)
                cr_assert_not(fd_is_open(fk.vcpu_fd[i]), "%s: vCPU fd left open", step);
        cr_assert_eq(v.fd, -1);
        cr_assert_null(v.run);
        kvm_vm_close(&vm);
}

Test(vcpu, failing_steps_are_named_and_unwound)
{
        create_fails_at(KVM_CREATE_VCPU, "KVM_CREATE_VCPU", -EIO);
        create_fails_at(KVM_SET_CPUID2, "KVM_SET_CPUID2", -EIO);
        create_fails_at(KVM_SET_MSRS, "KVM_SET_MSRS", -EIO);
        create_fails_at(KVM_SET_FPU, "FPU", -EIO);
        create_fails_at(KVM_GET_LAPIC, "LAPIC", -EIO);
        create_fails_at(KVM_SET_LAPIC, "LAPIC", -EIO);
}

Test(vcpu, msrs_partly_refused)
{
        struct kvm_vcpu v;

        open_vm(false);
        fk.msrs_short = 1;
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "KVM_SET_MSRS"), "err: %s", err);
        cr_assert_not(fd_is_open(fk.vcpu_fd[0]));
        kvm_vm_close(&vm);
}

Test(vcpu, map_run_failure)
{
        struct kvm_vcpu v;

        open_vm(false);
        fk.map_fail = true;
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), -ENOMEM);
        cr_assert(strstr(err, "kvm_run"), "err: %s", err);
        cr_assert_not(fd_is_open(fk.vcpu_fd[0]));
        kvm_vm_close(&vm);
}

static void check_boot_state(enum boot_mode mode, uint64_t entry, uint64_t info)
{
        struct kvm_vcpu v;
        struct boot_plan plan = {.mode = mode, .entry = entry, .info_gpa = info};
        struct kvm_sregs want = fk.sregs;

        open_vm(false);
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(kvm_vcpu_set_boot_state(&v, &plan), 0);
        cr_assert_eq(fk.wrong_fd, 0);
        boot_sregs(&want, mode, WISP_GDT_ADDR, WISP_PML4_ADDR);
        cr_assert_eq(memcmp(&fk.set_sregs, &want, sizeof(want)), 0,
                     "sregs = boot_sregs over what KVM_GET_SREGS returned");
        cr_assert_eq(fk.set_sregs.apic_base, 0xfee00900, "KVM's APIC base kept");
        cr_assert_eq(fk.set_sregs.interrupt_bitmap[0], 0x8000000000000001ull);
        cr_assert_eq(fk.set_regs.rip, entry);
        cr_assert_eq(fk.set_regs.rsp, WISP_BOOT_STACK);
        cr_assert_eq(fk.set_regs.rflags, 2);
        if (mode == BOOT_LONG64) {
                cr_assert_eq(fk.set_regs.rsi, info);
                cr_assert_eq(fk.set_sregs.cs.selector, 0x10);
                cr_assert_eq(fk.set_sregs.cs.l, 1);
                cr_assert_eq(fk.set_sregs.cr3, WISP_PML4_ADDR);
        } else {
                cr_assert_eq(fk.set_regs.rbx, info);
                cr_assert_eq(fk.set_sregs.cs.selector, 0x08);
                cr_assert_eq(fk.set_sregs.cs.db, 1);
                cr_assert_eq(fk.set_sregs.cr0 & (1u << 31), 0);
        }
        kvm_vcpu_destroy(&v);
        kvm_vm_close(&vm);
}

Test(vcpu, boot_state_long64)
{
        check_boot_state(BOOT_LONG64, 0x1000200, WISP_ZERO_PAGE_ADDR);
}

Test(vcpu, boot_state_pvh)
{
        check_boot_state(BOOT_PVH32, 0x1000100, WISP_PVH_INFO_ADDR);
}

Test(vcpu, boot_state_errors_pass_up)
{
        struct kvm_vcpu v;
        struct boot_plan plan = {.mode = BOOT_LONG64, .entry = 1};

        open_vm(false);
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), 0, "%s", err);
        fk.fail_req = KVM_SET_SREGS;
        fk.fail_err = -EFAULT;
        cr_assert_eq(kvm_vcpu_set_boot_state(&v, &plan), -EFAULT);
        cr_assert_eq(fake_kvm_count(&fk, KVM_SET_REGS), 0, "stops at the first failure");
        kvm_vcpu_destroy(&v);
        kvm_vm_close(&vm);
}

Test(vcpu, run_and_dump)
{
        struct kvm_vcpu v;
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        open_vm(false);
        cr_assert_eq(kvm_vcpu_create(&vm, 0, 1, &v, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(kvm_vcpu_run(&v), 0);
        fk.run_result = -EINTR;
        cr_assert_eq(kvm_vcpu_run(&v), -EINTR);
        fk.run_result = 1;
        cr_assert_eq(kvm_vcpu_run(&v), 0, "a positive result is success");

        fk.set_regs.rip = 0xfeedf00d;
        f = open_memstream(&text, &size);
        kvm_vcpu_dump(&v, f);
        fclose(f);
        cr_assert(strstr(text, "00000000feedf00d"), "dump: %s", text);
        free(text);

        fk.fail_req = KVM_GET_REGS;
        fk.fail_err = -EIO;
        f = open_memstream(&text, &size);
        kvm_vcpu_dump(&v, f);
        fclose(f);
        cr_assert(strstr(text, "unavailable"), "dump: %s", text);
        free(text);
        kvm_vcpu_destroy(&v);
        kvm_vm_close(&vm);
}

/* ---- pure helpers ---- */

Test(boot_msrs, all_supported)
{
        const uint32_t sup[] = {0x10,  0xc0000102, 0xc0000084, 0xc0000083, 0xc0000082, 0xc0000081,
                                0x2ff, 0x1a0,      0x176,      0x175,      0x174,      0xc0000080};
        struct kvm_msr_entry e[16];
        unsigned int n = kvm_boot_msrs(sup, sizeof(sup) / sizeof(sup[0]), e, 16);
        bool seen_misc = false, seen_mtrr = false;

        cr_assert_eq(n, 10);
        for (unsigned int i = 0; i < n; i++) {
                switch (e[i].index) {
                case 0x1a0:
                        cr_assert_eq(e[i].data & 1, 1, "fast strings on");
                        seen_misc = true;
                        break;
                case 0x2ff:
                        cr_assert_eq(e[i].data, (1u << 11) | 6, "MTRRs on, default write-back");
                        seen_mtrr = true;
                        break;
                case 0x174:
                case 0x175:
                case 0x176:
                case 0xc0000081:
                case 0xc0000082:
                case 0xc0000083:
                case 0xc0000084:
                case 0xc0000102:
                        cr_assert_eq(e[i].data, 0, "MSR %#x zeroed", e[i].index);
                        break;
                default:
                        cr_assert_fail("unexpected MSR %#x", e[i].index);
                }
                for (unsigned int j = 0; j < i; j++)
                        cr_assert_neq(e[i].index, e[j].index, "MSR %#x twice", e[i].index);
        }
        cr_assert(seen_misc && seen_mtrr);
}

Test(boot_msrs, only_supported_ones_and_at_most_max)
{
        const uint32_t sup[] = {0x2ff, 0x174, 0xdead};
        struct kvm_msr_entry e[16];
        unsigned int n;

        memset(e, 0xee, sizeof(e));
        n = kvm_boot_msrs(sup, 3, e, 16);
        cr_assert_eq(n, 2);
        cr_assert(e[0].index == 0x174 || e[1].index == 0x174);
        cr_assert(e[0].index == 0x2ff || e[1].index == 0x2ff);
        cr_assert_eq(kvm_boot_msrs(sup, 0, e, 16), 0, "none supported");

        memset(e, 0xee, sizeof(e));
        cr_assert_eq(kvm_boot_msrs(sup, 3, e, 1), 1);
        cr_assert_eq(e[1].index, 0xeeeeeeee, "nothing past max");
        cr_assert_eq(kvm_boot_msrs(sup, 3, e, 0), 0);
}

Test(lapic, lint_wiring_keeps_other_bits)
{
        struct kvm_lapic_state l;
        uint32_t lvt0 = 0x0001a2ff; /* masked, level, active-low, SMI mode, vector 0xff */
        uint32_t lvt1 = 0x00010700; /* masked, ExtINT mode */
        struct kvm_lapic_state before;

        memset(&l, 0x5a, sizeof(l));
        memcpy(&l.regs[0x350], &lvt0, 4);
        memcpy(&l.regs[0x360], &lvt1, 4);
        before = l;
        kvm_lapic_set_lint(&l);
        cr_assert_eq(reg32(&l, 0x350), 0x0000a7ff, "LVT0 ExtINT, unmasked: %#x", reg32(&l, 0x350));
        cr_assert_eq(reg32(&l, 0x360), 0x00000400, "LVT1 NMI, unmasked: %#x", reg32(&l, 0x360));
        for (size_t i = 0; i < sizeof(l.regs); i++)
                if ((i < 0x350 || i >= 0x354) && (i < 0x360 || i >= 0x364))
                        cr_assert_eq(l.regs[i], before.regs[i], "byte %#zx changed", i);
}
