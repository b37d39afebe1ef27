/* cmd_serve.c — `facenet serve`: CompreFace's REST API, a web page, /health and /metrics
 * (src/serve). Runs until SIGTERM or SIGINT, then lets in-flight requests finish. */
#include "cli.h"
#include <signal.h>
#include <pthread.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet serve [options]\n"
        "       facenet serve --new-key --keys KEYS_FILE\n"
        "A face recognition service that speaks CompreFace's v1 REST API (recognition,\n"
        "detection, verification), with a web page at / and GET /health, GET /metrics.\n"
        "Each API key in KEYS_FILE owns its own face collection in the gallery.\n"
        "  --gallery DB         gallery store: SQLite file or postgresql:// URI\n"
        "                       (default facenet-gallery.db)\n"
        "  --keys KEYS_FILE     API keys, one a line (default facenet-keys.txt)\n"
        "  --new-key            append a new random key to KEYS_FILE, print it and exit\n"
        "  --host ADDR          address to bind (default 127.0.0.1: this machine only)\n"
        "  --port N             port (default 8000; 0 = any free port, printed at start)\n"
        "  --workers N          inference threads (default: one per core)\n"
        "  --queue N            requests that may wait for a worker before 429 (default 4 per worker)\n"
        "  --max-body BYTES     request body cap (default 5242880, CompreFace's 5 MB)\n"
        "  --max-pixels N       decoded image cap (default 40000000)\n"
        "  --timeout S          drop connections idle for S seconds (default 30)\n"
        "  --model PATH         embedding model (default: the dlib-style ResNet in models/)\n"
        "  --mtcnn PATH         MTCNN weights (default: models/mtcnn.safetensors or models/mtcnn/)\n"
        "  --quiet              no log lines on stderr\n");
}

static void log_line(void *ctx, const char *line) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s\n", ts, line);
}

int cmd_serve(int argc, char **argv) {
    const char *cmd = "serve";
    fn_serve_options o;
    fn_serve_options_default(&o);
    o.gallery = "facenet-gallery.db";
    o.keys_file = "facenet-keys.txt";
    const char *max_body = NULL, *max_pixels = NULL;
    int new_key = 0, quiet = 0, err = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--new-key")) new_key = 1;
        else if (cli_flag(argv, i, "--quiet")) quiet = 1;
        else if (cli_opt_str(argc, argv, &i, "--gallery", &o.gallery, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--keys", &o.keys_file, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--host", &o.host, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--port", &o.port, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--workers", &o.workers, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--queue", &o.queue, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--timeout", &o.timeout_s, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--max-body", &max_body, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--max-pixels", &max_pixels, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &o.model, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &o.mtcnn, &err)) {}
        else { usage(stderr); return cli_error(cmd, "unknown argument %s", argv[i]); }
        if (err) return 1;
    }
    if (new_key) {
        char key[64];
        fn_status s = fn_serve_new_key(o.keys_file, key, sizeof key);
        if (s != FN_OK) return cli_status_error(cmd, s);
        printf("%s\n", key); /* the operator asked for it; the server never prints keys */
        return 0;
    }
    struct { const char *name, *text; size_t *out; } sizes[] = {
        { "--max-body", max_body, &o.max_body }, { "--max-pixels", max_pixels, &o.max_pixels } };
    for (int k = 0; k < 2; k++) {
        if (!sizes[k].text) continue;
        char *end;
        unsigned long long v = strtoull(sizes[k].text, &end, 10);
        if (*end || end == sizes[k].text || v == 0 || sizes[k].text[0] == '-')
            return cli_error(cmd, "%s wants a positive number (got '%s')", sizes[k].name, sizes[k].text);
        *sizes[k].out = (size_t)v;
    }
    if (o.port < 0 || o.port > 65535) return cli_error(cmd, "--port must be in 0..65535");
    char *model = NULL, *mtcnn = NULL;
    if (!o.model && !(o.model = model = cli_default_model())) return cli_error(cmd, "no embedding model found: %s", cli_models_hint());
    if (!o.mtcnn && !(o.mtcnn = mtcnn = cli_default_mtcnn())) { free(model); return cli_error(cmd, "no MTCNN weights found: %s", cli_models_hint()); }
    if (!quiet) o.log = log_line;

    /* signals are taken by sigwait on this thread: block them before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    fn_server *srv;
    fn_status s = fn_server_start(&o, &srv);
    free(model); free(mtcnn);
    if (s != FN_OK) return cli_status_error(cmd, s);
    /* the port on stdout, one line: scripts that asked for --port 0 read it */
    printf("facenet serve: http://%s:%d/\n", o.host, fn_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    if (!quiet) fprintf(stderr, "facenet serve: %s: finishing in-flight requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fn_server_stop(srv);
    return 0;
}
