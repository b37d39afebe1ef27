#!/usr/bin/python3
"""two_nodes.py — one change on one node, then the time until another node's in-memory search
shows it, all in one process (no process start-up inside the measurement):
  two_nodes.py add    WRITER READER KEY EMB_JSON PHOTO SUBJECT  -> "HTTP SECONDS"
  two_nodes.py delete WRITER READER KEY EMB_JSON SUBJECT        -> "HTTP SECONDS"
SECONDS runs from the writer's answer to the first reader answer that shows the change
(9 when it never does within 3 s). The reader is asked with embeddings/recognize."""
import json, sys, time, urllib.request, urllib.error, uuid

R = "/api/v1/recognition"

def call(method, url, key, body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"x-api-key": key})
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def knows(reader, key, emb, subject):
    code, body = call("POST", reader + R + "/embeddings/recognize?prediction_count=64", key, emb, "application/json")
    return code == 200 and any(s["subject"] == subject for s in json.loads(body)["result"][0]["similarities"])

def main():
    op, writer, reader, key, emb_path = sys.argv[1:6]
    emb = open(emb_path, "rb").read()
    if op == "add":
        photo, subject = sys.argv[6], sys.argv[7]
        b = uuid.uuid4().hex
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
                "Content-Type: image/jpeg\r\n\r\n").encode() + open(photo, "rb").read() + f"\r\n--{b}--\r\n".encode()
        code, _ = call("POST", f"{writer}{R}/faces?subject={subject}", key, body, f"multipart/form-data; boundary={b}")
        want = True
    else:
        subject = sys.argv[6]
        code, _ = call("DELETE", f"{writer}{R}/subjects/{subject}", key)
        want = False
    t0 = time.time()
    while time.time() - t0 < 3:
        if knows(reader, key, emb, subject) == want:
            print(code, "%.4f" % (time.time() - t0))
            return
        time.sleep(0.002)
    print(code, 9)

main()
