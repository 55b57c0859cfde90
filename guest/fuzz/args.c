/*
 * An operation's arguments as a case file's step writes them (ops.h's args):
 * numbers, and domains as `self`, `@A` or a number.  The FIFO operations'
 * frames are fifo.c's.
 */
#include <stdint.h>
#include <xen/xen.h>
#include "../guest.h"
#include "../lib.h"
#include "internal.h"

/* An argument as a case file writes it. */
static const char *dom_word(uint32_t dom, char *buf, size_t size)
{
    if ( dom == DOMID_SELF )
        return "self";
    if ( dom == self_domid )
        return "@A";
    snprintf(buf, size, "%u", dom);
    return buf;
}

void args_num(char *buf, size_t size, uint32_t a, uint32_t b)
{
    (void)b;
    snprintf(buf, size, "%u", a);
}

void args_num_num(char *buf, size_t size, uint32_t a, uint32_t b)
{
    snprintf(buf, size, "%u %u", a, b);
}

void args_dom(char *buf, size_t size, uint32_t dom, uint32_t b)
{
    char d[16];

    (void)b;
    snprintf(buf, size, "%s", dom_word(dom, d, sizeof(d)));
}

void args_dom_num(char *buf, size_t size, uint32_t dom, uint32_t b)
{
    char d[16];

    snprintf(buf, size, "%s %u", dom_word(dom, d, sizeof(d)), b);
}

void args_dom_dom(char *buf, size_t size, uint32_t a, uint32_t b)
{
    char d1[16], d2[16];

    snprintf(buf, size, "%s %s", dom_word(a, d1, sizeof(d1)), dom_word(b, d2, sizeof(d2)));
}
