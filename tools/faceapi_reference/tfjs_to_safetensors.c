/* tfjs_to_safetensors.c — fallback converter used by scripts/get-faceapi-model.sh when the
 * facenet binary has no `convert` subcommand yet: TF.js manifest -> .safetensors (atomic).
 * Built by the script against the build folder's libfacenet.a. */
#include "tfjs.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MANIFEST.json OUT.safetensors\n", argv[0]);
        return 2;
    }
    fn_tensor_set ts;
    fn_status s = fn_tfjs_load(argv[1], &ts);
    if (s == FN_OK) s = fn_safetensors_save(argv[2], &ts, "{\"source\":\"tfjs\"}");
    if (s != FN_OK) {
        fprintf(stderr, "error: %s: %s\n", fn_status_str(s), fn_last_error());
        fn_tensor_set_free(&ts);
        return 1;
    }
    printf("converted %d tensors: %s -> %s\n", ts.n, argv[1], argv[2]);
    fn_tensor_set_free(&ts);
    return 0;
}
