"""Orchestrator of the Xen event-channel conformance harness.

Boots a real Xen with a real Linux dom0 inside QEMU, creates guest domains
with ``xl`` and reads their results off the serial console.
"""
