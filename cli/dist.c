/* dist.c — joining and leaving an MPI job from a command (see cli.h). */
#include "cli.h"
#include "dist/dist.h"

int cli_dist_begin(const char *cmd) {
    fn_status s = fn_dist_init();
    return s ? cli_status_error(cmd, s) : 0;
}

int cli_dist_end(int rc) {
    if (rc && fn_dist_size() > 1) {
        fflush(stdout);
        fflush(stderr);
        fn_dist_abort(rc);
    }
    fn_dist_finalize();
    return rc;
}
