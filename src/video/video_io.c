/* video_io.c — frames in (fn_video: any input libavformat opens, decoded by libavcodec,
 * converted to RGB by libswscale) and H.264 out (fn_video_writer). Built only with FFmpeg's
 * libraries (FN_HAVE_FFMPEG, cmake/video.cmake); without them every call says what to
 * install. */
#define _GNU_SOURCE
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#define FN_VIDEO_DEBIAN_PKGS "libavformat-dev libavcodec-dev libswscale-dev libavutil-dev"

#ifndef FN_HAVE_FFMPEG

static fn_status no_ffmpeg(void) {
    return fn_fail(FN_ERR_UNSUPPORTED, "video needs FFmpeg's libraries: this facenet was built "
                   "without them (Debian: apt-get install " FN_VIDEO_DEBIAN_PKGS ", then rebuild)");
}
int fn_video_available(void) { return 0; }
fn_status fn_video_open(const char *input, const fn_video_options *opt, fn_video **out) {
    *out = NULL; return no_ffmpeg();
}
fn_status fn_video_open_memory(const uint8_t *data, size_t size, const fn_video_options *opt,
                               fn_video **out) {
    *out = NULL; return no_ffmpeg();
}
void fn_video_get_info(const fn_video *v, fn_video_info *out) { memset(out, 0, sizeof *out); }
fn_status fn_video_read(fn_video *v, fn_image *img, fn_video_frame *frame, int *got) {
    *got = 0; return no_ffmpeg();
}
const char *fn_video_end_error(const fn_video *v) { return NULL; }
int64_t fn_video_corrupt_packets(const fn_video *v) { return 0; }
void fn_video_interrupt(fn_video *v) {}
void fn_video_close(fn_video *v) {}
fn_status fn_video_writer_open(const char *path, int width, int height, double fps,
                               fn_video_writer **out) {
    *out = NULL; return no_ffmpeg();
}
fn_status fn_video_writer_write(fn_video_writer *w, const fn_image *img, double time) { return no_ffmpeg(); }
fn_status fn_video_writer_close(fn_video_writer *w) { return no_ffmpeg(); }
void fn_video_writer_abort(fn_video_writer *w) {}

#else

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#ifdef FN_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif

/* Consecutive undecodable packets after which the input counts as broken, not noisy. */
#define FN_VIDEO_MAX_BAD_RUN 300
/* Uploads (fn_video_open_memory) may only use common video containers and codecs: the
 * rarer demuxers are where FFmpeg's security bugs live. */
#define FN_VIDEO_MEMORY_FORMATS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,avi,flv,h264,hevc,mjpeg"
#define FN_VIDEO_MEMORY_CODECS "h264,hevc,mpeg4,vp8,vp9,av1,libdav1d,mjpeg,mpeg2video,mpeg1video,h263"

struct fn_video {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVIOContext *avio;         /* memory input only */
    const uint8_t *mem;
    size_t mem_size, mem_pos;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int64_t next_index;
    int64_t corrupt;
    int64_t max_pixels;
    int bad_run;
    int draining, done;        /* flushed the decoder / no more frames */
    volatile sig_atomic_t stop;
    char end_error[256];
    fn_video_info info;
};

static void av_msg(int err, char *buf, size_t cap) {
    if (av_strerror(err, buf, cap) < 0) snprintf(buf, cap, "error %d", err);
}

int fn_video_available(void) { return 1; }

static int interrupt_cb(void *opaque) { return ((fn_video *)opaque)->stop != 0; }

static int mem_read(void *opaque, uint8_t *buf, int n) {
    fn_video *v = opaque;
    size_t left = v->mem_size - v->mem_pos;
    if (left == 0) return AVERROR_EOF;
    if ((size_t)n > left) n = (int)left;
    memcpy(buf, v->mem + v->mem_pos, (size_t)n);
    v->mem_pos += (size_t)n;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    fn_video *v = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return (int64_t)v->mem_size;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)v->mem_pos
                 : whence == SEEK_END ? (int64_t)v->mem_size : -1;
    if (base < 0 || off > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t pos = base + off;
    if (pos < 0 || pos > (int64_t)v->mem_size) return AVERROR(EINVAL);
    v->mem_pos = (size_t)pos;
    return pos;
}

void fn_video_close(fn_video *v) {
    if (!v) return;
    avcodec_free_context(&v->dec);
    if (v->avio) { /* a custom AVIOContext is ours to free, after the demuxer lets go */
        avformat_close_input(&v->fmt);
        av_freep(&v->avio->buffer);
        avio_context_free(&v->avio);
    } else {
        avformat_close_input(&v->fmt);
    }
    sws_freeContext(v->sws);
    av_packet_free(&v->pkt);
    av_frame_free(&v->frame);
    free(v);
}

static fn_status open_decoder(fn_video *v, const char *name, const fn_video_options *opt) {
    char msg[256];
    int r = avformat_find_stream_info(v->fmt, NULL);
    if (r < 0) {
        av_msg(r, msg, sizeof msg);
        return fn_fail(v->stop ? FN_ERR_IO : FN_ERR_FORMAT, "%s: cannot read the streams: %s", name, msg);
    }
    const AVCodec *codec = NULL;
    r = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r == AVERROR_STREAM_NOT_FOUND)
        return fn_fail(FN_ERR_FORMAT, "%s: no video stream (%s holds %u stream%s, none of them video)",
                       name, v->fmt->iformat->name, v->fmt->nb_streams, v->fmt->nb_streams == 1 ? "" : "s");
    if (r == AVERROR_DECODER_NOT_FOUND || !codec) {
        int i = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *cn = i >= 0 ? avcodec_get_name(v->fmt->streams[i]->codecpar->codec_id) : "?";
        return fn_fail(FN_ERR_UNSUPPORTED, "%s: no decoder for its video codec (%s)", name, cn);
    }
    if (r < 0) { av_msg(r, msg, sizeof msg); return fn_fail(FN_ERR_FORMAT, "%s: %s", name, msg); }
    v->stream = r;
    AVStream *st = v->fmt->streams[r];
    v->max_pixels = opt && opt->max_pixels > 0 ? opt->max_pixels : (int64_t)FN_IMAGE_MAX_PIXELS;
    if (st->codecpar->width > FN_IMAGE_MAX_DIM || st->codecpar->height > FN_IMAGE_MAX_DIM ||
        (int64_t)st->codecpar->width * st->codecpar->height > v->max_pixels)
        return fn_fail(FN_ERR_LIMIT, "%s: %dx%d video is above the limit (%d a side, %lld pixels)", name,
                       st->codecpar->width, st->codecpar->height, FN_IMAGE_MAX_DIM, (long long)v->max_pixels);
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return fn_fail(FN_ERR_NOMEM, "out of memory");
    r = avcodec_parameters_to_context(v->dec, st->codecpar);
    if (r < 0) { av_msg(r, msg, sizeof msg); return fn_fail(FN_ERR_FORMAT, "%s: %s", name, msg); }
    v->dec->thread_count = opt && opt->threads > 0 ? opt->threads : 0;
    v->dec->max_pixels = v->max_pixels; /* the decoder refuses larger frames before allocating */
    v->dec->pkt_timebase = st->time_base;
    if (v->avio) {
        v->dec->codec_whitelist = av_strdup(FN_VIDEO_MEMORY_CODECS);
        if (!v->dec->codec_whitelist) return fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    r = avcodec_open2(v->dec, codec, NULL);
    if (r < 0) {
        av_msg(r, msg, sizeof msg);
        return fn_fail(FN_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", name, codec->name, msg);
    }
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame) return fn_fail(FN_ERR_NOMEM, "out of memory");

    fn_video_info *in = &v->info;
    in->width = v->dec->width;
    in->height = v->dec->height;
    AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    in->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    in->n_frames = st->nb_frames > 0 ? st->nb_frames : 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) in->duration = st->duration * av_q2d(st->time_base);
    else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0) in->duration = v->fmt->duration / (double)AV_TIME_BASE;
    in->start_time = st->start_time != AV_NOPTS_VALUE ? st->start_time * av_q2d(st->time_base) : 0;
    in->live = !v->avio && (!v->fmt->pb || !(v->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL) ||
                            (v->fmt->iformat->flags & AVFMT_NOFILE) || in->duration <= 0);
    snprintf(in->codec, sizeof in->codec, "%s", codec->name);
    snprintf(in->container, sizeof in->container, "%s", v->fmt->iformat->name);
    return FN_OK;
}

static fn_video *video_new(void) {
    fn_video *v = calloc(1, sizeof *v);
    if (!v) { fn_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
    v->fmt = avformat_alloc_context();
    if (!v->fmt) { free(v); fn_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
    v->fmt->interrupt_callback.callback = interrupt_cb;
    v->fmt->interrupt_callback.opaque = v;
    /* the library never prints (errors come back as fn_status): silences FFmpeg process-wide */
    av_log_set_level(AV_LOG_QUIET);
    return v;
}

fn_status fn_video_open(const char *input, const fn_video_options *opt, fn_video **out) {
    *out = NULL;
    if (!input || !*input) return fn_fail(FN_ERR_ARG, "no video input given");
    fn_video *v = video_new();
    if (!v) return FN_ERR_NOMEM;
    const AVInputFormat *ifmt = NULL;
    const char *fname = opt && opt->format ? opt->format : NULL;
    if (!fname && !strncmp(input, "/dev/video", 10)) fname = "video4linux2";
#ifdef FN_HAVE_AVDEVICE
    avdevice_register_all();
#endif
    if (fname) {
        ifmt = av_find_input_format(fname);
        if (!ifmt) {
            fn_video_close(v);
#ifdef FN_HAVE_AVDEVICE
            return fn_fail(FN_ERR_UNSUPPORTED, "%s: FFmpeg has no input format '%s'", input, fname);
#else
            return fn_fail(FN_ERR_UNSUPPORTED, "%s: FFmpeg has no input format '%s'%s", input, fname,
                           !strncmp(fname, "video4linux2", 12) || !strcmp(fname, "v4l2")
                           ? " (cameras need libavdevice: apt-get install libavdevice-dev, then rebuild)" : "");
#endif
        }
    }
    AVDictionary *o = NULL;
    /* network inputs: give up on a silent server instead of hanging forever (10 s) */
    av_dict_set(&o, "rw_timeout", "10000000", 0);
    if (!strncmp(input, "rtsp://", 7)) av_dict_set(&o, "rtsp_transport", "tcp", 0);
    int r = avformat_open_input(&v->fmt, input, ifmt, &o);
    av_dict_free(&o);
    if (r < 0) {
        char msg[256];
        av_msg(r, msg, sizeof msg);
        v->fmt = NULL; /* freed by avformat_open_input on failure */
        fn_video_close(v);
        fn_status s = r == AVERROR(ENOENT) || r == AVERROR(EACCES) || r == AVERROR(EIO) ||
                      r == AVERROR(ECONNREFUSED) || r == AVERROR_EXIT || r == AVERROR(ETIMEDOUT) ||
                      r == AVERROR_HTTP_NOT_FOUND ? FN_ERR_IO : FN_ERR_FORMAT;
        return fn_fail(s, "%s: cannot open: %s", input, msg);
    }
    fn_status s = open_decoder(v, input, opt);
    if (s != FN_OK) { fn_video_close(v); return s; }
    *out = v;
    return FN_OK;
}

fn_status fn_video_open_memory(const uint8_t *data, size_t size, const fn_video_options *opt,
                               fn_video **out) {
    *out = NULL;
    if (!data || size == 0) return fn_fail(FN_ERR_FORMAT, "empty video");
    fn_video *v = video_new();
    if (!v) return FN_ERR_NOMEM;
    v->mem = data; v->mem_size = size;
    enum { BUF = 64 * 1024 };
    uint8_t *buf = av_malloc(BUF);
    if (buf) v->avio = avio_alloc_context(buf, BUF, 0, v, mem_read, NULL, mem_seek);
    if (!v->avio) { av_free(buf); fn_video_close(v); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    v->fmt->pb = v->avio;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    v->fmt->format_whitelist = av_strdup(FN_VIDEO_MEMORY_FORMATS);
    v->fmt->codec_whitelist = av_strdup(FN_VIDEO_MEMORY_CODECS);
    if (!v->fmt->format_whitelist || !v->fmt->codec_whitelist) { fn_video_close(v); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    int r = avformat_open_input(&v->fmt, NULL, NULL, NULL);
    if (r < 0) {
        char msg[256];
        av_msg(r, msg, sizeof msg);
        v->fmt = NULL;
        fn_video_close(v);
        return fn_fail(FN_ERR_FORMAT, "not a video in a supported container: %s", msg);
    }
    fn_status s = open_decoder(v, "video", opt);
    if (s != FN_OK) { fn_video_close(v); return s; }
    *out = v;
    return FN_OK;
}

void fn_video_get_info(const fn_video *v, fn_video_info *out) { *out = v->info; }
const char *fn_video_end_error(const fn_video *v) { return v->end_error[0] ? v->end_error : NULL; }
int64_t fn_video_corrupt_packets(const fn_video *v) { return v->corrupt; }
void fn_video_interrupt(fn_video *v) { if (v) v->stop = 1; }

/* The decoded frame -> RGB in img (reallocated when the size changes). */
static fn_status frame_to_rgb(fn_video *v, fn_image *img) {
    AVFrame *f = v->frame;
    if (f->width <= 0 || f->height <= 0 || f->width > FN_IMAGE_MAX_DIM || f->height > FN_IMAGE_MAX_DIM ||
        (int64_t)f->width * f->height > v->max_pixels)
        return fn_fail(FN_ERR_LIMIT, "video frame of %dx%d pixels", f->width, f->height);
    if (img->w != f->width || img->h != f->height || !img->rgb) {
        fn_image_free(img);
        FN_TRY(fn_image_alloc(f->width, f->height, img));
    }
    /* bicubic, as the ffmpeg command line converts to rgb24 (same pixels as
     * `ffmpeg -pix_fmt rgb24`) */
    v->sws = sws_getCachedContext(v->sws, f->width, f->height, f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
    if (!v->sws) return fn_fail(FN_ERR_UNSUPPORTED, "cannot convert %s frames to RGB",
                                av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "these");
    int *inv, *tab, in_full, out_full, bri, con, sat;
    if (sws_getColorspaceDetails(v->sws, &inv, &in_full, &tab, &out_full, &bri, &con, &sat) >= 0) {
        const int *coef = sws_getCoefficients(f->colorspace);
        sws_setColorspaceDetails(v->sws, coef, f->color_range == AVCOL_RANGE_JPEG, tab, 1, bri, con, sat);
    }
    uint8_t *dst[4] = { img->rgb, NULL, NULL, NULL };
    int stride[4] = { img->w * 3, 0, 0, 0 };
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    return FN_OK;
}

static void end_with(fn_video *v, const char *what, int err) {
    char msg[200];
    av_msg(err, msg, sizeof msg);
    snprintf(v->end_error, sizeof v->end_error, "%s after %lld frames: %s", what,
             (long long)v->next_index, msg);
}

fn_status fn_video_read(fn_video *v, fn_image *img, fn_video_frame *frame, int *got) {
    *got = 0;
    if (!v) return fn_fail(FN_ERR_ARG, "no video");
    while (!v->done) {
        if (v->stop && !v->draining) { /* interrupted: end cleanly, without draining */
            v->done = 1;
            break;
        }
        int r = avcodec_receive_frame(v->dec, v->frame);
        if (r == 0) {
            v->bad_run = 0;
            fn_status s = frame_to_rgb(v, img);
            int64_t ts = v->frame->best_effort_timestamp;
            AVRational tb = v->fmt->streams[v->stream]->time_base;
            av_frame_unref(v->frame);
            if (s != FN_OK) return s;
            frame->index = v->next_index++;
            frame->time = ts != AV_NOPTS_VALUE ? ts * av_q2d(tb)
                        : v->info.fps > 0 ? v->info.start_time + frame->index / v->info.fps : (double)frame->index;
            *got = 1;
            return FN_OK;
        }
        if (r == AVERROR_EOF) {
            v->done = 1;
            /* a file cut short often just ends: the container's frame count says so */
            if (!v->end_error[0] && !v->stop && v->info.n_frames > 0 && v->next_index < v->info.n_frames)
                snprintf(v->end_error, sizeof v->end_error, "the input ended after %lld of the %lld frames "
                         "its container declares (truncated?)", (long long)v->next_index, (long long)v->info.n_frames);
            break;
        }
        if (r != AVERROR(EAGAIN)) { /* a frame the decoder could not finish: skip it */
            v->corrupt++;
            if (++v->bad_run > FN_VIDEO_MAX_BAD_RUN) { end_with(v, "undecodable video", r); v->done = 1; break; }
            continue;
        }
        if (v->draining) { v->done = 1; break; }
        r = av_read_frame(v->fmt, v->pkt);
        if (r < 0) {
            /* the end, a truncated file or a dropped stream: flush what the decoder holds */
            if (r != AVERROR_EOF && !v->stop) end_with(v, r == AVERROR_EXIT ? "interrupted" : "input ended", r);
            if (v->stop && r == AVERROR_EXIT) { v->done = 1; break; }
            v->draining = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (v->pkt->stream_index != v->stream) { av_packet_unref(v->pkt); continue; }
        r = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            v->corrupt++;
            if (++v->bad_run > FN_VIDEO_MAX_BAD_RUN) { end_with(v, "undecodable video", r); v->done = 1; break; }
        }
    }
    if (v->next_index == 0 && v->end_error[0])
        return fn_fail(FN_ERR_FORMAT, "no frame could be decoded: %s", v->end_error);
    return FN_OK;
}

/* ------------------------------------------------------------------ writer */

struct fn_video_writer {
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    char *path, *tmp;
    int w, h;                 /* encoded size (even) */
    double t0;
    int64_t last_pts;
    int64_t n;
};

static void writer_free(fn_video_writer *w, int remove_tmp) {
    if (!w) return;
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    if (remove_tmp && w->tmp) unlink(w->tmp);
    avcodec_free_context(&w->enc);
    sws_freeContext(w->sws);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    free(w->path); free(w->tmp);
    free(w);
}

void fn_video_writer_abort(fn_video_writer *w) { writer_free(w, 1); }

fn_status fn_video_writer_open(const char *path, int width, int height, double fps,
                               fn_video_writer **out) {
    *out = NULL;
    if (width < 2 || height < 2 || width > FN_IMAGE_MAX_DIM || height > FN_IMAGE_MAX_DIM)
        return fn_fail(FN_ERR_ARG, "%s: cannot write %dx%d video", path, width, height);
    av_log_set_level(AV_LOG_QUIET);
    const AVOutputFormat *of = av_guess_format(NULL, path, NULL);
    if (!of) return fn_fail(FN_ERR_ARG, "%s: unknown video container (name it .mp4, .mkv, .mov)", path);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) return fn_fail(FN_ERR_UNSUPPORTED, "this FFmpeg has no H.264 encoder (Debian's libavcodec has libx264)");
    fn_video_writer *w = calloc(1, sizeof *w);
    if (!w) return fn_fail(FN_ERR_NOMEM, "out of memory");
    size_t n = strlen(path) + 32;
    w->path = strdup(path);
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) { writer_free(w, 0); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->w = width & ~1; w->h = height & ~1;
    w->t0 = NAN;
    w->last_pts = INT64_MIN;
    char msg[256];
    int r = avformat_alloc_output_context2(&w->oc, of, NULL, w->tmp);
    if (r < 0) { av_msg(r, msg, sizeof msg); writer_free(w, 0); return fn_fail(FN_ERR_ARG, "%s: %s", path, msg); }
    w->enc = avcodec_alloc_context3(codec);
    w->st = avformat_new_stream(w->oc, NULL);
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->enc || !w->st || !w->frame || !w->pkt) { writer_free(w, 0); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    if (!(fps > 0 && fps < 1000)) fps = 25;
    AVRational rate = av_d2q(fps, 100000);
    w->enc->width = w->w;
    w->enc->height = w->h;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    w->enc->time_base = (AVRational){ 1, 90000 }; /* frames carry their own times (VFR safe) */
    w->enc->framerate = rate;
    w->enc->gop_size = (int)(fps * 2 + 0.5);
    w->enc->colorspace = AVCOL_SPC_SMPTE170M; /* what swscale's default RGB -> YUV matrix is */
    w->enc->color_range = AVCOL_RANGE_MPEG;
    w->enc->thread_count = 0;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *o = NULL;
    if (!strcmp(codec->name, "libx264")) { av_dict_set(&o, "preset", "veryfast", 0); av_dict_set(&o, "crf", "23", 0); }
    r = avcodec_open2(w->enc, codec, &o);
    av_dict_free(&o);
    if (r < 0) { av_msg(r, msg, sizeof msg); writer_free(w, 0); return fn_fail(FN_ERR_UNSUPPORTED, "cannot open the %s encoder: %s", codec->name, msg); }
    r = avcodec_parameters_from_context(w->st->codecpar, w->enc);
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    w->frame->format = AV_PIX_FMT_YUV420P;
    w->frame->width = w->w;
    w->frame->height = w->h;
    if (r >= 0) r = av_frame_get_buffer(w->frame, 0);
    if (r < 0) { av_msg(r, msg, sizeof msg); writer_free(w, 0); return fn_fail(FN_ERR_NOMEM, "%s", msg); }
    r = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE);
    if (r < 0) { av_msg(r, msg, sizeof msg); writer_free(w, 0); return fn_fail(FN_ERR_IO, "%s: cannot write: %s", path, msg); }
    r = avformat_write_header(w->oc, NULL);
    if (r < 0) { av_msg(r, msg, sizeof msg); writer_free(w, 1); return fn_fail(FN_ERR_IO, "%s: %s", path, msg); }
    *out = w;
    return FN_OK;
}

/* Encoder output -> muxer. */
static fn_status writer_drain(fn_video_writer *w) {
    char msg[256];
    for (;;) {
        int r = avcodec_receive_packet(w->enc, w->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return FN_OK;
        if (r < 0) { av_msg(r, msg, sizeof msg); return fn_fail(FN_ERR_IO, "%s: encoding failed: %s", w->path, msg); }
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        r = av_interleaved_write_frame(w->oc, w->pkt);
        if (r < 0) { av_msg(r, msg, sizeof msg); return fn_fail(FN_ERR_IO, "%s: %s", w->path, msg); }
    }
}

fn_status fn_video_writer_write(fn_video_writer *w, const fn_image *img, double time) {
    if (!img || img->w < w->w || img->h < w->h)
        return fn_fail(FN_ERR_SHAPE, "%s: frame of %dx%d for a %dx%d video", w->path,
                       img ? img->w : 0, img ? img->h : 0, w->w, w->h);
    if (isnan(w->t0)) w->t0 = time;
    int64_t pts = llrint((time - w->t0) * 90000.0);
    if (pts <= w->last_pts) pts = w->last_pts + 1; /* repeated timestamps: keep them ordered */
    w->last_pts = pts;
    int r = av_frame_make_writable(w->frame);
    if (r < 0) return fn_fail(FN_ERR_NOMEM, "out of memory");
    w->sws = sws_getCachedContext(w->sws, w->w, w->h, AV_PIX_FMT_RGB24, w->w, w->h,
                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!w->sws) return fn_fail(FN_ERR_NOMEM, "out of memory");
    const uint8_t *src[4] = { img->rgb, NULL, NULL, NULL };
    int stride[4] = { img->w * 3, 0, 0, 0 };
    sws_scale(w->sws, src, stride, 0, w->h, w->frame->data, w->frame->linesize);
    w->frame->pts = pts;
    r = avcodec_send_frame(w->enc, w->frame);
    if (r < 0) { char msg[256]; av_msg(r, msg, sizeof msg); return fn_fail(FN_ERR_IO, "%s: encoding failed: %s", w->path, msg); }
    w->n++;
    return writer_drain(w);
}

fn_status fn_video_writer_close(fn_video_writer *w) {
    if (!w) return FN_OK;
    fn_status s = FN_OK;
    if (avcodec_send_frame(w->enc, NULL) >= 0) s = writer_drain(w);
    if (s == FN_OK) {
        int r = av_write_trailer(w->oc);
        if (r < 0) { char msg[256]; av_msg(r, msg, sizeof msg); s = fn_fail(FN_ERR_IO, "%s: %s", w->path, msg); }
    }
    if (s == FN_OK) {
        avio_flush(w->oc->pb);
        int fd = open(w->tmp, O_RDONLY);
        if (fd >= 0) { fsync(fd); close(fd); }
        if (avio_closep(&w->oc->pb) < 0) s = fn_fail(FN_ERR_IO, "%s: write failed", w->path);
    }
    if (s == FN_OK && rename(w->tmp, w->path) != 0)
        s = fn_fail(FN_ERR_IO, "%s: rename failed: %s", w->path, strerror(errno));
    writer_free(w, s != FN_OK);
    return s;
}

#endif /* FN_HAVE_FFMPEG */
