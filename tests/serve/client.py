#!/usr/bin/python3
"""client.py — load and crash clients for `facenet serve` (Debian's python3, standard library only).

  client.py load URL KEY PHOTOS_DIR --seconds S --clients N --pid PID
      N clients, each mixing recognize, add and delete on its own subject for S seconds
      (stops by itself). Checks: zero 5xx, the collection holds exactly the acknowledged
      adds minus the acknowledged deletes (no lost, no phantom examples), the server's RSS
      flat over the run. Prints throughput and p50/p99 latency per kind; exit 1 on a miss.
  client.py adds URL KEY PHOTOS_DIR --log FILE --clients N
      streams adds until killed; each acknowledged image_id is appended (and flushed) to FILE.
  client.py check-adds URL KEY --log FILE --clients N
      after a restart: every logged (acknowledged) add is listed; at most N unacknowledged
      (in flight at the kill) extra ones; exit 1 otherwise.
"""
import argparse, http.client, json, os, random, statistics, sys, threading, time, urllib.parse, uuid


def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def request(c, method, path, key, body=None, ctype=None):
    headers = {"x-api-key": key}
    if ctype:
        headers["Content-Type"] = ctype
    t0 = time.perf_counter()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, data, time.perf_counter() - t0, r.getheader("Retry-After")


def multipart(field, data):
    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def photos(d):
    out = []
    for root, _, files in os.walk(d):
        for f in sorted(files):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                out.append(open(os.path.join(root, f), "rb").read())
    if not out:
        sys.exit(f"no photos in {d}")
    return out


def list_ids(url, key, subject=None):
    c, ids, page = conn(url), set(), 0
    while True:
        q = f"/api/v1/recognition/faces?page={page}&size=500" + (f"&subject={urllib.parse.quote(subject)}" if subject else "")
        st, data, _, _ = request(c, "GET", q, key)
        if st != 200:
            sys.exit(f"listing faces: {st} {data[:200]}")
        j = json.loads(data)
        ids.update(f["image_id"] for f in j["faces"])
        page += 1
        if page >= j["total_pages"]:
            return ids, j["total_elements"]


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None


def load(a):
    imgs = photos(a.photos)
    stop = time.monotonic() + a.seconds
    lock = threading.Lock()
    lat = {"recognize": [], "add": [], "delete": []}
    codes, errors = {}, []
    live = {}   # per client: acknowledged ids not deleted

    def client(i):
        rng = random.Random(i)
        c = conn(a.url)
        mine, subject = [], f"load-{i}"
        while time.monotonic() < stop:
            kind = rng.choice(["recognize", "recognize", "add", "add", "delete"])
            if kind == "delete" and not mine:
                kind = "add"
            try:
                if kind == "delete":
                    iid = mine[rng.randrange(len(mine))]
                    st, data, dt, ra = request(c, "DELETE", f"/api/v1/recognition/faces/{iid}", a.key)
                    if st == 200:
                        mine.remove(iid)
                else:
                    body, ctype = multipart("file", imgs[rng.randrange(len(imgs))])
                    path = (f"/api/v1/recognition/faces?subject={subject}" if kind == "add"
                            else "/api/v1/recognition/recognize?limit=0&prediction_count=1")
                    st, data, dt, ra = request(c, "POST", path, a.key, body, ctype)
                    if kind == "add" and st == 201:
                        iid = json.loads(data)["image_id"]
                        if iid not in mine:  # the same photo again: the gallery keeps one
                            mine.append(iid)
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(f"{kind}: {e!r}")
                c = conn(a.url)
                continue
            with lock:
                codes[st] = codes.get(st, 0) + 1
                if st < 300:
                    lat[kind].append(dt)
                elif st >= 500:
                    errors.append(f"{kind}: {st} {data[:200]!r}")
            if st == 429:
                time.sleep(float(ra or 1) * rng.random())
        live[i] = set(mine)

    rss = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        r = rss_kb(a.pid) if a.pid else None
        if r:
            rss.append((time.monotonic() - t0, r))
        time.sleep(0.5)
    wall = time.monotonic() - t0
    ok = True
    done = sum(len(v) for v in lat.values())
    print(f"load: {a.clients} clients, {wall:.1f} s, {done} requests answered 2xx ({done / wall:.1f}/s), codes {dict(sorted(codes.items()))}")
    for kind, v in lat.items():
        if v:
            v.sort()
            print(f"  {kind:9s} n={len(v):5d}  p50 {1e3 * v[len(v) // 2]:7.1f} ms  p99 {1e3 * v[min(len(v) - 1, int(len(v) * 0.99))]:7.1f} ms")
    if errors:
        ok = False
        print(f"FAIL {len(errors)} errors (5xx or connection), first: {errors[:3]}")
    want = set().union(*live.values()) if live else set()
    got, total = list_ids(a.url, a.key)
    lost, phantom = want - got, got - want
    print(f"  collection: {total} examples listed, {len(want)} expected (acknowledged adds minus deletes); lost {len(lost)}, phantom {len(phantom)}")
    if lost or phantom or total != len(want):
        ok = False
        print("FAIL the collection does not equal the acknowledged adds minus deletes")
    if len(rss) >= 8:
        q = len(rss) // 4
        early = statistics.mean(r for _, r in rss[q:2 * q])   # after warm-up
        late = statistics.mean(r for _, r in rss[3 * q:])
        growth = (late - early) / 1024
        print(f"  RSS: {rss[0][1] / 1024:.0f} MiB at start, {early / 1024:.0f} MiB after warm-up, {late / 1024:.0f} MiB at the end ({growth:+.1f} MiB)")
        if growth > a.rss_slack_mib:
            ok = False
            print(f"FAIL RSS grew by {growth:.1f} MiB (> {a.rss_slack_mib} MiB) after warm-up")
    for k in ("add", "recognize"):
        if not lat[k]:
            ok = False
            print(f"FAIL no successful {k}")
    return 0 if ok else 1


def adds(a):
    imgs = photos(a.photos)
    log = open(a.log, "a")
    lock = threading.Lock()

    def client(i):
        c, n = conn(a.url), 0
        while True:
            body, ctype = multipart("file", imgs[(i * 7 + n) % len(imgs)])
            n += 1
            try:
                st, data, _, _ = request(c, "POST", f"/api/v1/recognition/faces?subject=crash-{i}-{n}", a.key, body, ctype)
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            if st == 201:
                with lock:
                    log.write(json.loads(data)["image_id"] + "\n")
                    log.flush()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


def check_adds(a):
    acked = set(l.strip() for l in open(a.log) if l.strip())
    got, total = list_ids(a.url, a.key)
    lost = acked - got
    extra = got - acked
    print(f"check-adds: {len(acked)} acknowledged, {total} listed after the restart; lost {len(lost)}, "
          f"unacknowledged extras {len(extra)} (at most {a.clients} were in flight)")
    return 0 if not lost and len(extra) <= a.clients and len(acked) > 0 else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["load", "adds", "check-adds"])
    p.add_argument("url")
    p.add_argument("key")
    p.add_argument("photos", nargs="?")
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--pid", type=int)
    p.add_argument("--log")
    p.add_argument("--rss-slack-mib", type=float, default=40)
    a = p.parse_args()
    return {"load": load, "adds": adds, "check-adds": check_adds}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
