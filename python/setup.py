"""Installs facenet_c. Nothing is compiled here: the build copies the C library built by
scripts/build.sh (../build/libfacenet.so, or $FACENET_LIB) into the package and records
where the checkout's models are (../models, or $FACENET_MODELS), so the installed package
works from any folder.
    pip install --no-build-isolation --break-system-packages ./python"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "facenet_c")
        lib = os.environ.get("FACENET_LIB") or os.path.join(HERE, "..", "build", "libfacenet.so")
        if os.path.exists(lib):
            shutil.copy2(os.path.realpath(lib), os.path.join(dst, "libfacenet.so"))
        else:
            print("facenet_c: %s not found (run scripts/build.sh release): the installed package will "
                  "look for libfacenet.so through $FACENET_LIB and the loader's paths" % lib)
        models = os.environ.get("FACENET_MODELS") or os.path.join(HERE, "..", "models")
        with open(os.path.join(dst, "_install_paths.py"), "w") as f:
            f.write("# written by setup.py at install time\nMODELS_DIR = %r\n" % os.path.abspath(models))


setup(cmdclass={"build_py": BuildPyWithLibrary})
