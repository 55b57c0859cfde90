/* Boot-time state shared across the guest. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdint.h>
#include <xen/xen.h>
#include "page.h"

extern start_info_t *start_info;
extern shared_info_t *shared_info;       /* NULL until events_init() */
extern domid_t self_domid;

/* Vcpus the guest can run on (and count upcalls for); more are left down. */
#define GUEST_MAX_VCPUS 8

static inline int is_dom0(void)
{
    return start_info && (start_info->flags & SIF_INITDOMAIN);
}

/*
 * Machine frame -> our virtual address.  VIRT_BASE is 0 (head.asm), and
 * Xen's initial mapping covers every frame the builder gave us (kernel,
 * ramdisk, start_info, xenstore and console pages), so pfn << PAGE_SHIFT works.
 */
static inline void *mfn_to_virt(xen_pfn_t mfn)
{
    return (void *)(machine_to_phys_mapping[mfn] << PAGE_SHIFT);
}

/* Our virtual address -> the frame Xen knows it by (PV: the machine frame). */
static inline uint64_t page_gfn(const void *va)
{
    const xen_pfn_t *mfn_list = (const xen_pfn_t *)start_info->mfn_list;

    return mfn_list[(unsigned long)va >> PAGE_SHIFT];
}

__attribute__((noreturn)) void guest_shutdown(unsigned int reason);

#endif
