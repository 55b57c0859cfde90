/* Pages and page-table entries (x86-64; architectural, not Xen ABI). */
#ifndef GUEST_ARCH_PAGE_H
#define GUEST_ARCH_PAGE_H

#define PAGE_SHIFT   12
#define PAGE_SIZE    (1ul << PAGE_SHIFT)

#define PTE_PRESENT  0x001ull
#define PTE_RW       0x002ull
#define PTE_ACCESSED 0x020ull
#define PTE_DIRTY    0x040ull

#endif
