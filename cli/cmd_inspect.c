/* cmd_inspect.c — `facenet inspect`: the tensors of any supported weight file as stored
 * (names, dtypes, shapes), as a text table or JSON. */
#include "cli.h"
#include "core.h"
#include "json.h"
#include "weights.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet inspect FILE [--json]\n"
        "List the tensors of a weight file (safetensors, PyTorch .pt, TF .pb, .npy, TF.js\n"
        "manifest, or an MTCNN folder) as stored: no renaming, original dtypes.\n"
        "  --json   print {\"format\":..., \"arch\":..., \"parameters\":N, \"metadata\":{...},\n"
        "           \"tensors\":[{\"name\":..., \"shape\":[...], \"dtype\":...}]}\n");
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error("inspect", "unknown option %s (see --help)", argv[i]);
        else if (!path) path = argv[i];
        else return cli_error("inspect", "one file at a time (see --help)");
    }
    if (!path) { usage(stderr); return 2; }
    fn_tensor_set ts;
    fn_status s = fn_weights_load_raw(path, &ts);
    if (s) return cli_status_error("inspect", s);
    int64_t params = 0;
    for (int i = 0; i < ts.n; i++) params += fn_tensor_numel(&ts.t[i]);
    const char *format = ts.format ? ts.format : "?", *arch = fn_weights_guess_arch(&ts);
    if (json) {
        printf("{\"format\":\"%s\",\"arch\":\"%s\",\"parameters\":%lld,", format, arch, (long long)params);
        printf("\"metadata\":%s,\"tensors\":[", ts.metadata_json ? ts.metadata_json : "{}");
        for (int i = 0; i < ts.n; i++) {
            const fn_tensor *t = &ts.t[i];
            fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
            fn_json_write_string(stdout, t->name);
            fputs(",\"shape\":[", stdout);
            for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
            printf("],\"dtype\":\"%s\"}", fn_dtype_name(t->dtype));
        }
        puts("]}");
    } else {
        int w = 4;
        for (int i = 0; i < ts.n; i++) { int l = (int)strlen(ts.t[i].name); if (l > w) w = l; }
        if (w > 80) w = 80;
        printf("%-*s  %-5s  %s\n", w, "name", "dtype", "shape");
        for (int i = 0; i < ts.n; i++) {
            const fn_tensor *t = &ts.t[i];
            char shape[160];
            size_t o = 0;
            o += (size_t)snprintf(shape, sizeof shape, "[");
            for (int d = 0; d < t->ndim && o < sizeof shape; d++) o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            if (o < sizeof shape) snprintf(shape + o, sizeof shape - o, "]");
            printf("%-*s  %-5s  %s\n", w, t->name, fn_dtype_name(t->dtype), shape);
        }
        printf("%d tensors, %lld parameters, format %s, arch %s\n", ts.n, (long long)params, format, arch);
        if (ts.metadata_json) printf("metadata: %s\n", ts.metadata_json);
    }
    fn_tensor_set_free(&ts);
    return 0;
}
