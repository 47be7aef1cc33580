#!/usr/bin/env bash
# Build a static, position-independent OpenSSL for linking into Python extension modules.
#
# This is the one recipe: the builder runs this very script, and it works on its own in any
# CI job (e.g. a cibuildwheel before-all step):
#
#   scripts/build_openssl.sh --sha256 <hex> 3.0.22 /opt/openssl
#
# It fetches openssl-VERSION.tar.gz (or takes --tarball), verifies it before unpacking,
# builds only the libraries and installs only the development files (headers, static
# archives, pkg-config files) into PREFIX. The ./Configure flags come from
# configure-flags.txt beside this script (build_openssl.ps1 reads the same file).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: build_openssl.sh [options] VERSION PREFIX

options:
  --sha256 HEX          expected sha256 of openssl-VERSION.tar.gz (strongly recommended;
                        without it the .sha256 file published beside the tarball is used)
  --tarball FILE        use this tarball instead of downloading one
  --mirror URL          also try URL/openssl-VERSION.tar.gz, after the upstream locations
  --openssldir DIR      compiled-in directory of the trust store and openssl.cnf
                        (default /etc/ssl; RHEL uses /etc/pki/tls)
  --configure-arg ARG   one more argument for ./Configure (repeatable)
  --target NAME         ./Configure target for a cross build, e.g. linux-aarch64 (with
                        CC/AR/RANLIB for that target); default: detected for this host.
                        A mingw* target gets no -fPIC (PE objects need none); with
                        `mingw` (i386 Windows) and darwin* (macOS), whose C symbols
                        start with `_`, the namespace step reads and renames the names
                        after the `_`
  --jobs N              make parallelism (default: number of cores)
  --destdir DIR         stage the installation under DIR (make DESTDIR=DIR)
  --workdir DIR         unpack and build in DIR (default: a temporary directory)
  --no-namespace        keep the names of OpenSSL's internal symbols (by default every
                        global symbol of the archives that is not public API gets the
                        prefix builder_, so no package that defines one of those names
                        collides with it)
  --print-flags         print the ./Configure arguments, one per line, and exit
                        (needs --tarball or an already unpacked source in --workdir)
  -h, --help            show this help

The flags, and when each applies, are in configure-flags.txt, which must be beside this script.
EOF
}

stage() { echo "==> $*"; }
die() { echo "build_openssl.sh: error: $*" >&2; exit 1; }

sha256=""; tarball=""; openssldir="/etc/ssl"; destdir=""; workdir=""; target=""; print_flags=0
namespace="builder_"
jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
mirrors=(); extra_args=(); positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sha256) sha256="$2"; shift 2 ;;
    --tarball) tarball="$2"; shift 2 ;;
    --mirror) mirrors+=("$2"); shift 2 ;;
    --openssldir) openssldir="$2"; shift 2 ;;
    --configure-arg) extra_args+=("$2"); shift 2 ;;
    --target) target="$2"; shift 2 ;;
    --no-namespace) namespace=""; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    --workdir) workdir="$2"; shift 2 ;;
    --print-flags) print_flags=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || { usage >&2; exit 2; }
version="${positional[0]}"
prefix="${positional[1]}"
name="openssl-${version}"

case "$version" in
  1.1.1*) series="1.1.1"; tag="OpenSSL_${version//./_}" ;;
  *) series="${version%.*}"; tag="openssl-${version}" ;;
esac

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# An if-known flag is passed only where this release knows it: listed in the release's own
# table of disablable features, so older releases do not reject it.
release_knows() { grep -qE "^[[:space:]]+\"$1\",\$" "$2"; }

flags_file="$(dirname "${BASH_SOURCE[0]}")/configure-flags.txt"

version_at_least() {  # $1: X.Y; whether $version is of that series or newer
  local major minor
  [[ "$1" =~ ^[0-9]+\.[0-9]+$ ]] || die "$flags_file: 'since $1' is not a series such as 3.0"
  IFS=. read -r major minor _ <<<"$version"
  minor="${minor%%[!0-9]*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] ||
    die "version $version is not a release number such as 3.0.22"
  (( major > ${1%.*} || (major == ${1%.*} && minor >= ${1#*.}) ))
}

# Sets `flags` to the ./Configure arguments: the target, the flags of configure-flags.txt
# whose condition holds, the extra arguments. No subshell, so that `die` stops the recipe.
configure_args() {  # $1: path of the release's Configure script
  [ -f "$flags_file" ] || die "$flags_file is missing; keep it beside build_openssl.sh"
  flags=()
  # A named target comes first, where ./Configure expects it.
  if [ -n "$target" ]; then flags+=("$target"); fi
  local flag when since
  while read -r flag when since || [ -n "$flag" ]; do
    case "$flag" in ''|'#'*) continue ;; esac
    case "$when" in
      always) ;;
      unix) case "$target" in mingw*|VC-*) continue ;; esac ;;
      since) version_at_least "$since" || continue ;;
      if-known) release_knows "${flag#no-}" "$1" || continue ;;
      *) die "$flags_file: unknown condition '$when' for $flag" ;;
    esac
    # Sliced, not ${flag//pattern/"$prefix"}: macOS's bash 3.2 keeps a quoted replacement's
    # quotes, and bash 5.2 reads an unquoted `&` in a path as the matched text.
    case "$flag" in *@PREFIX@*) flag="${flag%%@PREFIX@*}$prefix${flag#*@PREFIX@}" ;; esac
    case "$flag" in
      *@OPENSSLDIR@*) flag="${flag%%@OPENSSLDIR@*}$openssldir${flag#*@OPENSSLDIR@}" ;;
    esac
    flags+=("$flag")
  done <"$flags_file"
  flags+=(${extra_args[@]+"${extra_args[@]}"})
}

# Refuse, before anything is unpacked, every member that could land outside $name/: absolute
# paths, `..`, and links (OpenSSL's release tarballs hold none).
check_members() {
  local member
  # awk reads the whole listing: grep -q would stop early and, under pipefail, hide a match.
  if tar -tvzf "$1" | awk '/^[lh]/ {found = 1} END {exit !found}'; then
    die "$1 holds links; an OpenSSL release tarball has none, so it is refused"
  fi
  while IFS= read -r member; do
    case "$member" in
      "$name"/*|"$name") case "/$member/" in */../*) die "$1 holds an unsafe member: $member" ;; esac ;;
      *) die "$1 holds a member outside $name/: $member" ;;
    esac
  done < <(tar -tzf "$1")
}

cleanup_workdir=0
if [ -z "$workdir" ]; then workdir="$(mktemp -d)"; cleanup_workdir=1; fi
mkdir -p "$workdir"
trap '[ "$cleanup_workdir" = 1 ] && rm -rf "$workdir"' EXIT

if [ "$print_flags" = 1 ]; then
  if [ ! -f "$workdir/$name/Configure" ]; then
    [ -n "$tarball" ] || die "--print-flags needs --tarball or an unpacked source in --workdir"
    mkdir -p "$workdir/$name"
    # --occurrence stops at the (early) Configure instead of reading 50 MB (GNU tar).
    tar -xzf "$tarball" -C "$workdir" --occurrence=1 "$name/Configure" 2>/dev/null ||
      tar -xzf "$tarball" -C "$workdir" "$name/Configure"
  fi
  configure_args "$workdir/$name/Configure"
  printf '%s\n' "${flags[@]}"
  exit 0
fi

download() {
  local urls=(
    "https://www.openssl.org/source/$name.tar.gz"
    "https://www.openssl.org/source/old/$series/$name.tar.gz"
    "https://github.com/openssl/openssl/releases/download/$tag/$name.tar.gz"
  )
  local m
  for m in ${mirrors[@]+"${mirrors[@]}"}; do urls+=("${m%/}/$name.tar.gz"); done
  local url
  for url in "${urls[@]}"; do
    echo "trying $url"
    if curl -fsSL --retry 2 -o "$workdir/$name.tar.gz.part" "$url"; then
      if [ -z "$sha256" ]; then
        sha256="$(curl -fsSL "$url.sha256" | tr -d ' \n' | cut -c1-64)" ||
          { echo "no .sha256 beside $url"; continue; }
        echo "warning: no --sha256 given; trusting $url.sha256 from the same server" >&2
      fi
      mv "$workdir/$name.tar.gz.part" "$workdir/$name.tar.gz"
      tarball="$workdir/$name.tar.gz"
      return 0
    fi
  done
  die "could not download $name.tar.gz from any location (see above); pass --tarball or --mirror"
}

if [ -z "$tarball" ]; then
  stage "download $name.tar.gz"
  download
fi

stage "verify $tarball"
[ -f "$tarball" ] || die "no such tarball: $tarball"
[ "$(head -c2 "$tarball" | od -An -tx1 | tr -d ' \n')" = "1f8b" ] ||
  die "$tarball is not a gzip file (an HTML error page from a mirror?)"
if [ -n "$sha256" ]; then
  actual="$(sha256_of "$tarball")"
  [ "$actual" = "$sha256" ] || die "sha256 mismatch for $tarball: expected $sha256, got $actual"
else
  echo "warning: no --sha256 given for a local tarball; it is not verified" >&2
fi

stage "check the members of $tarball"
check_members "$tarball"

stage "unpack"
rm -rf "${workdir:?}/$name"
tar -xzf "$tarball" -C "$workdir"
src="$workdir/$name"
[ -f "$src/Configure" ] || die "$tarball does not hold $name/Configure"

# OpenSSL writes the build date into its version information ("built on: ..."); with a fixed
# SOURCE_DATE_EPOCH (default 1980-01-01) two builds of the same inputs are byte-identical.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
configure_args "$src/Configure"
# 3.x's Configure detects the host target itself; before 3.0 that is ./config's job. A cross
# build names its target, which only ./Configure takes.
case "$version" in 1.*) configure=(./config) ;; *) configure=(perl ./Configure) ;; esac
if [ -n "$target" ]; then configure=(perl ./Configure); fi
stage "configure: ${configure[*]} ${flags[*]}"
(cd "$src" && "${configure[@]}" "${flags[@]}")

stage "build libraries (make -j$jobs build_libs)"
(cd "$src" && make -j"$jobs" build_libs)

stage "install development files into ${destdir}${prefix}"
(cd "$src" && make install_dev ${destdir:+DESTDIR="$destdir"})

# Static archives define every internal global too, where a shared library exports only the
# public API (util/libcrypto.num, util/libssl.num). Renaming the internals alike in both
# archives keeps OpenSSL's own references resolved and frees their names for the package.
namespace_internals() {  # $1: the installed lib directory
  local public="$workdir/public-api.txt" renames="$workdir/renames.txt" archive lead=""
  # i386 Windows (COFF, the mingw target) and macOS (Mach-O) spell each C name with a
  # leading `_`: nm shows _EVP_sha256 where util/libcrypto.num lists EVP_sha256, and _x
  # becomes _builder_x.
  case "$target" in mingw|darwin*) lead="_" ;; esac
  if [ -z "$target" ] && [ "$(uname -s)" = Darwin ]; then lead="_"; fi
  awk '{print $1}' "$src/util/libcrypto.num" "$src/util/libssl.num" | LC_ALL=C sort -u >"$public"
  # A member's header line (archive[member]:) ends with ":", even where a path holds spaces.
  "${NM:-nm}" -g --defined-only --format=posix "$1/libcrypto.a" "$1/libssl.a" |
    awk -v lead="$lead" 'NF >= 2 && $NF !~ /:$/ && substr($1, 1, length(lead)) == lead {
      print substr($1, length(lead) + 1) }' | LC_ALL=C sort -u |
    LC_ALL=C comm -23 - "$public" |
    awk -v p="$namespace" -v lead="$lead" '{print lead $1 " " lead p $1}' >"$renames"
  for archive in "$1/libcrypto.a" "$1/libssl.a"; do
    "${OBJCOPY:-objcopy}" --redefine-syms="$renames" "$archive"
  done
  echo "renamed $(wc -l <"$renames") internal symbols"
}

if [ -n "$namespace" ]; then
  stage "namespace OpenSSL's internal symbols with the prefix $namespace"
  namespace_internals "${destdir}${prefix}/lib"
fi

stage "done: ${destdir}${prefix}"
