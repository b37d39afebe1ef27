/* fuzz_video.c — libFuzzer target for video uploads: arbitrary bytes through
 * fn_video_open_memory (our AVIOContext over memory, FFmpeg's demuxers and decoders of the
 * allowed containers and codecs, frame conversion), up to a few frames each. Seed corpus:
 * fuzz/corpus/fuzz_video/ (tiny MP4, Matroska, MPEG-TS, AVI/MJPEG clips of the Hamilton clip). */
#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fn_video_options o = { 1, NULL, 1 << 20 }; /* one decoder thread; frames up to 1 Mpixel */
    fn_video *v = NULL;
    if (fn_video_open_memory(data, size, &o, &v) != FN_OK) return 0;
    fn_video_info info;
    fn_video_get_info(v, &info);
    fn_image img = { 0, 0, NULL };
    fn_video_frame fr;
    int got;
    for (int i = 0; i < 8; i++) {
        if (fn_video_read(v, &img, &fr, &got) != FN_OK || !got) break;
        volatile uint8_t sink = img.rgb[(size_t)img.w * img.h * 3 - 1]; /* touch the last pixel */
        (void)sink;
    }
    fn_image_free(&img);
    fn_video_close(v);
    return 0;
}
