/* What kind of KVM wisp runs on: hardware, or kvm_pvm (software, nested). */
#ifndef WISP_KVM_HOST_H
#define WISP_KVM_HOST_H

#include <stdbool.h>

/*
 * True when sysfs_root/module/kvm_pvm exists: the host's KVM is kvm_pvm,
 * which emulates guest kernel code and needs guest-side workarounds (see
 * README "kvm_pvm"). sysfs_root is "/sys" outside tests.
 */
bool kvm_host_is_pvm(const char *sysfs_root);

/*
 * Kernel command-line options a Linux guest needs on kvm_pvm: no XSAVE, and
 * no feature whose instructions the emulator cannot run in guest kernel mode
 * (cx16: SLUB's cmpxchg16b fails with an emulation error), and no 1 GiB
 * pages (they fault there; Linux maps RAM with them from 1 GiB of RAM up).
 * KVM_SET_CPUID2 cannot hide these there, so the guest is told.
 */
#define KVM_PVM_GUEST_CMDLINE "noxsave clearcpuid=smap,smep,pku,popcnt,cx16 nogbpages"

#endif
