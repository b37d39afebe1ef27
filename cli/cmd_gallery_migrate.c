/* cmd_gallery_migrate.c — `facenet gallery migrate SRC DST`: copy a gallery between stores
 * (SQLite file <-> PostgreSQL) and prove the copy equal (fn_gallery_migrate). Called by
 * cmd_gallery.c's subcommand table. */
#include "cli.h"
#include "json.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet gallery migrate SRC DST [--json]\n"
        "Copy every collection (one per API key) of the gallery SRC into DST: subjects, faces\n"
        "with their embeddings, boxes, landmarks, scores, enrolment times and stored photos.\n"
        "SRC and DST are each a SQLite file path or a PostgreSQL connection string\n"
        "(postgresql://USER@HOST/DB, any libpq URI); DST is created when missing, and its\n"
        "collections must be empty. After the copy both sides are read back and compared:\n"
        "subject, face and photo counts, and a SHA-256 over every face's contents per\n"
        "collection (independent of face ids, which DST renumbers). Stop the writers of SRC\n"
        "(e.g. `facenet serve`) first: a face added during the copy fails the check.\n"
        "  --json   print {\"collections\":[{\"name\",\"subjects\",\"faces\",\"checksum\"}],...}\n"
        "Exit status: 0 when the copy is complete and verified, 1 otherwise.\n");
}

int cmd_gallery_migrate(int argc, char **argv) {
    const char *cmd = "gallery migrate", *src = NULL, *dst = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (!src) src = argv[i];
        else if (!dst) dst = argv[i];
        else return cli_error(cmd, "one source and one destination, not '%s' too", argv[i]);
    }
    if (!src || !dst) { usage(stderr); return cli_error(cmd, "give a source and a destination"); }
    fn_gallery_migration rep;
    fn_status s = fn_gallery_migrate(src, dst, &rep);
    if (s) return cli_status_error(cmd, s);
    const int shown = rep.n_collections < FN_MIGRATE_REPORTED ? rep.n_collections : FN_MIGRATE_REPORTED;
    if (json) {
        printf("{\"collections\":[");
        for (int i = 0; i < shown; i++) {
            const fn_gallery_migrated *c = &rep.collections[i];
            printf("%s{\"name\":", i ? "," : "");
            fn_json_write_string(stdout, c->name);
            printf(",\"subjects\":%d,\"faces\":%d,\"checksum\":\"%s\"}", c->n_subjects, c->n_faces, c->checksum);
        }
        printf("],\"n_collections\":%d,\"subjects\":%d,\"faces\":%d,\"photos\":%d,\"duplicates_merged\":%d,"
               "\"verified\":true}\n", rep.n_collections, rep.n_subjects, rep.n_faces, rep.n_images, rep.n_duplicates);
        return 0;
    }
    for (int i = 0; i < shown; i++) {
        const fn_gallery_migrated *c = &rep.collections[i];
        printf("collection %-20s %6d subjects %8d faces  sha256 %s\n", c->name, c->n_subjects, c->n_faces, c->checksum);
    }
    if (rep.n_collections > shown) printf("... and %d more collections\n", rep.n_collections - shown);
    printf("migrated %d collections: %d subjects, %d faces, %d photos; counts and checksums verified\n",
           rep.n_collections, rep.n_subjects, rep.n_faces, rep.n_images);
    if (rep.n_duplicates)
        printf("note: %d faces repeated a photo of their subject (left by merging subjects) and were kept once\n",
               rep.n_duplicates);
    return 0;
}
