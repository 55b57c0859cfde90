/*
 * The guest-script parser: no hypercalls, no guest state, so a host can
 * build it too (tests/host/parser.c).  The language is script-lang.h.
 */
#ifndef SCRIPT_SCRIPT_PARSE_H
#define SCRIPT_SCRIPT_PARSE_H

#include <stdint.h>
#include <stddef.h>

enum {
#define SCRIPT_LIMIT(name, value) name = value,
#include "script-lang.h"
};

enum val_kind { VAL_NONE, VAL_NUM, VAL_STATUS };
enum op_who { WHO_GUEST, WHO_DOM0, WHO_PRIV, WHO_HARNESS };

enum op_id {
#define SCRIPT_OP(name, args, value, who) OP_##name,
#include "script-lang.h"
    NR_OPS
};

struct op_def {
    const char *name;
    const char *args;           /* kind letters, see script-lang.h */
    enum val_kind val;
    enum op_who who;
};
extern const struct op_def script_ops[NR_OPS];

enum status_field {
#define SCRIPT_STATUS_FIELD(name) SF_##name,
#include "script-lang.h"
    NR_FIELDS
};
#define SF(name) (1u << SF_##name)

struct status_kind {
    const char *name;
    uint32_t stat;              /* EVTCHNSTAT_* */
    unsigned int fields;        /* SF() bits the kind reports */
};
extern const struct status_kind script_kinds[];
extern const unsigned int script_nr_kinds;
/* The script_kinds[] index of an EVTCHNSTAT_* value, -1 for none. */
int script_kind_of(uint32_t stat);
extern const char *const script_fields[NR_FIELDS];

enum stmt_kind { ST_EMPTY, ST_CASE, ST_END, ST_STEP };
enum exp_kind { EX_OK, EX_OK_VAL, EX_OK_STATUS, EX_ERR };

struct stmt {
    enum stmt_kind kind;
    char *name;                         /* case name */
    int64_t line;                       /* case-file line of a step */
    enum op_id op;
    unsigned int nargs;
    char *args[MAX_ARGS];
    enum exp_kind ex;
    char *ex_val;                       /* EX_OK_VAL */
    unsigned int ex_kind;               /* EX_OK_STATUS: script_kinds[] index */
    unsigned int ex_nfields;            /* each field at most once */
    enum status_field ex_field[NR_FIELDS];
    char *ex_fval[NR_FIELDS];
    long ex_rc;                         /* EX_ERR: negative rc */
    char *var;                          /* => var, or NULL */
};

/* Reads a script line by line, checking each line and the lines around it. */
struct script_reader {
    const char *text;
    size_t len, pos;
    unsigned int lineno;
    int in_case, done;
    unsigned int nr_vars;               /* set in this case */
    char vars[MAX_VARS][NAME_LEN];
    char line[MAX_LINE + 1];
    char msg[MAX_LINE + 64];            /* the last line's error */
};

/* The script ends at its first NUL (ramdisk padding). */
void script_reader_init(struct script_reader *r, const char *text, size_t len);

/*
 * The next line into *st (its strings point into r->line): 1 if good,
 * -1 if bad (the error in r->msg), 0 after the last line.  A missing
 * `end` is reported once more, on the line after the last.
 */
int script_next(struct script_reader *r, struct stmt *st);

/* A number token: literal, $var, @NAME or self. */
int script_is_num_token(const char *s);

/* An rc as results print it: its xen/errno.h name, else ERR<rc>. */
void script_fmt_rc(char *buf, size_t size, long rc);

#endif
