"""The compiler wrapper every extension build goes through (standard library only; run by the
builder's own interpreter): it records what the linker itself says it linked, and which
headers each compile read, so that the builder can prove which OpenSSL a binary holds.

usage: python cc_audit.py REAL_COMPILER AUDIT_DIR [compiler arguments...]

- A link gets `-Wl,--print-map` (GNU ld and lld, zig's included, print the link map: every
  archive member taken, as `archive(member)`), kept as AUDIT_DIR/link-*.json with the
  output's path and sha256. When the link
  took an OpenSSL object but not the one that defines OpenSSL_version, it is linked again with
  `-Wl,-u,OpenSSL_version`, so every binary that uses OpenSSL carries its version text and a
  binary that uses none carries no OpenSSL at all.
- A compile gets `-MD -MF` (unless it asks for dependencies itself): the headers it read,
  kept with the directory it ran in as AUDIT_DIR/deps-*.json.
- Anything else (preprocessing, version queries) runs unchanged.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid

# An archive member in a link map, as GNU ld and lld both write it: /path/libcrypto.a(x.o).
_MEMBER = re.compile(r"(?P<archive>[^\s()]+\.(?:a|rlib|lib))\((?P<member>[^\s()/]+)\)")
# A shared library the link read: GNU ld's "LOAD /path/libssl.so", lld's path in its map.
_SHARED = re.compile(r"(?:^|\s)(?P<path>[^\s()]*/lib(?:crypto|ssl)\.so(?:\.[\d.]+)?)(?=[\s:]|$)",
                     re.M)
_VERSION_OBJECT = re.compile(r"cversion\.o(bj)?$")
# Queries, not links: build systems ask the compiler and linker who they are (meson asks
# `cc -Wl,--version`); these run unchanged, their output untouched.
_NOT_A_LINK = {"-c", "-S", "-E", "-M", "-MM", "-dumpversion", "-dumpmachine", "-dumpfullversion",
               "--version", "-v", "-print-search-dirs", "-print-prog-name", "-Wl,--version",
               "-Wl,-v", "-Wl,-V", "--help"}


def members(trace):
    """[(archive, member)] of every archive member a link map names, each once."""
    found = {}
    for match in _MEMBER.finditer(trace):
        found[(match.group("archive"), match.group("member"))] = None
    return list(found)


def shared_openssl(trace):
    """Every shared libcrypto/libssl a link map names."""
    return sorted({m.group("path") for m in _SHARED.finditer(trace)})


def is_openssl_archive(archive):
    return os.path.basename(archive) in ("libcrypto.a", "libssl.a")


def _output(args):
    for index, arg in enumerate(args):
        if arg == "-o" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("-o") and len(arg) > 2:
            return arg[2:]
    return "a.out"


def _link(real, args):
    done = subprocess.run([real, *args, "-Wl,--print-map"], stdout=subprocess.PIPE,
                          universal_newlines=True, errors="replace")
    return done.returncode, done.stdout


def link(real, audit_dir, args):
    returncode, trace = _link(real, args)
    linked = members(trace)
    openssl = [m for a, m in linked if is_openssl_archive(a)]
    relinked = False
    if returncode == 0 and openssl and not any(_VERSION_OBJECT.search(m) for m in openssl):
        args = [*args, "-Wl,-u,OpenSSL_version"]
        returncode, trace = _link(real, args)
        relinked = True
    if returncode != 0:
        sys.stdout.write(trace)  # the linker's own words, for the build log
        return returncode
    output = os.path.abspath(_output(args))
    if not os.path.isfile(output):
        return 0  # nothing was written (a check a build system makes): nothing to record
    with open(output, "rb") as binary:
        digest = hashlib.sha256(binary.read()).hexdigest()
    record = {"output": output, "sha256": digest, "cwd": os.getcwd(), "trace": trace,
              "version_object_added": relinked}
    with open(os.path.join(audit_dir, "link-%s.json" % uuid.uuid4().hex), "w") as out:
        json.dump(record, out)
    return 0


def compile_(real, audit_dir, args):
    if any(a.startswith("-M") for a in args):
        return subprocess.call([real, *args])
    name = os.path.join(audit_dir, "deps-%s" % uuid.uuid4().hex)
    returncode = subprocess.call([real, *args, "-MD", "-MF", name + ".d"])
    if returncode == 0 and os.path.exists(name + ".d"):
        # The header paths are as the compiler found them, relative to where it ran.
        with open(name + ".d") as deps:
            record = {"cwd": os.getcwd(), "deps": deps.read()}
        with open(name + ".json", "w") as out:
            json.dump(record, out)
        os.remove(name + ".d")
    return returncode


def main(argv):
    real, audit_dir, args = argv[0], argv[1], argv[2:]
    if not args or any(a in _NOT_A_LINK or a.startswith(("-print-", "-###")) for a in args):
        if "-c" in args and not {"-E", "-S", "-M", "-MM"} & set(args):
            return compile_(real, audit_dir, args)
        os.execvp(real, [real, *args])
    return link(real, audit_dir, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
