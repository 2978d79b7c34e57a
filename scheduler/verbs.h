/*
 * verbs.h - the command-line verbs of the one haechi binary.
 *
 * Each verb gets argv from its own name onward (argv[0] is the verb) and
 * returns the process exit status: 0 success, 1 a refusal (invalid campaign,
 * HTTP error), 2 a usage error. Verbs print their result on stdout and a
 * one-line reason on stderr.
 */
#ifndef HAECHI_VERBS_H
#define HAECHI_VERBS_H

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis; /* one line for `haechi --help` */
    const char *help;     /* the whole text for `haechi VERB --help` */
} verb;

extern const verb verb_serve;
extern const verb verb_validate;
extern const verb verb_preview;
extern const verb verb_submit;
extern const verb verb_list;
extern const verb verb_status;
extern const verb verb_pause;
extern const verb verb_resume;
extern const verb verb_cancel;
extern const verb verb_dead;
extern const verb verb_release;
extern const verb verb_rehearse;
extern const verb verb_audience;

/* True when argv holds -h or --help. */
int verb_wants_help(int argc, char **argv);

/* After getopt_long() (run with opterr = 0) returned '?' or ':': prints
 * the one-line reason naming the bad option and returns 2. */
int verb_bad_option(const char *verb_name, char **argv);

#endif
