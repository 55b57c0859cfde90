# ruff: noqa: E501  (sentences, one a line)
"""Why the suite reaches no line of a function of Xen's event channel code, or not all of
them (docs/coverage.md): by function, as unreached.md lists them. A function missing here
is listed as having no reason written yet. Read against upstream 4.22.0."""

from __future__ import annotations

_XEN = "Xen's own channels, whose consumer is Xen (ioreq servers of HVM device models, vm_event rings, Arm's vpl011): no PV guest or dom0 here holds one"
_PIRQ = "a PIRQ's interrupt firing, or an HVM guest's PIRQ: xl's `irqs` grants a domU IRQs 5 and 7 here (bind_pirq.evt), but no device raises them"
_MEM = "memory exhaustion: one of Xen's allocations failing"
_RACE = "a race in a window of a few instructions between two vcpus or domains: met only by chance (the fuzzer's two-vcpu and two-domain cases try)"
REASONS: dict[str, str] = {
    "default_xen_notification_fn": _XEN,
    "get_xen_consumer": _XEN,
    "alloc_unbound_xen_event_channel": _XEN,
    "free_xen_event_channel": _XEN,
    "notify_via_xen_event_channel": _XEN,
    "evtchn_free": _XEN + " (the `xen_evtchns` count)",
    "evtchn_send": _XEN + " (a send on a port whose peer is Xen's, or from one)",
    "evtchn_bind_vcpu": _XEN,
    "send_guest_pirq": _PIRQ + "; the rest is an HVM guest's (BUG_ON(!is_hvm_domain))",
    "evtchn_bind_pirq": "pirq_get_info() failing: " + _MEM,
    "evtchn_close": _XEN + "; " + _PIRQ + "; the VIRQ_DOM_EXC port (dom0's xenstored holds it; a domU may not bind it "
    "from 4.21); a re-bind between two locks (" + _RACE + "); default: BUG()",
    "alloc_evtchn_bucket": _MEM + " (xzalloc, xsm_alloc_security_evtchns)",
    "get_free_port": _MEM + " (a new bucket)",
    "evtchn_get_port": "a given port number: only the PV shim asks for one (pv_shim_... -> evtchn_bind_virq(bind, port))",
    "evtchn_bind_virq": "VIRQ_DOM_EXC, whose handler is dom0 (xenstored); from 4.21 no other domain may bind it, "
    "and its error path needs the ports used up as well",
    "evtchn_init": _MEM + " at domain creation",
    "evtchn_destroy": "preemption while a dying domain's ports are closed: more than 64 ports and a softirq pending",
    "evtchn_destroy_final": "a domain that used more than its first bucket (64 ports) freed: `run --coverage` destroys "
    "every ended domain before its last read of the counters, so only a run that lost its machine misses it",
    "evtchn_virq_enabled": "x86 machine checks only (vmce.h: VIRQ_MCA to the hardware domain): needs an injected MCE",
    "send_guest_domain_virq": "a domain VIRQ (VIRQ_ARGO) raised with no port bound: needs Argo (CONFIG_ARGO)",
    "set_global_virq_handler": "a handler set anew while no domain holds it yet (the hardware domain always exists here)",
    "clear_global_virq_handlers": "a handler domain destroyed while still the handler (bind-virq-global's A, destroyed "
    "before the last read of the counters)",
    "lock_dom_exc_handler": "VIRQ_DOM_EXC's handler gone: dom0 is it and never goes",
    "evtchn_status": "default: BUG() (every state is a case of the switch)",
    "do_event_channel_op": "a reset preempted (its continuation): by chance, as evtchn_reset() (the copy_to_guest() "
    "failures: readonly-argument, readonly-argument-fifo, pirq-readonly-argument)",
    "dump_evtchn_info_key_init": "an initcall: runs at boot, before the counters are reset",
    "evtchn_fifo_set_link": _RACE + " (a queue's tail changing under the link)",
    "evtchn_fifo_set_pending": _RACE + " (the queue changing three times in a row); an event on a vcpu with no "
    "control block while another vcpu has one",
    "map_guest_page": "__map_domain_page_global() failing: " + _MEM + " (a page Xen will not map writable: "
    "fifo.evt's `pagetable` steps)",
    "setup_event_array": _MEM,
    "evtchn_fifo_init_control": "set-up failing after the first vcpu's control block: " + _MEM,
    "evtchn_fifo_print_state": "a port with no event word in the dump: FIFO's set-up gives every bound port one (setup_ports()), so only a race with a new port",
    "evtchn_reset": "preempted every 64 ports when a softirq is pending (hypercall_preempt_check()): met by chance in one run, not in the next",
}
