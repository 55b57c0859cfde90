/*
 * The guest's script parser on the host, for tests/unit/test_parity.py.
 *
 * stdin: scripts separated by NUL bytes.  For each script, one line per
 * script_next() call, "<line> ok" or "<line> error <message>", then "--".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "script_parse.h"

static void check(const char *text, size_t len)
{
    static struct script_reader r;
    struct stmt st;
    int rc;

    script_reader_init(&r, text, len);
    while ( (rc = script_next(&r, &st)) )
    {
        if ( rc > 0 )
            printf("%u ok\n", r.lineno);
        else
            printf("%u error %s\n", r.lineno, r.msg);
    }
    printf("--\n");
}

int main(void)
{
    size_t len = 0, size = 1 << 16;
    char *buf = malloc(size);

    for ( size_t n; buf && (n = fread(buf + len, 1, size - len, stdin)); )
        if ( (len += n) == size )
            buf = realloc(buf, size *= 2);
    if ( !buf )
        return 2;
    for ( size_t start = 0, i = 0; i <= len; i++ )
        if ( i == len || !buf[i] )
        {
            if ( i > start || i < len )
                check(buf + start, i - start);
            start = i + 1;
        }
    free(buf);
    return 0;
}
