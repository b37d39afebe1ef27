/* cmd_convert.c — `facenet convert`: import published weights (PyTorch .pt legacy/zip,
 * facenet's TF .pb, det*.npy, TF.js manifests, MTCNN folders) into the native safetensors
 * format that every other command loads. The input format is found from the content. */
#include "cli.h"
#include "core.h"
#include "json.h"
#include "weights.h"
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet convert IN OUT.safetensors [--arch ARCH] [--json]\n"
        "Convert published weights to safetensors (written atomically). IN may be:\n"
        "  a PyTorch .pt state_dict (legacy pickle or zip), e.g. facenet-pytorch's\n"
        "    20180402-114759-vggface2.pt or pnet.pt;\n"
        "  facenet's TensorFlow frozen graph (20180402-114759.pb);\n"
        "  facenet's det1.npy/det2.npy/det3.npy; a TF.js weights manifest (JSON);\n"
        "  a folder holding pnet.pt, rnet.pt, onet.pt or det1-3.npy (MTCNN).\n"
        "  --arch ARCH   inception_resnet_v1 | mtcnn | dlib_resnet | landmark68 | auto (default auto:\n"
        "                TF names are mapped to facenet-pytorch names, a folder is MTCNN)\n"
        "                mtcnn writes the complete pnet./rnet./onet. set and needs all three nets\n"
        "  --json        print the summary as JSON\n"
        "Prints one summary line: input, format, tensors, parameters, architecture, output.\n");
}

static int64_t count_params(const fn_tensor_set *s) {
    int64_t n = 0;
    for (int i = 0; i < s->n; i++) n += fn_tensor_numel(&s->t[i]);
    return n;
}

static const char *base_name(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    const char *s = p + n;
    while (s > p && s[-1] != '/') s--;
    return s;
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *arch = "auto";
    int json = 0, err = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_opt_str(argc, argv, &i, "--arch", &arch, &err)) { if (err) return 1; }
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error("convert", "unknown option %s (see --help)", argv[i]);
        else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return cli_error("convert", "too many arguments (see --help)");
    }
    if (!in || !out) { usage(stderr); return 2; }
    if (strcmp(arch, "auto") && strcmp(arch, "inception_resnet_v1") && strcmp(arch, "mtcnn") && strcmp(arch, "dlib_resnet") && strcmp(arch, "landmark68"))
        return cli_error("convert", "unknown --arch '%s' (inception_resnet_v1, mtcnn, dlib_resnet, landmark68, auto)", arch);
    struct stat st;
    if (stat(in, &st) != 0) return cli_error("convert", "%s: no such file or folder", in);

    fn_tensor_set ts;
    fn_status s;
    if (!strcmp(arch, "mtcnn") || S_ISDIR(st.st_mode)) s = fn_mtcnn_weights_load(in, &ts);
    else s = fn_weights_load(in, &ts, arch);
    if (s) return cli_status_error("convert", s);
    const char *found = fn_weights_guess_arch(&ts);
    if (strcmp(arch, "auto") && strcmp(found, arch)) {
        fn_tensor_set_free(&ts);
        return cli_error("convert", "%s does not hold %s weights (its tensors look like: %s)", in, arch, found);
    }
    if (!strcmp(found, "inception_resnet_v1") && !fn_tensor_set_find(&ts, "last_linear.weight")) {
        fn_tensor_set_free(&ts);
        return cli_error("convert", "%s: Inception-ResNet-v1 weights without last_linear.weight (incomplete?)", in);
    }
    const char *format = ts.format ? ts.format : "?";
    /* provenance in the safetensors __metadata__ (string -> string) */
    char *meta = NULL;
    size_t meta_len = 0;
    FILE *m = open_memstream(&meta, &meta_len);
    if (!m) { fn_tensor_set_free(&ts); return cli_error("convert", "out of memory"); }
    fputs("{\"source\":", m); fn_json_write_string(m, base_name(in));
    fputs(",\"source_format\":", m); fn_json_write_string(m, format);
    fputs(",\"arch\":", m); fn_json_write_string(m, found);
    fputs(",\"converter\":\"facenet convert\"}", m);
    fclose(m);
    s = fn_safetensors_save(out, &ts, meta);
    free(meta);
    if (s) { fn_tensor_set_free(&ts); return cli_status_error("convert", s); }
    int64_t params = count_params(&ts);
    if (json) {
        fputs("{\"input\":", stdout); fn_json_write_string(stdout, in);
        fputs(",\"output\":", stdout); fn_json_write_string(stdout, out);
        printf(",\"format\":\"%s\",\"arch\":\"%s\",\"tensors\":%d,\"parameters\":%lld}\n", format, found, ts.n, (long long)params);
    } else {
        printf("%s (%s): %d tensors, %lld parameters, arch %s -> %s\n", in, format, ts.n, (long long)params, found, out);
    }
    fn_tensor_set_free(&ts);
    return 0;
}
