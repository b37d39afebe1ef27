/* main.c — `facenet SUBCOMMAND ...`: dispatch to cli/cmd_*.c. */
#include "cli.h"
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "facenet %s — face detection, alignment and recognition in C\n\n"
               "usage: facenet COMMAND [options] ...   (facenet COMMAND --help for details)\n\ncommands:\n", FN_VERSION);
#define X(name, help) { char n[32]; snprintf(n, sizeof n, "%s", #name); for (char *c = n; *c; c++) if (*c == '_') *c = '-'; \
        fprintf(f, "  %-18s %s\n", n, help); }
    FN_CLI_COMMANDS(X)
#undef X
}

int main(int argc, char **argv) {
    /* OpenMP threads that busy-wait between parallel regions steal the cores that BLAS and
     * the per-image workers need (measured end to end: 24 vs 16 ms per LFW image with 2
     * threads). libgomp reads OMP_WAIT_POLICY when it loads, so set it and re-execute
     * once — unless the user chose a policy. If exec fails, carry on as we are. */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("facenet %s\n", FN_VERSION); return 0; }
#define X(name, help) { char n[32]; snprintf(n, sizeof n, "%s", #name); for (char *c = n; *c; c++) if (*c == '_') *c = '-'; \
        if (!strcmp(argv[1], n)) { \
            if (!cmd_##name) { fprintf(stderr, "facenet: '%s' is not built into this binary\n", n); return 2; } \
            return cmd_##name(argc - 1, argv + 1); } }
    FN_CLI_COMMANDS(X)
#undef X
    fprintf(stderr, "facenet: unknown command '%s' (see facenet --help)\n", argv[1]);
    return 2;
}
