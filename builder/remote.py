"""Cache entries shared between machines: a remote store beside the local cache.

An entry (a static OpenSSL build, zig, a target interpreter) travels as one gzipped tar
archive, named by its kind and cache key, with two facts beside it: the archive's sha256 and
the entry's identity as JSON (for an OpenSSL build, every field of its cache key). A pulled
entry is used only when both match what this run asks for and it unpacks by the rules of any
untrusted tarball (no absolute paths, no `..`, no links leaving it); otherwise it is refused,
reported, and built here. A remote that cannot be reached costs one warning, then the run
goes on with its local cache alone.

Backends, chosen by the location's form:
- an OCI registry through ORAS (`ghcr.io/org/builder-cache`, `oci://host:5000/repo`): one
  artifact per entry, tagged `<kind>-<key>`, the facts in its manifest's annotations.
  Credentials come from the Docker configuration (`docker login`, `$DOCKER_CONFIG`) or from
  $BUILDER_REMOTE_CACHE_USERNAME and $BUILDER_REMOTE_CACHE_PASSWORD; they are never printed. A
  loopback registry is spoken to in plain HTTP, as Docker does; any other in HTTPS.
- a directory (`file:///srv/builder-cache`), read and written: `<kind>-<key>.tar.gz` and
  `<kind>-<key>.json` (the facts).
- a plain HTTP(S) base URL (`https://mirror.internal/builder-cache`), read only: the same
  layout as a directory, so a directory filled with --remote-cache-push can be served as is.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Protocol

from builder import progress
from builder.errors import BuilderError, InputError

KEY_ANNOTATION = "dev.builder.cache.key"
SHA256_ANNOTATION = "dev.builder.cache.archive.sha256"
ARCHIVE_MEDIA_TYPE = "application/vnd.builder.cache.entry.v1.tar+gzip"
_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
USERNAME_ENV, PASSWORD_ENV = "BUILDER_REMOTE_CACHE_USERNAME", "BUILDER_REMOTE_CACHE_PASSWORD"
# OCI's rule for a tag.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_PROBE_TIMEOUT_SECONDS = 5
# (connect, read) seconds for every request to a registry.
_REQUEST_TIMEOUT = (15, 120)


class Unreachable(BuilderError):
    """The remote could not be reached or refused the request (not: it lacks the entry)."""


class Denied(BuilderError):
    """The remote refused to read an entry (HTTP 401 or 403). Registries answer so for an entry
    that does not exist yet as well (ghcr.io does, so as not to tell which private packages
    exist), so reading takes it as a miss; a push that is denied is Unreachable."""


@dataclass(frozen=True)
class Facts:
    """What travels beside an entry's archive: its sha256 (hex) and the entry's identity as
    canonical JSON."""

    sha256: str
    identity: str

    def as_json(self) -> str:
        """The facts as a small JSON document (the directory and HTTP layouts' `.json`)."""
        return json.dumps({"sha256": self.sha256, "identity": self.identity}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Facts":
        """Read `as_json`'s document; raises ValueError for anything else."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("sha256"), str) \
                or not isinstance(data.get("identity"), str):
            raise ValueError("not the facts of a cache entry")
        return cls(data["sha256"], data["identity"])


class Backend(Protocol):
    """Where shared entries live. `name` is `<kind>-<key>`, safe as a file name and a tag."""

    location: str  # as the user gave it, for messages
    writable: bool

    def fetch(self, name: str, into: Path) -> Optional[Facts]:
        """Download the entry's archive to the file `into` and return its facts as the
        remote states them; None when the remote has no such entry. Raises Unreachable, or
        Denied when the remote refuses to say."""

    def has(self, name: str) -> bool:
        """Whether the remote holds the entry. Raises Unreachable, or Denied when the remote
        refuses to say."""

    def publish(self, name: str, archive: Path, facts: Facts) -> None:
        """Store the archive and its facts under `name`. Raises Unreachable."""


def identity_json(identity: Mapping[str, object]) -> str:
    """An entry's identity as canonical JSON (sorted keys, no spaces): what is compared."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def entry_name(kind_folder: str, key: str) -> str:
    """`<kind>-<key>`: the entry's name on a remote. Raises ValueError for a key that is not a
    valid OCI tag once prefixed (such entries are not shared)."""
    name = f"{kind_folder}-{key}"
    if not _TAG.fullmatch(name):
        raise ValueError(f"{name!r} cannot name a shared cache entry")
    return name


def pack(entry: Path, archive: Path) -> str:
    """Write the directory `entry` as a gzipped tar to `archive`, the same bytes for the same
    files wherever and whenever it is made (sorted names, no owners, no times); return its
    sha256."""
    with open(archive, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entry.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(entry).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with open(path, "rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    return file_sha256(archive)


def unpack(archive: Path, dest: Path) -> None:
    """Unpack a pulled archive into the empty directory `dest` by the rules for untrusted
    tarballs and stricter: nothing absolute, nothing climbing out with `..`, no link (a shared
    entry holds none), no device file. Raises InputError naming what broke them."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                # Never packed so (a shared entry holds files and folders only): refused,
                # rather than made relative as the extraction filter would, and on every
                # Python, with or without that filter.
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise InputError(f"{member.name} leaves the entry")
                if not (member.isfile() or member.isdir()):
                    raise InputError(f"{member.name} is a link or a special file")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:
                tar.extractall(dest)
    except InputError as exc:
        raise InputError(f"the archive cannot be unpacked safely ({exc})") from exc
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise InputError(f"the archive cannot be unpacked safely ({exc})") from exc


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RemoteCache:
    """The remote store of one run: pulls entries the local cache lacks and, when `push`,
    publishes those the remote lacks. After the first failure to reach it, it is not asked
    again in this run (one warning)."""

    def __init__(self, backend: Backend, push: bool) -> None:
        self.backend = backend
        self.push = push
        self._down = False
        self._denied_said = False

    @property
    def location(self) -> str:
        """The remote as the user named it, without any user name or password in it."""
        return redacted(self.backend.location)

    def pull(self, kind_folder: str, key: str, identity: str, dest: Path) -> bool:
        """Fill the empty directory `dest` with the remote's entry `key` of that kind when the
        remote holds one whose facts match `identity` and its own bytes; True then. False
        (and `dest` left empty) when it has none, is unreachable (warned once), or its entry
        is refused (reported)."""
        if self._down:
            return False
        name = entry_name(kind_folder, key)
        with tempfile.TemporaryDirectory(prefix="builder-pull-") as scratch:
            archive = Path(scratch) / f"{name}.tar.gz"
            try:
                facts = self.backend.fetch(name, archive)
            except Denied as exc:
                self._say_denied(name, exc)
                return False
            except (Unreachable, OSError) as exc:
                self._give_up(exc)
                return False
            if facts is None:
                return False
            problem = _refusal(facts, identity, archive)
            if problem is None:
                try:
                    unpack(archive, dest)
                except InputError as exc:
                    problem = str(exc)
            if problem is not None:
                _empty(dest)
                progress.warn(f"refused the shared cache entry {name} from {self.location}: "
                              f"{problem}; building it here instead")
                return False
        progress.say(f"    pulled {name} from {self.location}")
        return True

    def publish(self, kind_folder: str, key: str, identity: str, entry: Path) -> None:
        """With `push`, publish the local entry when the remote lacks it; a failure is a
        warning (the run goes on)."""
        if not self.push or self._down:
            return
        name = entry_name(kind_folder, key)
        try:
            try:
                if self.backend.has(name):
                    return
            except Denied as exc:
                self._say_denied(name, exc)  # then try to push: a denied push gives up
            with tempfile.TemporaryDirectory(prefix="builder-push-") as scratch:
                archive = Path(scratch) / f"{name}.tar.gz"
                facts = Facts(pack(entry, archive), identity)
                self.backend.publish(name, archive, facts)
        except (Unreachable, OSError) as exc:
            # Sharing is optional: the build here is done and stays.
            self._give_up(exc)
            return
        progress.say(f"    pushed {name} to {self.location}")

    def _say_denied(self, name: str, exc: Exception) -> None:
        if not self._denied_said:
            self._denied_said = True
            progress.warn(f"the remote cache {self.location} denied reading {name} "
                          f"({redacted(_one_line(exc))}); taken as not holding it (a new "
                          f"repository answers so too); if it should, check the credentials")

    def _give_up(self, exc: Exception) -> None:
        self._down = True
        progress.warn(f"the remote cache {self.location} is not usable "
                      f"({redacted(_one_line(exc))}); going on with the local cache alone")


def _refusal(facts: Facts, identity: str, archive: Path) -> Optional[str]:
    if facts.identity != identity:
        return "its identity differs from this build's (another key under the same name)"
    actual = file_sha256(archive)
    if actual != facts.sha256:
        return f"its archive's sha256 is {actual}, not the {facts.sha256} stated beside it"
    return None


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# --- backends ---------------------------------------------------------------------------


class DirectoryBackend:
    """A directory, read and written: `<name>.tar.gz` and `<name>.json` (the facts)."""

    writable = True

    def __init__(self, location: str, root: Path) -> None:
        self.location = location
        self.root = root

    def fetch(self, name: str, into: Path) -> Optional[Facts]:
        """See Backend."""
        facts, archive = self.root / f"{name}.json", self.root / f"{name}.tar.gz"
        try:
            if not facts.is_file() or not archive.is_file():
                return None
            shutil.copyfile(archive, into)
            return _read_facts(facts.read_bytes().decode("utf-8", "replace"), name)
        except OSError as exc:
            raise Unreachable(str(exc)) from exc

    def has(self, name: str) -> bool:
        """See Backend."""
        try:
            return (self.root / f"{name}.json").is_file()
        except OSError as exc:
            raise Unreachable(str(exc)) from exc

    def publish(self, name: str, archive: Path, facts: Facts) -> None:
        """See Backend: the archive first, the facts last (a reader sees both or neither)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for path, write in ((self.root / f"{name}.tar.gz",
                                 lambda temp: shutil.copyfile(archive, temp)),
                                (self.root / f"{name}.json",
                                 lambda temp: Path(temp).write_text(facts.as_json()))):
                fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=self.root)
                os.close(fd)
                write(temp)
                os.replace(temp, path)
        except OSError as exc:
            raise Unreachable(str(exc)) from exc


class HttpBackend:
    """A plain HTTP(S) base URL serving a directory backend's files; read only."""

    writable = False

    def __init__(self, location: str) -> None:
        self.location = location
        self.base = location.rstrip("/")

    def fetch(self, name: str, into: Path) -> Optional[Facts]:
        """See Backend: the facts first; the archive is checked against them as it arrives."""
        from builder.fetch import Expected, NotFound, download_first, fetch_text
        advice = "check --remote-cache"
        try:
            facts = _read_facts(fetch_text(f"{self.base}/{name}.json", advice=advice), name)
        except NotFound:
            return None
        except BuilderError as exc:
            raise Unreachable(str(exc).split("\n")[0]) from exc
        try:
            download_first([f"{self.base}/{name}.tar.gz"], into, Expected(sha256=None),
                           label=f"{name}.tar.gz", advice=advice)
        except BuilderError as exc:
            raise Unreachable(str(exc).split("\n")[0]) from exc
        return facts

    def has(self, name: str) -> bool:
        """Never asked: this backend is read only."""
        raise Unreachable("a plain HTTP remote cache is read only")

    def publish(self, name: str, archive: Path, facts: Facts) -> None:
        """Never asked: this backend is read only."""
        raise Unreachable("a plain HTTP remote cache is read only")


class OciBackend:
    """An OCI registry through ORAS: the repository `host[:port]/path`; one artifact per entry,
    tagged with its name, the archive its one layer, the facts its manifest's annotations."""

    writable = True

    def __init__(self, location: str, repository: str) -> None:
        self.location = location
        self.repository = repository
        self.host = repository.split("/", 1)[0]
        self.plain_http = _is_loopback(self.host)
        self._registry = None

    def _client(self):
        if self._registry is None:
            basic = self._probe()
            self._registry = _oras_registry(self.host, self.plain_http, basic)
        return self._registry

    def _probe(self) -> bool:
        """One quick request to the registry's API root before ORAS (which retries a dead
        host for minutes): 200 or 401 mean a registry answers. Returns whether it asks for
        HTTP basic authentication (ECR, a self-hosted registry with an htpasswd file) rather
        than for a bearer token (ghcr.io, GitLab, Harbor...)."""
        from builder.fetch import session
        scheme = "http" if self.plain_http else "https"
        try:
            answer = session().get(f"{scheme}://{self.host}/v2/",
                                   timeout=_PROBE_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure to connect: the remote is not there
            raise Unreachable(f"{type(exc).__name__} from {self.host}") from None
        if answer.status_code not in (200, 401):
            raise Unreachable(f"{self.host}/v2/ answered HTTP {answer.status_code}")
        challenge = answer.headers.get("WWW-Authenticate", "")
        return answer.status_code == 401 and challenge.lower().startswith("basic")

    def _call(self, what: str, action):
        try:
            return action(self._client())
        except (Unreachable, Denied):
            raise
        except Exception as exc:  # ORAS raises requests' and its own errors alike
            raise Unreachable(f"{what}: {_one_line(exc)}") from None

    def _manifest(self, registry, target: str, method: str):
        """The tag's manifest answer (a requests Response), or None when the registry has no
        such tag. Raises Denied for 401 and 403, Unreachable for any other failure."""
        container = registry.get_container(target)  # credentials: loaded with the client
        scheme = "http" if self.plain_http else "https"
        try:
            answer = registry.do_request(f"{scheme}://{container.manifest_url()}", method,
                                         headers={"Accept": _MANIFEST_MEDIA_TYPE})
        except ValueError as exc:
            # ORAS's own, where no token could be had for the challenge (the token server
            # refused the credentials, or anonymous ones): a denial like a 401.
            raise Denied(f"{method} {target}: {_one_line(exc)}") from None
        if answer.status_code == 404:
            return None
        if answer.status_code in (401, 403):
            raise Denied(f"{method} {target} answered HTTP {answer.status_code}")
        if answer.status_code != 200:
            raise Unreachable(f"{method} {target} answered HTTP {answer.status_code}")
        return answer

    def fetch(self, name: str, into: Path) -> Optional[Facts]:
        """See Backend."""
        target = f"{self.repository}:{name}"

        def get(registry):
            answer = self._manifest(registry, target, "GET")
            if answer is None:
                return None
            try:
                manifest = answer.json()
            except ValueError:
                manifest = None
            if not isinstance(manifest, dict):
                raise Unreachable(f"{target}'s manifest is not JSON")
            annotations = manifest.get("annotations") or {}
            layers = [layer for layer in manifest.get("layers", [])
                      if isinstance(layer, dict) and layer.get("mediaType") == ARCHIVE_MEDIA_TYPE]
            if len(layers) != 1 or KEY_ANNOTATION not in annotations \
                    or SHA256_ANNOTATION not in annotations:
                raise Unreachable(f"{target} is not a builder cache entry")
            registry.download_blob(target, layers[0]["digest"], str(into))
            return Facts(annotations[SHA256_ANNOTATION], annotations[KEY_ANNOTATION])

        return self._call(f"pulling {target}", get)

    def has(self, name: str) -> bool:
        """See Backend: a HEAD of the tag's manifest."""
        target = f"{self.repository}:{name}"
        return self._call(f"looking up {target}",
                          lambda registry: self._manifest(registry, target, "HEAD") is not None)

    def publish(self, name: str, archive: Path, facts: Facts) -> None:
        """See Backend."""
        target = f"{self.repository}:{name}"
        self._call(f"pushing {target}", lambda registry: registry.push(
            target, files=[f"{archive}:{ARCHIVE_MEDIA_TYPE}"], disable_path_validation=True,
            manifest_annotations={KEY_ANNOTATION: facts.identity,
                                  SHA256_ANNOTATION: facts.sha256}, quiet=True))


def _oras_registry(host: str, plain_http: bool, basic: bool):
    """ORAS's client for `host`, asking once: its own retries sleep for minutes on a registry
    that fails, where the builder warns and builds here. It answers each challenge in its own
    scheme: a bearer token (ghcr.io, GitLab, Harbor), or HTTP basic authentication (ECR, a
    self-hosted registry with an htpasswd file), which, with `basic` (the registry's /v2/
    asked for it), goes with every request from the first, so that no archive is uploaded
    twice. (Imported on first use: ORAS and its schemas cost every other run nothing.)"""
    import oras.auth
    import oras.provider

    class OnceRegistry(oras.provider.Registry):
        do_request = oras.provider.Registry.do_request.__wrapped__  # type: ignore[attr-defined]

    class EitherScheme(oras.auth.TokenAuth):
        """ORAS's token authentication, which also answers a Basic challenge (ORAS would
        take its realm for a token server), with the credentials or, having none, by asking
        again as it is, so that the registry's 401 comes back as an answer."""

        def authenticate_request(self, original, headers, refresh=False):
            if original.headers.get("Www-Authenticate", "").lower().startswith("basic"):
                answer = dict(headers or {})
                if getattr(self, "_basic_auth", None):
                    answer["Authorization"] = f"Basic {self._basic_auth}"
                return answer, True
            return super().authenticate_request(original, headers, refresh)

    # ORAS logs a registry's error answers itself; they reach the user as one sentence of
    # this module's instead.
    logging.getLogger("oras.logger").setLevel(logging.CRITICAL)
    registry = OnceRegistry(hostname=host, insecure=plain_http)
    auth = EitherScheme()
    auth.session, auth.prefix, auth._tls_verify = (registry.session, registry.prefix,
                                                   registry._tls_verify)
    registry.auth = auth
    # ORAS sets no timeout: a registry that stops answering would hold the run forever.
    request = registry.session.request
    registry.session.request = (  # type: ignore[method-assign]
        lambda *args, **kwargs: request(*args, **{"timeout": _REQUEST_TIMEOUT, **kwargs}))
    # ORAS reads ~/.docker/config.json, and only while it holds no credentials of its own
    # (its auth's `_auth_config`): the variables come first, then $DOCKER_CONFIG's file.
    username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
    docker_config = Path(os.environ.get("DOCKER_CONFIG", "")) / "config.json"
    if username and password:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        registry.auth._auth_config = {"auths": {host: {"auth": token}}}
    elif os.environ.get("DOCKER_CONFIG") and docker_config.is_file():
        import oras.auth.utils
        registry.auth._auth_config = oras.auth.utils.load_configs([str(docker_config)])
    registry.auth.load_configs(registry.get_container(f"{host}/builder-cache:probe"))
    if basic and getattr(registry.auth, "_basic_auth", None):
        registry.session.headers["Authorization"] = f"Basic {registry.auth._basic_auth}"
    return registry


def _read_facts(text: str, name: str) -> Facts:
    try:
        return Facts.from_json(text)
    except ValueError as exc:  # UnicodeDecodeError and JSON's errors among them
        raise Unreachable(f"{name}.json is not the facts of a cache entry ({exc})") from None


def redacted(location: str) -> str:
    """`location` without the user name and password a URL may carry (for messages and
    records)."""
    parts = urllib.parse.urlsplit(location)
    if parts.username is None and parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") or "]:" in host \
        else host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def backend_for(location: str) -> Backend:
    """The backend a --remote-cache location names: `file:///dir` (a directory),
    `http(s)://...` (read only), `oci://host/repo` or `host[:port]/repo` (an OCI registry).
    Raises InputError for anything else."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InputError(f"--remote-cache {location}: a directory is file:///absolute/path")
        return DirectoryBackend(location, Path(urllib.parse.unquote(parts.path)))
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise InputError(f"--remote-cache {location} names no host")
        return HttpBackend(location)
    repository = location[len("oci://"):] if parts.scheme == "oci" else location
    if parts.scheme not in ("", "oci") and "://" in location:
        raise InputError(f"--remote-cache {location}: use oci://HOST/REPOSITORY (or "
                         f"HOST/REPOSITORY) for a registry, https://... for a read-only "
                         f"mirror, or file:///DIR")
    host, _, path = repository.partition("/")
    if not host or not path or not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", path):
        raise InputError(f"--remote-cache {location} is not a registry repository "
                         f"(HOST/REPOSITORY in lower case, e.g. ghcr.io/my-org/builder-cache)")
    return OciBackend(location, repository)


def remote_cache(location: Optional[str], push: bool) -> Optional[RemoteCache]:
    """The run's remote store, or None without a location. Raises InputError for a location
    `backend_for` refuses, and for `push` to a read-only one."""
    if not location:
        if push:
            raise InputError("--remote-cache-push needs --remote-cache LOCATION")
        return None
    backend = backend_for(location)
    if push and not backend.writable:
        raise InputError(f"--remote-cache {location} is read only (plain HTTP); push to a "
                         f"registry or a file:/// directory and serve that instead")
    return RemoteCache(backend, push)
