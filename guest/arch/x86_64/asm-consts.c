/*
 * Constants the nasm sources need, taken from Xen's public headers at build
 * time (nasm cannot read C headers).  Compiled with -S; the Makefile turns
 * every "->NAME value" marker into "%define NAME value".
 */
#include <stdint.h>
#include <stddef.h>
#include <xen/xen.h>
#include <xen/elfnote.h>
#include <xen/features.h>
#include "../../guest.h"

#define DEFINE(sym, val) \
    asm volatile ("\n.ascii \"->" #sym " %c0\"" :: "i" ((unsigned long)(val)))

void asm_consts(void);
void asm_consts(void)
{
    DEFINE(XEN_ELFNOTE_GUEST_OS, XEN_ELFNOTE_GUEST_OS);
    DEFINE(XEN_ELFNOTE_GUEST_VERSION, XEN_ELFNOTE_GUEST_VERSION);
    DEFINE(XEN_ELFNOTE_XEN_VERSION, XEN_ELFNOTE_XEN_VERSION);
    DEFINE(XEN_ELFNOTE_LOADER, XEN_ELFNOTE_LOADER);
    DEFINE(XEN_ELFNOTE_VIRT_BASE, XEN_ELFNOTE_VIRT_BASE);
    DEFINE(XEN_ELFNOTE_PADDR_OFFSET, XEN_ELFNOTE_PADDR_OFFSET);
    DEFINE(XEN_ELFNOTE_ENTRY, XEN_ELFNOTE_ENTRY);
    DEFINE(XEN_ELFNOTE_HYPERCALL_PAGE, XEN_ELFNOTE_HYPERCALL_PAGE);
    DEFINE(XEN_ELFNOTE_SUPPORTED_FEATURES, XEN_ELFNOTE_SUPPORTED_FEATURES);
    DEFINE(XENFEAT_dom0, XENFEAT_dom0);
    DEFINE(HYPERVISOR_iret, __HYPERVISOR_iret);
    DEFINE(GUEST_MAX_VCPUS, GUEST_MAX_VCPUS);
}
