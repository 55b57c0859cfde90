/*
 * The guest-script parser (docs/guest-script.md, script-lang.h).
 *
 * Pure: strings in, statements out.  The orchestrator's checker
 * (orchestrator/lang.py) mirrors it rule for rule, and tests/unit/test_parity.py runs
 * both over the same lines: change one, change the other.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include "lib-host.h"
#include "script_parse.h"
#include <xen/errno.h>              /* the XEN_E* enum */

const struct op_def script_ops[NR_OPS] = {
#define SCRIPT_OP(name, args, value, who) [OP_##name] = { #name, args, VAL_##value, WHO_##who },
#include "script-lang.h"
};

const struct status_kind script_kinds[] = {
#define SCRIPT_STATUS_KIND(name, stat, fields) { #name, stat, fields },
#include "script-lang.h"
};
const unsigned int script_nr_kinds = ARRAY_SIZE(script_kinds);

int script_kind_of(uint32_t stat)
{
    for ( unsigned int i = 0; i < script_nr_kinds; i++ )
        if ( script_kinds[i].stat == stat )
            return i;
    return -1;
}

const char *const script_fields[NR_FIELDS] = {
#define SCRIPT_STATUS_FIELD(name) [SF_##name] = #name,
#include "script-lang.h"
};

static const struct {
    const char *name;
    char kind;
} keywords[] = {
#define SCRIPT_KEYWORD(name, kind) { #name, kind },
#include "script-lang.h"
};

/* ---- errno names, straight from xen/errno.h ---- */

static const struct errno_name {
    const char *name;
    int value;
} errno_names[] = {
#define XEN_ERRNO(name, value) { #name, value },
#include <xen/errno.h>
};

static const char *errno_to_name(long e)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(errno_names); i++ )
        if ( errno_names[i].value == e )
            return errno_names[i].name;
    return NULL;
}

static int name_to_errno(const char *s)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(errno_names); i++ )
        if ( !strcmp(errno_names[i].name, s) )
            return errno_names[i].value;
    return 0;
}

void script_fmt_rc(char *buf, size_t size, long rc)
{
    /* The bound keeps -rc defined; Xen's errnos are small. */
    const char *n = rc < 0 && rc > -4096 ? errno_to_name(-rc) : NULL;

    if ( n )
        snprintf(buf, size, "%s", n);
    else
        snprintf(buf, size, "ERR%ld", rc);
}

/* ---- tokens ---- */

static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Non-empty, shorter than max; first: the first character's class, rest: the others'. */
static int is_word(const char *s, size_t max, int (*first)(char), int (*rest)(char))
{
    size_t n = strlen(s);

    if ( !n || n >= max || !first(s[0]) )
        return 0;
    for ( size_t i = 1; i < n; i++ )
        if ( !rest(s[i]) )
            return 0;
    return 1;
}

static int var_first(char c) { return is_lower(c) || c == '_'; }
static int var_rest(char c) { return var_first(c) || is_digit(c); }
static int dom_rest(char c) { return is_upper(c) || is_lower(c) || is_digit(c); }
static int case_first(char c) { return is_lower(c) || is_digit(c); }
static int case_rest(char c) { return case_first(c) || c == '-'; }
static int key_char(char c) { return dom_rest(c) || c == '_' || c == '-' || c == '.'; }

static int is_var(const char *s) { return is_word(s, NAME_LEN, var_first, var_rest); }
static int is_domain(const char *s) { return is_word(s, NAME_LEN, is_upper, dom_rest); }
static int is_case_name(const char *s) { return is_word(s, NAME_LEN, case_first, case_rest); }
static int is_key(const char *s) { return is_word(s, KEY_LEN, key_char, key_char); }

/* ASCII decimal (or 0x hex if allowed), 0 .. INT64_MAX; 0 on success. */
static int parse_num(const char *s, int hex, int64_t *out)
{
    unsigned int base = 10;
    uint64_t v;

    if ( hex && s[0] == '0' && s[1] == 'x' )
        base = 16, s += 2;
    if ( parse_digits(s, base, INT64_MAX, &v) )
        return -1;
    *out = v;
    return 0;
}

int script_is_num_token(const char *s)
{
    int64_t v;

    if ( s[0] == '$' )
        return is_var(s + 1);
    if ( s[0] == '@' )
        return is_domain(s + 1);
    return !strcmp(s, "self") || !parse_num(s, 1, &v);
}

static int is_keyword(const char *s, char kind)
{
    for ( unsigned int i = 0; i < ARRAY_SIZE(keywords); i++ )
        if ( keywords[i].kind == kind && !strcmp(keywords[i].name, s) )
            return 1;
    return 0;
}

static int find_op(const char *name)
{
    for ( unsigned int i = 0; i < NR_OPS; i++ )
        if ( !strcmp(script_ops[i].name, name) )
            return i;
    return -1;
}

static int find_kind(const char *s)
{
    for ( unsigned int i = 0; i < script_nr_kinds; i++ )
        if ( !strcmp(script_kinds[i].name, s) )
            return i;
    return -1;
}

/* An argument of kind letter k: NULL or what is wrong with it. */
static const char *check_arg(char k, const char *a)
{
    switch ( k )
    {
    case 'n':
        return script_is_num_token(a) ? NULL : "bad number argument";
    case 'w':
        return is_keyword(a, 'w') ? NULL : "expected 'first' or 'second'";
    case 'k':
        return is_key(a) ? NULL : "bad key";
    case 'v':
        return script_is_num_token(a) || is_key(a) ? NULL : "bad value";
    case 'D':
        return is_domain(a[0] == '@' ? a + 1 : a) ? NULL : "bad domain name";
    case 'g':
        return is_keyword(a, 'g') || script_is_num_token(a) ? NULL
               : "expected 'page', 'bad', 'pagetable' or a number";
    }
    return "bad argument kind";
}

/* ---- one line ---- */

static const char *parse_expect(struct stmt *st, char **tok, unsigned int n,
                                const char **bad)
{
    const struct op_def *op = &script_ops[st->op];
    unsigned int seen = 0;
    int64_t v;
    int k;

    if ( !n )
        return "'->' without an expectation";

    if ( strcmp(tok[0], "ok") )
    {
        const char *num = tok[0] + 3;

        *bad = tok[0];
        if ( n != 1 )
            return "an error expectation takes no value";
        st->ex = EX_ERR;
        if ( !strncmp(tok[0], "ERR", 3) )
        {
            /* ERR<n> or ERR-<n>: decimal, not 0 */
            if ( parse_num(num + (num[0] == '-'), 0, &v) || !v )
                return "bad ERR<n> expectation";
            st->ex_rc = -v;
        }
        else if ( name_to_errno(tok[0]) )
            st->ex_rc = -name_to_errno(tok[0]);
        else
            return "unknown expectation (not ok, an errno name or ERR<n>)";
        return NULL;
    }

    if ( n == 1 )
    {
        st->ex = EX_OK;
        return NULL;
    }

    switch ( op->val )
    {
    case VAL_NONE:
        return "this op has no value to expect";

    case VAL_NUM:
        if ( n != 2 )
            return "'ok' takes one value";
        *bad = tok[1];
        if ( !script_is_num_token(tok[1]) )
            return "bad expected value";
        st->ex = EX_OK_VAL;
        st->ex_val = tok[1];
        return NULL;

    case VAL_STATUS:
        st->ex = EX_OK_STATUS;
        *bad = tok[1];
        if ( (k = find_kind(tok[1])) < 0 )
            return "unknown status kind";
        st->ex_kind = k;
        for ( unsigned int i = 2; i < n; i++ )
        {
            const char *eq = strchr(tok[i], '=');
            unsigned int f;

            *bad = tok[i];
            if ( !eq )
                return "status field must be <field>=<value>";
            for ( f = 0; f < NR_FIELDS; f++ )
                if ( strlen(script_fields[f]) == (size_t)(eq - tok[i]) &&
                     !strncmp(tok[i], script_fields[f], eq - tok[i]) )
                    break;
            if ( f == NR_FIELDS )
                return "unknown status field";
            if ( !(script_kinds[k].fields & (1u << f)) )
                return "status field not reported for this kind";
            if ( seen & (1u << f) )
                return "status field given twice";
            if ( !script_is_num_token(eq + 1) )
                return "bad status field value";
            seen |= 1u << f;
            st->ex_field[st->ex_nfields] = f;
            st->ex_fval[st->ex_nfields++] = (char *)eq + 1;
        }
        return NULL;
    }
    return "bad expectation";
}

/* One line (NUL-terminated, split in place): NULL or an error about *bad. */
static const char *parse_line(char *line, struct stmt *st, const char **bad)
{
    char *tok[MAX_TOKS];
    unsigned int n = 0, arrow = 0, fat = 0, end_args;
    const char *err;
    int64_t n_rtt;
    char *p;
    int op;

    memset(st, 0, sizeof(*st));
    *bad = NULL;

    if ( (p = strchr(line, '#')) )
        *p = '\0';
    for ( p = line; *p; )
    {
        while ( *p == ' ' || *p == '\t' || *p == '\r' )
            *p++ = '\0';
        if ( !*p )
            break;
        if ( n == MAX_TOKS )
            return "too many tokens";
        tok[n++] = p;
        while ( *p && *p != ' ' && *p != '\t' && *p != '\r' )
            p++;
    }

    if ( !n )
    {
        st->kind = ST_EMPTY;
        return NULL;
    }
    if ( !strcmp(tok[0], "case") )
    {
        if ( n != 2 )
            return "'case' takes exactly one name";
        *bad = tok[1];
        if ( !is_case_name(tok[1]) )
            return "bad case name";
        st->kind = ST_CASE;
        st->name = tok[1];
        return NULL;
    }
    if ( !strcmp(tok[0], "end") )
    {
        if ( n != 1 )
            return "'end' takes no arguments";
        st->kind = ST_END;
        return NULL;
    }

    st->kind = ST_STEP;
    *bad = tok[0];
    if ( parse_num(tok[0], 0, &st->line) || st->line <= 0 )
        return "expected a line number, 'case' or 'end'";
    if ( n < 2 )
        return "missing op";
    *bad = tok[1];
    if ( (op = find_op(tok[1])) < 0 )
        return "unknown op";
    st->op = op;

    for ( unsigned int i = 2; i < n; i++ )
    {
        if ( !strcmp(tok[i], "->") )
        {
            if ( arrow || fat )
                return "misplaced '->'";
            arrow = i;
        }
        else if ( !strcmp(tok[i], "=>") )
        {
            if ( fat )
                return "more than one '=>'";
            fat = i;
        }
    }
    end_args = arrow ? arrow : fat ? fat : n;

    if ( end_args - 2 != strlen(script_ops[op].args) )
        return "wrong number of arguments";
    st->nargs = end_args - 2;
    for ( unsigned int i = 0; i < st->nargs; i++ )
    {
        st->args[i] = tok[2 + i];
        *bad = tok[2 + i];
        if ( (err = check_arg(script_ops[op].args[i], tok[2 + i])) )
            return err;
    }
    /* rtt keeps a sample per round trip, RTT_MAX at most: refuse what cannot run. */
    if ( op == OP_rtt && !parse_num(st->args[1], 1, &n_rtt) && n_rtt > RTT_MAX )
    {
        *bad = st->args[1];
        return "more round trips than RTT_MAX";
    }

    *bad = NULL;
    st->ex = EX_OK;
    if ( arrow &&
         (err = parse_expect(st, &tok[arrow + 1], (fat ? fat : n) - arrow - 1, bad)) )
        return err;
    *bad = NULL;
    if ( fat )
    {
        if ( fat + 2 != n )
            return "'=>' takes exactly one variable name";
        if ( script_ops[op].val != VAL_NUM )
            return "this op has no value to store";
        *bad = tok[fat + 1];
        if ( !is_var(tok[fat + 1]) )
            return "bad variable name";
        st->var = tok[fat + 1];
    }
    return NULL;
}

/* ---- the script ---- */

void script_reader_init(struct script_reader *r, const char *text, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->text = text;
    for ( r->len = 0; r->len < len && text[r->len]; r->len++ )
        ;
}

#define FAIL(...) (snprintf(r->msg, sizeof(r->msg), __VA_ARGS__), -1)

/* A variable the case sets: at most MAX_VARS of them. */
static int add_var(struct script_reader *r, const char *name)
{
    for ( unsigned int i = 0; i < r->nr_vars; i++ )
        if ( !strcmp(r->vars[i], name) )
            return 0;
    if ( r->nr_vars == MAX_VARS )
        return -1;
    memcpy(r->vars[r->nr_vars++], name, strlen(name) + 1);
    return 0;
}

int script_next(struct script_reader *r, struct stmt *st)
{
    size_t n = 0;
    const char *err, *bad;
    int bad_char = 0;

    memset(st, 0, sizeof(*st));
    r->msg[0] = '\0';
    if ( r->pos >= r->len )
    {
        if ( r->done || !r->in_case )
            return 0;
        r->done = 1;
        r->lineno++;
        return FAIL("missing 'end' at end of script");
    }

    r->lineno++;
    while ( r->pos + n < r->len && r->text[r->pos + n] != '\n' )
    {
        unsigned char c = r->text[r->pos + n];

        if ( c >= 0x80 || (c < 0x20 && c != '\t' && c != '\r') )
            bad_char = 1;
        n++;
    }
    if ( n > MAX_LINE )
    {
        r->pos += n + 1;
        return FAIL("line longer than %u characters", MAX_LINE);
    }
    memcpy(r->line, r->text + r->pos, n);
    r->line[n] = '\0';
    r->pos += n + 1;
    if ( bad_char )
        return FAIL("non-ASCII or control character");

    if ( (err = parse_line(r->line, st, &bad)) )
        return bad ? FAIL("%s: '%s'", err, bad) : FAIL("%s", err);

    switch ( st->kind )
    {
    case ST_EMPTY:
        break;
    case ST_CASE:
        if ( r->in_case )
            return FAIL("'case %s' before 'end' of the previous case", st->name);
        r->in_case = 1;
        r->nr_vars = 0;
        break;
    case ST_END:
        if ( !r->in_case )
            return FAIL("'end' outside a case");
        r->in_case = 0;
        break;
    case ST_STEP:
        if ( !r->in_case )
            return FAIL("step outside a case");
        if ( st->var && add_var(r, st->var) )
            return FAIL("more than %u variables in one case: '%s'", MAX_VARS, st->var);
        break;
    }
    return 1;
}
