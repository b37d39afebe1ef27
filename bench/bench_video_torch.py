#!/usr/bin/python3
"""facenet-pytorch's MTCNN (the PyTorch port in tools/mtcnn_torch_reference.py) on the frames
of a video, every Nth frame, frames decoded by the ffmpeg command line (rgb24 over a pipe).
What bench/bench_video.sh compares `facenet video`'s pipeline with, in the same run.

usage: /usr/bin/python3 bench/bench_video_torch.py MTCNN_DIR INPUT EVERY MAX_FRAMES
prints: input WxH frames every wall_s cpu_s detections faces
"""
import json, os, subprocess, sys, time
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mtcnn_torch_reference import detect, load_nets  # noqa: E402


def main():
    mtcnn, path, every, max_frames = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(os.environ.get("MTCNN_REF_THREADS", "2")))
    nets = load_nets(mtcnn)
    probe = json.loads(subprocess.check_output(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                                "stream=width,height", "-of", "json", path]))
    w, h = probe["streams"][0]["width"], probe["streams"][0]["height"]
    detect(np.zeros((h, w, 3), np.uint8), nets)  # warm-up
    ff = subprocess.Popen(["ffmpeg", "-v", "error", "-i", path, "-frames:v", str(max_frames), "-f", "rawvideo",
                           "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    n = dets = faces = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while n < max_frames:
        buf = ff.stdout.read(w * h * 3)
        if len(buf) < w * h * 3:
            break
        if n % every == 0:
            boxes, _ = detect(np.frombuffer(buf, np.uint8).reshape(h, w, 3), nets)
            dets += 1
            faces += len(boxes)
        n += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ff.wait()
    print("%s %dx%d %d %d %.3f %.3f %d %d" % (path, w, h, n, every, wall, cpu, dets, faces), flush=True)


if __name__ == "__main__":
    main()
