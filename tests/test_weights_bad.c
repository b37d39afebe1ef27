/* test_weights_bad.c — hostile and broken weight files: every parser must answer with a
 * clear error status (never a crash, a hang or a leak; run it under ASan+UBSan too).
 *  - truncation at EVERY length of each fixture (exact-size heap copies, so ASan sees
 *    any read past the end), including the real 28 KB pnet.pt and det1.npy;
 *  - wrong magic, absurd shapes/sizes (overflow), views past their storage;
 *  - pickles asking for forbidden globals (os.system), unknown opcodes, memo/stack abuse;
 *  - protobuf with bad varints / overlong lengths / absurd dims;
 *  - compressed zip entries;
 *  - 3000 seeded random byte mutations of the fixtures (a tiny in-test fuzzer). */
#include "weights.h"
#include "test_util.h"

#define FIX FN_SOURCE_DIR "/tests/fixtures/weights/"

typedef fn_status (*parse_fn)(const uint8_t *, size_t, fn_tensor_set *);

static fn_status parse_any(const uint8_t *d, size_t n, fn_tensor_set *out) {
    switch (fn_weights_detect(d, n)) {
    case FN_WFMT_SAFETENSORS: {
        fn_status s = fn_safetensors_parse(d, n, out);
        if (!s) s = fn_tensor_set_own(out); /* parse borrows d; we free it right away */
        return s;
    }
    case FN_WFMT_TORCH_ZIP: case FN_WFMT_TORCH_LEGACY: return fn_torch_load_mem(d, n, out);
    case FN_WFMT_NPY: return fn_npy_pickle_load_mem(d, n, out);
    case FN_WFMT_TF_GRAPHDEF: return fn_graphdef_load_mem(d, n, out);
    default: fn_tensor_set_init(out); return fn_fail(FN_ERR_FORMAT, "unrecognised");
    }
}

static fn_status parse_copy(parse_fn fn, const uint8_t *src, size_t n, fn_tensor_set *out) {
    uint8_t *d = malloc(n ? n : 1);
    memcpy(d, src, n);
    fn_status s = fn(d, n, out);
    free(d);
    return s;
}

static uint8_t *slurp(const char *path, size_t *n) {
    uint8_t *d = NULL;
    if (fn_read_file(path, &d, n)) { CHECK_MSG(0, "read %s: %s", path, fn_last_error()); return NULL; }
    return d;
}

/* Every prefix must fail; for protobuf (no terminator) a prefix cut at a message boundary is
 * a valid smaller graph, so there it must only never crash nor grow. */
static void truncations(const char *path, parse_fn fn, int may_succeed) {
    size_t n;
    uint8_t *d = slurp(path, &n);
    if (!d) return;
    fn_tensor_set full;
    fn_status s = parse_copy(fn, d, n, &full);
    CHECK_MSG(s == FN_OK, "%s: full file fails: %s", path, fn_last_error());
    int full_n = s ? 0 : full.n;
    if (!s) fn_tensor_set_free(&full);
    size_t failed = 0, ok_smaller = 0, bad = 0;
    for (size_t len = 0; len < n; len++) {
        fn_tensor_set t;
        s = parse_copy(fn, d, len, &t);
        if (s != FN_OK) { failed++; if (!fn_last_error()[0]) bad++; continue; }
        if (may_succeed && t.n <= full_n) ok_smaller++; else bad++;
        fn_tensor_set_free(&t);
    }
    printf("  %-28s %6zu truncations: %zu errors, %zu valid shorter graphs, %zu wrong\n", strrchr(path, '/') + 1, n, failed, ok_smaller, bad);
    CHECK_MSG(bad == 0, "%s: %zu truncations accepted or failed without a message", path, bad);
    free(d);
}

static void expect(const char *what, fn_status got, fn_status want, const char *needle) {
    const char *msg = fn_last_error();
    printf("  %-28s -> %s: %s\n", what, fn_status_str(got), msg);
    CHECK_MSG(got == want, "%s: status %s, expected %s", what, fn_status_str(got), fn_status_str(want));
    if (needle) CHECK_MSG(strstr(msg, needle) != NULL, "%s: message lacks '%s'", what, needle);
}

static void file_case(const char *file, fn_status want, const char *needle) {
    fn_tensor_set t;
    fn_status s = fn_weights_load(file, &t, "auto");
    expect(strrchr(file, '/') + 1, s, want, needle);
    if (!s) fn_tensor_set_free(&t);
}

static void mem_case(const char *what, parse_fn fn, const void *bytes, size_t n, fn_status want, const char *needle) {
    fn_tensor_set t;
    fn_status s = parse_copy(fn, bytes, n, &t);
    expect(what, s, want, needle);
    if (!s) fn_tensor_set_free(&t);
}

/* "\x93NUMPY" v1 header for an object array + the given pickle */
static size_t npy_with_pickle(uint8_t *buf, const void *pkl, size_t n) {
    const char *h = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
    size_t hl = 118 - 10; /* pad so magic+header = 118 bytes (64-aligned not required by us) */
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)hl; buf[9] = 0;
    memset(buf + 10, ' ', hl);
    memcpy(buf + 10, h, strlen(h));
    buf[10 + hl - 1] = '\n';
    memcpy(buf + 10 + hl, pkl, n);
    return 10 + hl + n;
}

static void mutations(const char *const *files, int nfiles, int iterations) {
    fn_rng rng = { 12345 };
    int ok = 0, err = 0;
    for (int it = 0; it < iterations; it++) {
        size_t n;
        uint8_t *d = slurp(files[it % nfiles], &n);
        if (!d || !n) { free(d); continue; }
        int flips = 1 + (int)(fn_rng_next(&rng) % 8);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(fn_rng_next(&rng) % n);
            uint64_t r = fn_rng_next(&rng);
            d[at] = (r & 3) == 0 ? 0xff : (r & 3) == 1 ? 0x00 : (uint8_t)(r >> 8);
        }
        size_t len = (fn_rng_next(&rng) & 7) == 0 ? (size_t)(fn_rng_next(&rng) % n) : n;
        fn_tensor_set t;
        fn_status s = parse_copy(parse_any, d, len, &t);
        if (s) err++; else { ok++; fn_tensor_set_free(&t); }
        free(d);
    }
    printf("  %d random mutations: %d parsed, %d clear errors, no crash\n", iterations, ok, err);
    CHECK(ok + err == iterations);
}

int main(void) {
    /* truncations everywhere */
    truncations(FIX "torch_legacy.pt", fn_torch_load_mem, 0);
    truncations(FIX "torch_zip.pt", fn_torch_load_mem, 0);
    truncations(FIX "npy_dict.npy", fn_npy_pickle_load_mem, 0);
    truncations(FIX "npy_dict_p2.npy", fn_npy_pickle_load_mem, 0);
    truncations(FIX "torch_expected.safetensors", parse_any, 0);
    truncations(FIX "graphdef.pb", fn_graphdef_load_mem, 1);
    truncations(FN_SHARED_DIR "/models/mtcnn/pnet.pt", fn_torch_load_mem, 0);
    truncations(FN_SHARED_DIR "/models/mtcnn/det1.npy", fn_npy_pickle_load_mem, 0);

    /* forbidden globals */
    file_case(FIX "evil_global.pkl", FN_ERR_UNSUPPORTED, "os.system");
    file_case(FIX "evil_zip.pt", FN_ERR_UNSUPPORTED, "os.system");
    {
        size_t n;
        uint8_t *evil = slurp(FIX "evil_global.pkl", &n), buf[512];
        if (evil) {
            size_t m = npy_with_pickle(buf, evil, n);
            mem_case("npy with os.system", fn_npy_pickle_load_mem, buf, m, FN_ERR_UNSUPPORTED, "os.system");
            free(evil);
        }
    }
    /* STACK_GLOBAL spelling of a forbidden global, and builtins.eval */
    static const uint8_t stack_global[] = "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93\x8c\x01" "1" "\x85R.";
    mem_case("STACK_GLOBAL builtins.eval", fn_torch_load_mem, stack_global, sizeof stack_global - 1, FN_ERR_UNSUPPORTED, "builtins.eval");
    /* opcodes outside the allowed set: INST, OBJ, NEWOBJ, EMPTY_SET, LONG4, PERSID */
    static const uint8_t inst[] = "\x80\x02(ios\nsystem\n.";
    mem_case("INST opcode", fn_torch_load_mem, inst, sizeof inst - 1, FN_ERR_UNSUPPORTED, "opcode");
    static const uint8_t empty_set[] = "\x80\x04\x8f.";
    mem_case("EMPTY_SET opcode", fn_torch_load_mem, empty_set, sizeof empty_set - 1, FN_ERR_UNSUPPORTED, "opcode");
    static const uint8_t newobj[] = "\x80\x02" "ccollections\nOrderedDict\n)\x81.";
    mem_case("NEWOBJ opcode", fn_torch_load_mem, newobj, sizeof newobj - 1, FN_ERR_UNSUPPORTED, "opcode");
    /* machine abuse: memo miss, stack underflow, mark underflow, huge memo index, bad STOP */
    static const uint8_t memo_miss[] = "\x80\x02h\x05.";
    mem_case("memo miss", fn_torch_load_mem, memo_miss, sizeof memo_miss - 1, FN_ERR_FORMAT, "memo");
    static const uint8_t underflow[] = "\x80\x02s.";
    mem_case("stack underflow", fn_torch_load_mem, underflow, sizeof underflow - 1, FN_ERR_FORMAT, "underflow");
    static const uint8_t no_mark[] = "\x80\x02t.";
    mem_case("TUPLE without MARK", fn_torch_load_mem, no_mark, sizeof no_mark - 1, FN_ERR_FORMAT, "MARK");
    static const uint8_t big_memo[] = "\x80\x02Nr\xff\xff\xff\x7f.";
    mem_case("LONG_BINPUT 2^31", fn_torch_load_mem, big_memo, sizeof big_memo - 1, FN_ERR_LIMIT, "memo");
    static const uint8_t two_left[] = "\x80\x02NN.";
    mem_case("two items at STOP", fn_torch_load_mem, two_left, sizeof two_left - 1, FN_ERR_FORMAT, "STOP");
    static const uint8_t huge_str[] = "\x80\x02X\xff\xff\xff\xff" "abc.";
    mem_case("string length 4 GiB", fn_torch_load_mem, huge_str, sizeof huge_str - 1, FN_ERR_FORMAT, "truncated");
    static const uint8_t not_dict[] = "\x80\x02]."; /* zip-less legacy: magic missing */
    mem_case("legacy without magic", fn_torch_load_mem, not_dict, sizeof not_dict - 1, FN_ERR_FORMAT, "magic");

    /* impossible tensor views (written by pickle.Pickler like torch.save) */
    file_case(FIX "bad_shape.pt", FN_ERR_LIMIT, "absurd");
    file_case(FIX "bad_stride.pt", FN_ERR_FORMAT, "past its storage");
    file_case(FIX "bad_offset.pt", FN_ERR_FORMAT, "past its storage");
    file_case(FIX "neg_stride.pt", FN_ERR_FORMAT, "stride");
    file_case(FIX "compressed.pt", FN_ERR_UNSUPPORTED, "compressed");

    /* wrong magic */
    static const uint8_t zip_junk[] = "PK\x03\x04 this is not really a zip archive at all, no directory";
    mem_case("zip without directory", fn_torch_load_mem, zip_junk, sizeof zip_junk - 1, FN_ERR_FORMAT, "central directory");
    static const uint8_t npy_bad[] = "\x93NUMPZ\x01\x00\x10\x00{'descr': '<f4'}";
    mem_case("npy bad magic", fn_npy_pickle_load_mem, npy_bad, sizeof npy_bad - 1, FN_ERR_FORMAT, "magic");
    static const uint8_t npy_shape[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }\n";
    mem_case("npy absurd shape", fn_npy_pickle_load_mem, npy_shape, sizeof npy_shape - 1, FN_ERR_FORMAT, NULL);
    static const uint8_t st_len[] = "\xff\xff\xff\xff\xff\xff\xff\x7f{}";
    mem_case("safetensors header 2^63", parse_any, st_len, sizeof st_len - 1, FN_ERR_FORMAT, NULL);
    {
        fn_tensor_set t;
        fn_status s = fn_safetensors_parse(st_len, sizeof st_len - 1, &t);
        expect("safetensors huge length", s, FN_ERR_FORMAT, "header length");
    }
    {
        const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}";
        uint8_t buf[256];
        size_t hl = strlen(h);
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
        memcpy(buf + 8, h, hl);
        memset(buf + 8 + hl, 0, 4);
        fn_tensor_set t;
        fn_status s = fn_safetensors_parse(buf, 8 + hl + 4, &t);
        expect("safetensors shape overflow", s, FN_ERR_LIMIT, "overflow");
        if (!s) fn_tensor_set_free(&t);
        h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,400]}}";
        hl = strlen(h);
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
        memcpy(buf + 8, h, hl);
        s = fn_safetensors_parse(buf, 8 + hl + 8, &t);
        expect("safetensors offsets past end", s, FN_ERR_FORMAT, "out of range");
        if (!s) fn_tensor_set_free(&t);
    }

    /* protobuf: bad varint, overlong length, absurd dim, wrong wire type */
    static const uint8_t pb_varint[] = "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    mem_case("protobuf 11-byte varint", fn_graphdef_load_mem, pb_varint, sizeof pb_varint - 1, FN_ERR_FORMAT, "varint");
    static const uint8_t pb_len[] = "\x0a\x80\x80\x80\x80\x10\x0a\x01x";
    mem_case("protobuf length 4 GiB", fn_graphdef_load_mem, pb_len, sizeof pb_len - 1, FN_ERR_FORMAT, "overruns");
    static const uint8_t pb_group[] = "\x0b\x0c";
    mem_case("protobuf group wire type", fn_graphdef_load_mem, pb_group, sizeof pb_group - 1, FN_ERR_FORMAT, "wire type");
    {
        /* node{name:"x" op:"Const" attr{key:"value" value{tensor{dtype:1 shape{dim{size:2^62} dim{size:2^62}}}}}} */
        static const uint8_t dim[] = "\x12\x0a\x08\x80\x80\x80\x80\x80\x80\x80\x80\x40";
        uint8_t shape[64], tensor[80], attr[100], node[140], graph[160];
        size_t sl = 0, tl = 0, al = 0, nl = 0, gl = 0;
        memcpy(shape + sl, dim, 12); sl += 12; memcpy(shape + sl, dim, 12); sl += 12;
        tensor[tl++] = 0x08; tensor[tl++] = 0x01; tensor[tl++] = 0x12; tensor[tl++] = (uint8_t)sl; memcpy(tensor + tl, shape, sl); tl += sl;
        uint8_t value[90]; size_t vl = 0;
        value[vl++] = 0x42; value[vl++] = (uint8_t)tl; memcpy(value + vl, tensor, tl); vl += tl;
        attr[al++] = 0x0a; attr[al++] = 5; memcpy(attr + al, "value", 5); al += 5;
        attr[al++] = 0x12; attr[al++] = (uint8_t)vl; memcpy(attr + al, value, vl); al += vl;
        node[nl++] = 0x0a; node[nl++] = 1; node[nl++] = 'x';
        node[nl++] = 0x12; node[nl++] = 5; memcpy(node + nl, "Const", 5); nl += 5;
        node[nl++] = 0x2a; node[nl++] = (uint8_t)al; memcpy(node + nl, attr, al); nl += al;
        graph[gl++] = 0x0a; graph[gl++] = (uint8_t)nl; memcpy(graph + gl, node, nl); gl += nl;
        mem_case("graphdef dims 2^62 x 2^62", fn_graphdef_load_mem, graph, gl, FN_ERR_LIMIT, "absurd");
    }
    static const uint8_t pb_empty[] = "\x22\x02\x08\x1b"; /* versions only: no Const */
    mem_case("graphdef without Consts", fn_graphdef_load_mem, pb_empty, sizeof pb_empty - 1, FN_ERR_FORMAT, "no Const");

    /* unknown content, missing file, MTCNN with a wrong net */
    file_case(FN_SOURCE_DIR "/CMakeLists.txt", FN_ERR_FORMAT, "unrecognised");
    file_case(FIX "does_not_exist.pt", FN_ERR_IO, "does_not_exist");

    static const char *const files[] = { FIX "torch_legacy.pt", FIX "torch_zip.pt", FIX "npy_dict.npy", FIX "npy_dict_p2.npy",
                                         FIX "graphdef.pb", FIX "graphdef_irv1.pb", FIX "torch_expected.safetensors" };
    mutations(files, 7, 3000);
    return tu_finish("test_weights_bad");
}
