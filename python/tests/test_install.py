"""`pip install ./python` gives a package that works from any folder: the library copied
in, the models found, no build tree on sys.path."""
import os
import shutil
import subprocess
import sys

from conftest import BUILD, FR_TESTS, SRC


def test_pip_install_and_use(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(SRC, "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    env = dict(os.environ, FACENET_LIB=os.path.join(BUILD, "libfacenet.so"), FACENET_MODELS=os.path.join(SRC, "models"),
               PIP_NO_INDEX="1")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                        "--target", str(tmp_path / "site"), str(src)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "facenet_c" / "libfacenet.so").exists()
    run_env = {k: v for k, v in os.environ.items() if k not in ("FACENET_LIB", "FACENET_MODELS", "PYTHONPATH")}
    run_env["PYTHONPATH"] = str(tmp_path / "site")
    code = ("import facenet_c, facenet_c.compat.face_recognition as fr, sys\n"
            "assert facenet_c.LIB_PATH.startswith(sys.argv[1]), facenet_c.LIB_PATH\n"
            "print(len(fr.face_encodings(fr.load_image_file(sys.argv[2]))))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site"), os.path.join(FR_TESTS, "obama2.jpg")],
                       cwd=tmp_path, env=run_env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stdout + r.stderr
