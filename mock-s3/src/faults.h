/* Fault rules: which requests they hit and what they do to them. */
#ifndef MS3_FAULTS_H
#define MS3_FAULTS_H

#include <stdint.h>

#include "bkcache/error.h"
#include "mock_s3.h"

typedef struct ms3_faults ms3_faults;

typedef struct ms3_fault_decision {
    uint32_t delay_ms;
    ms3_fault_action action; /* 0 = none (besides the delay) */
    int status;
    char error_code[48];
    char error_message[256];
    uint64_t cut_after;
    /* The rules that fired, for the journal: "rule 2: delay 300 ms; rule 3:
     * error 503 SlowDown"; "" when none did. */
    char fired[256];
} ms3_fault_decision;

ms3_faults *ms3__faults_new(void);
void ms3__faults_free(ms3_faults *f);
bk_code ms3__faults_add(ms3_faults *f, const ms3_fault_rule *r, uint64_t *id, bk_err *err);
void ms3__faults_clear(ms3_faults *f);
uint64_t ms3__faults_fired(ms3_faults *f, uint64_t id);
/* Counts the request against every matching rule and decides what happens to it. */
void ms3__faults_decide(ms3_faults *f, const char *method, const char *operation,
                        const char *bucket, const char *key, ms3_fault_decision *out);
/* The rules as a JSON array (malloc'ed), for GET /_mock/faults. */
char *ms3__faults_json(ms3_faults *f);
const char *ms3__fault_action_name(ms3_fault_action a);
int ms3__fault_action_parse(const char *name, ms3_fault_action *out);

#endif
