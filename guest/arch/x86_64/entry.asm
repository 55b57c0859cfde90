; Exception, event and failsafe entry points of the 64-bit PV guest.
;
; Xen delivers every bounce with the hardware-style frame plus rcx and r11
; on top (it used them for its own sysret):
;     rsp -> rcx, r11, [error code], rip, cs, rflags, rsp, ss
%include "asm-consts.inc"

bits 64
default rel

extern hypercall_page
extern trap_fatal
extern evtchn_do_upcall
extern failsafe_fatal

; Saved-register block shared with C (struct trap_frame in traps.h):
; r15 .. rax (push order reversed), vector, error_code, rip, cs, rflags, rsp, ss
%macro SAVE_GPRS 0
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
%endmacro

%macro RESTORE_GPRS 0
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
%endmacro

; Take back the interrupted rcx/r11 Xen parked on the stack.
%macro XEN_POP_RCX_R11 0
    mov rcx, [rsp]
    mov r11, [rsp + 8]
    add rsp, 16
%endmacro

section .text

%macro EXC_NOERR 1
global exc_%1
exc_%1:
    XEN_POP_RCX_R11
    push 0                      ; no error code for this vector
    push %1
    jmp exc_common
%endmacro

%macro EXC_ERR 1
global exc_%1
exc_%1:
    XEN_POP_RCX_R11
    push %1                     ; error code already on the stack
    jmp exc_common
%endmacro

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR   8
EXC_NOERR 9
EXC_ERR   10
EXC_ERR   11
EXC_ERR   12
EXC_ERR   13
EXC_ERR   14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR   17
EXC_NOERR 18
EXC_NOERR 19

; Every exception is fatal for this guest: report and crash, never return.
exc_common:
    SAVE_GPRS
    mov rdi, rsp
    and rsp, -16
    call trap_fatal
.hang:
    ud2
    jmp .hang

; Event upcalls.  Xen has set evtchn_upcall_mask; saved RFLAGS.IF holds the
; previous mask, which HYPERVISOR_iret restores.  Each vcpu registers its own
; entry (VCPUOP_initialise's event_callback_eip), so the handler knows which
; vcpu_info to scan without per-cpu segment state.
%macro UPCALL_ENTRY 1
global hypervisor_callback_%1
hypervisor_callback_%1:
    XEN_POP_RCX_R11
    push 0                      ; vector/error slots keep the frame layout
    push -1
    SAVE_GPRS
    mov esi, %1                 ; evtchn_do_upcall(frame, vcpu)
    jmp upcall_common
%endmacro

%assign i 0
%rep GUEST_MAX_VCPUS
UPCALL_ENTRY i
%assign i i + 1
%endrep

upcall_common:
    mov rdi, rsp
    mov rbx, rsp                ; rbx is callee-saved across the C call
    and rsp, -16
    call evtchn_do_upcall
    mov rsp, rbx
    RESTORE_GPRS
    add rsp, 16                 ; drop vector/error slots
    ; rsp -> rip, cs, rflags, rsp, ss.  The iret stub pushes rcx, r11, rax;
    ; we supply struct iret_context.flags (0: not returning from syscall).
    push 0
    jmp hypercall_page + HYPERVISOR_iret * 32

section .rodata
; Entry of vcpu n's upcall handler, for traps.c.
global upcall_entries
upcall_entries:
%assign i 0
%rep GUEST_MAX_VCPUS
    dq hypervisor_callback_ %+ i
%assign i i + 1
%endrep

section .text
; Xen could not load segment state for a return to us.  Frame:
; rcx, r11, ds, es, fs, gs, rip, cs, rflags, rsp, ss.  Nothing sane to do.
global failsafe_callback
failsafe_callback:
    mov rdi, rsp
    and rsp, -16
    call failsafe_fatal
.hang:
    ud2
    jmp .hang
