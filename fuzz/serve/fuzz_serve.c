/* fuzz_serve.c — libFuzzer target for `facenet serve`'s request parsing and routing: each
 * input is raw bytes a client sends (request line, headers, body). They go through the
 * real stack — libmicrohttpd's parser and post processor, the route table, key check,
 * JSON / base64 / multipart handling, the handlers, the gallery — over a socketpair
 * handed to a server started without a listening socket. The whole answer is read back.
 * Seeds (fuzz/corpus/fuzz_serve/) use the key below. Needs models/ (scripts/get-models.sh)
 * in the working directory; images are capped at 64x64 pixels to keep runs fast. */
#define _GNU_SOURCE
#include "serve/serve.h"
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_KEY "fuzz-key-00000000-0000-4000-8000-000000000001"

static serve_server *srv;
static char keys_path[256], gallery_path[256];

static void cleanup(void) {
    if (srv) fn_server_stop(srv);
    unlink(keys_path);
    char p[300];
    unlink(gallery_path);
    snprintf(p, sizeof p, "%s-wal", gallery_path); unlink(p);
    snprintf(p, sizeof p, "%s-shm", gallery_path); unlink(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(keys_path, sizeof keys_path, "/tmp/fuzz_serve_keys.%d", (int)getpid());
    snprintf(gallery_path, sizeof gallery_path, "/tmp/fuzz_serve_gallery.%d.db", (int)getpid());
    FILE *f = fopen(keys_path, "w");
    if (!f) { perror(keys_path); abort(); }
    fprintf(f, "%s\nfuzz-key-second-collection\n", FUZZ_KEY);
    fclose(f);
    fn_serve_options o;
    fn_serve_options_default(&o);
    o.keys_file = keys_path;
    o.gallery = gallery_path;
    o.model = "models/dlib_resnet.safetensors";
    o.mtcnn = "models/mtcnn.safetensors";
    o.workers = 1;
    o.queue = 4;
    o.max_body = 256 * 1024;
    o.max_pixels = 64 * 64;
    o.timeout_s = 2;
    if (serve_server_create(&o, 1, &srv) != FN_OK) {
        fprintf(stderr, "fuzz_serve: cannot start the server (run from the repository root after "
                        "scripts/get-models.sh): %s\n", fn_last_error());
        abort();
    }
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    if (serve_server_add_socket(srv, sv[0]) != 0) { close(sv[0]); close(sv[1]); return 0; }
    /* send everything (the server reads while we write), then say we are done */
    size_t sent = 0;
    char buf[65536];
    struct pollfd p = { sv[1], POLLOUT | POLLIN, 0 };
    while (sent < size) {
        if (poll(&p, 1, 3000) <= 0) break;
        if (p.revents & POLLOUT) {
            ssize_t k = send(sv[1], data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k <= 0) break;
            sent += (size_t)k;
        }
        if (p.revents & POLLIN) { if (recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) <= 0) break; }
        if (p.revents & (POLLERR | POLLHUP)) break;
    }
    shutdown(sv[1], SHUT_WR);
    /* read the answer until the server closes (bounded by its 2 s timeout) */
    p.events = POLLIN;
    while (poll(&p, 1, 5000) > 0) {
        if (recv(sv[1], buf, sizeof buf, 0) <= 0) break;
    }
    close(sv[1]);
    return 0;
}
