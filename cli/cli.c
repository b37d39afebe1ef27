/* cli.c — shared helpers of the command line. */
#define _GNU_SOURCE
#include "cli.h"
#include <stdarg.h>
#include <unistd.h>
#include <sys/stat.h>
#include <limits.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "facenet %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_status_error(const char *cmd, fn_status s) {
    const char *d = fn_last_error();
    fprintf(stderr, "facenet %s: error: %s%s%s\n", cmd, fn_status_str(s), d[0] ? ": " : "", d);
    return 1;
}

static int opt_match(int argc, char **argv, int *i, const char *name, const char **val, int *err) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) { fprintf(stderr, "facenet: option %s needs a value\n", name); *err = 1; return 1; }
    *val = argv[++*i];
    return 1;
}

int cli_opt_str(int argc, char **argv, int *i, const char *name, const char **val, int *err) {
    return opt_match(argc, argv, i, name, val, err);
}

int cli_opt_int(int argc, char **argv, int *i, const char *name, int *val, int *err) {
    const char *v;
    if (!opt_match(argc, argv, i, name, &v, err)) return 0;
    if (*err) return 1;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < INT_MIN || x > INT_MAX) { fprintf(stderr, "facenet: option %s: '%s' is not an integer\n", name, v); *err = 1; return 1; }
    *val = (int)x;
    return 1;
}

int cli_opt_float(int argc, char **argv, int *i, const char *name, float *val, int *err) {
    const char *v;
    if (!opt_match(argc, argv, i, name, &v, err)) return 0;
    if (*err) return 1;
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v) { fprintf(stderr, "facenet: option %s: '%s' is not a number\n", name, v); *err = 1; return 1; }
    *val = (float)x;
    return 1;
}

int cli_parse_thresholds(const char *v, float t[3]) {
    char *end;
    for (int i = 0; i < 3; i++) {
        double x = strtod(v, &end);
        if (end == v || !(x >= 0 && x <= 1)) return 0;
        t[i] = (float)x;
        if (i < 2) { if (*end != ',') return 0; v = end + 1; }
    }
    return *end == 0;
}

int cli_parse_standardize(const char *cmd, const char *v, fn_standardize *std) {
    if (!strcmp(v, "fixed")) *std = FN_STD_FIXED;
    else if (!strcmp(v, "prewhiten")) *std = FN_STD_PREWHITEN;
    else return cli_error(cmd, "--standardize must be 'fixed' or 'prewhiten', not '%s'", v);
    return 0;
}

int cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

void cli_print_distance_matrix(const float *dist, int n) {
    printf("\nDistance matrix\n    ");
    for (int j = 0; j < n; j++) printf("    %1d     ", j);
    printf("\n");
    for (int i = 0; i < n; i++) {
        printf("%1d  ", i);
        for (int j = 0; j < n; j++) printf("  %1.4f  ", (double)dist[(size_t)i * n + j]);
        printf("\n");
    }
}

void cli_print_distance_matrix_json(const float *dist, int n) {
    printf("[");
    for (int i = 0; i < n; i++) {
        printf("%s[", i ? "," : "");
        for (int j = 0; j < n; j++) printf("%s%.6f", j ? "," : "", (double)dist[(size_t)i * n + j]);
        printf("]");
    }
    printf("]");
}

static int exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

static char *find_in_models(const char *const *names) {
    char dirs[3][PATH_MAX];
    int nd = 0;
    const char *env = getenv("FACENET_MODELS");
    if (env && *env) snprintf(dirs[nd++], PATH_MAX, "%s", env);
    snprintf(dirs[nd++], PATH_MAX, "models");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) { *slash = 0; snprintf(dirs[nd++], PATH_MAX, "%.3800s/../models", exe); }
    }
    for (int d = 0; d < nd; d++)
        for (int k = 0; names[k]; k++) {
            char p[PATH_MAX + 256];
            snprintf(p, sizeof p, "%.4000s/%.200s", dirs[d], names[k]);
            if (exists(p)) return strdup(p);
        }
    return NULL;
}

char *cli_default_model(void) {
    /* facenet's VGGFace2 weights when installed, else the dlib-style ResNet from npm */
    static const char *const names[] = { "20180402-114759-vggface2.safetensors", "dlib_resnet.safetensors", NULL };
    return find_in_models(names);
}

char *cli_default_mtcnn(void) {
    static const char *const names[] = { "mtcnn.safetensors", "mtcnn", NULL };
    return find_in_models(names);
}

char *cli_default_landmark68(void) {
    static const char *const names[] = { "landmark68.safetensors", NULL };
    return find_in_models(names);
}

const char *cli_models_hint(void) {
    return "no model found in $FACENET_MODELS, ./models or next to the binary; run scripts/get-models.sh (or pass --model)";
}

char *cli_default_lfw_pairs(const char *lfw_dir) {
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/pairs.txt", lfw_dir);
    if (exists(p)) return strdup(p);
    snprintf(p, sizeof p, "%.4000s/../pairs.txt", lfw_dir);
    if (exists(p)) return strdup(p);
    return NULL;
}

int cli_open_model(const char *cmd, const char *model_arg, fn_model **m) {
    char *mp = model_arg ? strdup(model_arg) : cli_default_model();
    if (!mp) return cli_error(cmd, "%s", cli_models_hint());
    fn_status s = fn_model_open(mp, m);
    free(mp);
    return s ? cli_status_error(cmd, s) : 0;
}

int cli_open_detector(const char *cmd, const char *mtcnn_arg, fn_detector **det) {
    char *dp = mtcnn_arg ? strdup(mtcnn_arg) : cli_default_mtcnn();
    if (!dp) return cli_error(cmd, "no MTCNN weights found; %s", cli_models_hint());
    fn_status s = fn_detector_open(dp, det);
    free(dp);
    return s ? cli_status_error(cmd, s) : 0;
}

char *cli_draw_path(const char *out, int index, int n) {
    char *p;
    if (n == 1) return strdup(out);
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash)) dot = out + strlen(out);
    if (asprintf(&p, "%.*s_%d%s", (int)(dot - out), out, index, dot) < 0) return NULL;
    return p;
}

void cli_draw_named_box(fn_image *img, const float box[4], const char *text, uint32_t rgb) {
    int thick = img->w > 600 ? img->w / 300 : 2, scale = img->w > 800 ? img->w / 400 : 1;
    fn_draw_rect(img, box[0], box[1], box[2], box[3], rgb, thick);
    int tw = fn_text_width(text, scale) + 4, th = fn_text_height(text, scale) + 4;
    float ty = box[1] - th >= 0 ? box[1] - th : box[3]; /* above the box, or below at the top edge */
    fn_draw_fill_rect(img, box[0], ty, box[0] + tw, ty + th, rgb);
    fn_draw_text(img, (int)(box[0] + 2), (int)(ty + 2), text, 0xFFFFFF, scale);
}
