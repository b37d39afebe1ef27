"""facenet_c.Gallery over fn_gallery_* (SQLite): enrol, identify with similarity, remove,
rename, export/import; shared with `facenet gallery` (the CLI reads what Python wrote and
the other way round); bad input and a closed gallery raise instead of crashing."""
import json
import os

import numpy as np
import pytest

import facenet_c
from conftest import FR_TESTS, run_cli


@pytest.fixture(scope="module")
def emb(detector, embedder):
    out = {}
    for n in ("obama", "obama2", "obama3", "biden"):
        img = facenet_c.load_image(os.path.join(FR_TESTS, n + ".jpg"))
        faces = detector.detect(img)
        k = facenet_c.pick_largest(faces, img.shape)
        out[n] = (embedder.embed_faces(img, [faces[k]])[0], faces[k])
    return out


def test_enroll_identify_remove(tmp_path, embedder, emb):
    db = str(tmp_path / "g.db")
    with facenet_c.Gallery(db, embedder) as g:
        fid, dup = g.enroll("Barack Obama", emb["obama"][0], source="obama.jpg", face=emb["obama"][1],
                            source_sha256=facenet_c.sha256_hex(b"obama.jpg bytes"))
        assert fid > 0 and not dup
        assert g.enroll("Barack Obama", emb["obama"][0], source_sha256=facenet_c.sha256_hex(b"obama.jpg bytes")) == (fid, True)
        ids = g.enroll_many(["Joe Biden", "Barack Obama"], np.stack([emb["biden"][0], emb["obama3"][0]]))
        assert len(ids) == 2 and len(g) == 3 and g.subjects() == {"Barack Obama": 2, "Joe Biden": 1}
        info = g.info()
        assert (info["dim"], info["backend"], info["model_id"]) == (128, "sqlite", embedder.id)
        assert info["threshold"] == pytest.approx(facenet_c.similarity_calibration(embedder)[0])
        (best, second), = g.identify(emb["obama2"][0], k=2)
        assert best.subject == "Barack Obama" and second.subject == "Joe Biden"
        assert best.distance == pytest.approx(min(facenet_c.distance(emb["obama2"][0], emb[n][0]) for n in ("obama", "obama3")), abs=1e-5)
        assert best.similarity > 0.9 and second.similarity < 0.1
        faces = g.search(np.stack([emb["obama2"][0], emb["biden"][0]]), k=5)
        assert [len(f) for f in faces] == [3, 3] and faces[1][0].distance < 1e-3
        listed = g.faces("Barack Obama")
        assert [f.id for f in listed] == sorted([fid, ids[1]]) and listed[0].source == "obama.jpg"
        assert np.allclose(listed[0].box, emb["obama"][1].box)
        assert np.array_equal(g.embedding(fid), emb["obama"][0])
        g.rename_subject("Joe Biden", "Biden")
        assert g.remove_subject("Biden") == 1
        with pytest.raises(facenet_c.NotFoundError):
            g.remove_subject("Biden")
        g.remove_face(ids[1])
        assert g.subjects() == {"Barack Obama": 1}
        assert g.add_subject("Nobody Yet") and not g.add_subject("Nobody Yet")
        g.export_npy(tmp_path / "npy")
    with facenet_c.Gallery(str(tmp_path / "h.db"), embedder) as h:
        assert h.import_npy(tmp_path / "npy") == 1 and h.subjects() == {"Barack Obama": 1}


def test_shared_with_the_cli(tmp_path, models, embedder, emb):
    db = str(tmp_path / "cli.db")
    run_cli("gallery", "enroll", db, "--subject", "Joe Biden", "--model", models[1], "--mtcnn", models[0],
            os.path.join(FR_TESTS, "biden.jpg"))
    with facenet_c.Gallery(db, embedder) as g:
        assert g.subjects() == {"Joe Biden": 1}
        stored = g.embedding(g.faces()[0].id)
        assert np.abs(stored - emb["biden"][0]).max() <= 1e-6  # the CLI's embedding is Python's
        g.enroll("Barack Obama", emb["obama"][0], source="obama.jpg")
    out = json.loads(run_cli("gallery", "identify", db, "--json", "--model", models[1], "--mtcnn", models[0],
                             os.path.join(FR_TESTS, "obama2.jpg")))
    cli = out["images"][0]["faces"][0]
    assert cli["name"] == "Barack Obama" and cli["known"]
    with facenet_c.Gallery(db, embedder) as g:
        m = g.identify(emb["obama2"][0])[0][0]
    assert m.subject == cli["subjects"][0]["subject"] and m.face_id == cli["subjects"][0]["face_id"]
    assert abs(m.distance - cli["subjects"][0]["distance"]) <= 1e-5  # printed with 5 decimals
    assert abs(m.similarity - cli["subjects"][0]["similarity"]) <= 1e-5


def test_bad_input_and_closed(tmp_path, embedder, emb, models):
    db = str(tmp_path / "b.db")
    g = facenet_c.Gallery(db, embedder)
    with pytest.raises(ValueError, match="n x 128"):
        g.identify(np.zeros(64, np.float32))
    with pytest.raises(ValueError, match="finite"):
        g.enroll("x", np.full(128, np.nan, np.float32))
    with pytest.raises(ValueError, match="numbers"):
        g.identify(np.array(["a"] * 128))
    with pytest.raises(ValueError):
        g.enroll("", emb["obama"][0])
    with pytest.raises(ValueError):
        g.enroll("x" * 300, emb["obama"][0])
    with pytest.raises(ValueError):
        g.identify(emb["obama"][0], k=0)
    with pytest.raises(ValueError):
        g.enroll_many(["a"], np.zeros((2, 128), np.float32))
    assert g.identify(emb["obama"][0]) == [[]]  # empty gallery: no match, no error
    g.close()
    for call in (lambda: g.identify(emb["obama"][0]), lambda: g.enroll("x", emb["obama"][0]), g.subjects,
                 g.info, lambda: g.remove_subject("x"), lambda: len(g)):
        with pytest.raises(ValueError, match="closed"):
            call()
    g.close()
    # another model: refused with both ids in the message
    with pytest.raises(facenet_c.MismatchError):
        facenet_c.Gallery(db, model_id="0123456789abcdef", dim=128)
    with pytest.raises(facenet_c.Error):
        facenet_c.Gallery(str(tmp_path / "missing.db"), embedder, create=False)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(facenet_c.Error):
        facenet_c.Gallery(str(tmp_path / "junk.db"), embedder)
    with pytest.raises(ValueError):
        facenet_c.Gallery(db, embedder="not an embedder")
