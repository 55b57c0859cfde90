; Boot entry and Xen ELF notes for the 64-bit PV guest.
; Constants come from Xen's headers via asm-consts.inc (generated).
%include "asm-consts.inc"

bits 64
default rel

; VIRT_BASE 0: pseudo-physical frame n is mapped at n * 4096, which is what
; lets console/xenstore pages be found as m2p[mfn] << 12.
VIRT_BASE equ 0

%macro ELFNOTE 3                ; type, descriptor data directive, value
    align 4
    dd 4                        ; namesz ("Xen\0")
    dd %%desc_end - %%desc      ; descsz
    dd %1                       ; type
    db "Xen", 0
%%desc:
    %2 %3
%%desc_end:
%endmacro

section .note.Xen note alloc noexec nowrite align=4
    ELFNOTE XEN_ELFNOTE_GUEST_OS,       db, {"evtchn-guest", 0}
    ELFNOTE XEN_ELFNOTE_GUEST_VERSION,  db, {"1", 0}
    ELFNOTE XEN_ELFNOTE_XEN_VERSION,    db, {"xen-3.0", 0}
    ELFNOTE XEN_ELFNOTE_LOADER,         db, {"generic", 0}
    ELFNOTE XEN_ELFNOTE_VIRT_BASE,      dq, VIRT_BASE
    ELFNOTE XEN_ELFNOTE_PADDR_OFFSET,   dq, VIRT_BASE
    ELFNOTE XEN_ELFNOTE_ENTRY,          dq, _start
    ELFNOTE XEN_ELFNOTE_HYPERCALL_PAGE, dq, hypercall_page
    ; Xen's dom0 builder refuses kernels that do not claim dom0 support
    ; when this note is present; harmless for a domU.
    ELFNOTE XEN_ELFNOTE_SUPPORTED_FEATURES, dd, (1 << XENFEAT_dom0)

section .text
global _start
extern guest_main
; Xen enters here in 64-bit mode, events masked, %rsi = start_info (virtual).
_start:
    cld
    lea rsp, [boot_stack_top]
    mov rdi, rsi
    call guest_main
.hang:                          ; guest_main never returns
    ud2
    jmp .hang

; Filled in by Xen (HYPERCALL_PAGE note): 32-byte stub per hypercall.
section .text.hypercall_page progbits alloc exec nowrite align=4096
global hypercall_page
hypercall_page:
    times 4096 db 0xc3

section .bss nobits alloc noexec write align=16
global boot_stack_top
boot_stack:
    resb 65536
boot_stack_top:
