/* The guest's last words: a fatal trap as one EVT CRASH line (crash.c). */
#ifndef GUEST_CRASH_H
#define GUEST_CRASH_H

#include "traps.h"

/* What main.c hands traps_init(). */
extern const struct trap_fatal crash_report;

#endif
