/*
 * Guard pages: memory nothing of ours writes to, filled with a known pattern.
 * A byte that changed is a write where none belongs: Xen's, since only Xen
 * can reach such pages behind our back.
 */
#ifndef GUEST_GUARD_H
#define GUEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

void guard_fill(uint8_t *p, size_t len);
/* The offset of the first byte that is not the pattern, or -1. */
long guard_find(const uint8_t *p, size_t len);
/* What the pattern has at offset i (for a report). */
uint8_t guard_byte(size_t i);

#endif
