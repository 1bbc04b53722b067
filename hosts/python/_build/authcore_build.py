"""The package's build backend (PEP 517), with no dependencies: a wheel is a
zip of the authcore/ sources, the native library and the metadata, so
`pip install hosts/python` needs no network and no setuptools.

The library is the one `make lib` builds (build/lib/libauthcore_acw.so at
the repository's top), or the file $AUTHCORE_LIB names. It is linked against
the system's BearSSL and cJSON, so the wheel is for this platform only.
"""
import base64
import hashlib
import io
import os
import re
import sysconfig
import zipfile

NAME = "authcore"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hosts/python
LIB = "libauthcore_acw.so"


def _version():
    """The version pyproject.toml's [project] table gives (one source)."""
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError("authcore: no version in pyproject.toml")
    return m.group(1)


def _lib():
    p = os.environ.get("AUTHCORE_LIB") or os.path.join(HERE, "..", "..", "build", "lib", LIB)
    if not os.path.exists(p):
        raise RuntimeError("authcore: %s not found: run `make lib` at the repository's top first "
                           "(or set AUTHCORE_LIB to the library's path)" % p)
    return p


def _tag():
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _metadata(version):
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: authcore in-process for Python: the C core through ctypes, and an ASGI middleware\n"
            "License: MIT\nRequires-Python: >=3.8\n"
            # authcore[redis]: the client a policy whose store is Redis needs
            "Provides-Extra: redis\nRequires-Dist: redis>=5.0.1; extra == \"redis\"\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, version, readme))


def _record_line(name, data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, h, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    di = "%s-%s.dist-info" % (NAME, version)
    os.makedirs(os.path.join(metadata_directory, di), exist_ok=True)
    with open(os.path.join(metadata_directory, di, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(version))
    return di


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    tag = _tag()
    di = "%s-%s.dist-info" % (NAME, version)
    files = []
    src = os.path.join(HERE, "authcore")
    for fn in sorted(os.listdir(src)):
        if fn.endswith(".py"):
            with open(os.path.join(src, fn), "rb") as f:
                files.append(("authcore/" + fn, f.read()))
    with open(_lib(), "rb") as f:
        files.append(("authcore/" + LIB, f.read()))
    files.append((di + "/METADATA", _metadata(version).encode("utf-8")))
    files.append((di + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: authcore_build\n"
                                  "Root-Is-Purelib: false\nTag: %s\n" % tag).encode()))
    files.append((di + "/top_level.txt", b"authcore\n"))
    record = "\n".join(_record_line(n, d) for n, d in files) + "\n%s/RECORD,,\n" % di
    files.append((di + "/RECORD", record.encode()))
    name = "%s-%s-%s.whl" % (NAME, version, tag)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            zi = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, d)
    with open(os.path.join(wheel_directory, name), "wb") as f:
        f.write(buf.getvalue())
    return name
