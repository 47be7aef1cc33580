# Windows twin of build_openssl.sh: a static OpenSSL for linking into Python extensions, built
# natively with MSVC. The ./Configure flags come from configure-flags.txt beside this script,
# the file build_openssl.sh reads; keep the two together.
#
# Run it from a Visual Studio developer prompt (cl, nmake; jom is used when on PATH) with
# Strawberry Perl on PATH; NASM is used when on PATH (without it: no-asm, a slower build):
#
#   .\scripts\build_openssl.ps1 -Version 3.0.22 -Prefix C:\openssl -Sha256 <hex> -Target VC-WIN64A
#
# Parameters:
#   -Version V         OpenSSL release, e.g. 3.0.22 or 1.1.1w (required)
#   -Prefix DIR        where the headers and static libraries are installed (required)
#   -Sha256 HEX        expected sha256 of openssl-V.tar.gz (strongly recommended; without it
#                      the .sha256 file published beside the download is used)
#   -Tarball FILE      use this tarball instead of downloading one
#   -Mirror URL        also try URL/openssl-V.tar.gz, after the upstream locations (a list)
#   -Target NAME       VC-WIN64A (default), VC-WIN32 or VC-WIN64-ARM
#   -OpenSSLDir DIR    compiled-in directory of the trust store and openssl.cnf (default
#                      PREFIX\ssl)
#   -ConfigureArg A    more ./Configure arguments (a list)
#   -WorkDir DIR       unpack and build in DIR (default: a new temporary directory)
#   -DestDir DIR       install under DIR (nmake's DESTDIR: DIR\<prefix without its drive>),
#                      so that the compiled-in -Prefix names no directory of the build host
#   -PrintFlags        print the ./Configure arguments, one per line, and exit (needs
#                      -Tarball; nothing is built)
#   -Jobs N            parallel jobs with jom (default: number of cores)
#   -NoNamespace       keep the names of OpenSSL's internal symbols (by default, with LLVM's
#                      llvm-nm and llvm-objcopy on PATH, every global of the libraries that is
#                      not public API gets the prefix builder_, as build_openssl.sh does)
#
# An error ends the script with one line, `build_openssl.ps1: error: ...`, and exit code 1.

# No [Parameter()] attributes: PowerShell would answer a missing or unknown parameter with a
# wall of its own; the checks below say it in one sentence.
param(
    [string]$Version = "",
    [string]$Prefix = "",
    [string]$Sha256 = "",
    [string]$Tarball = "",
    [string[]]$Mirror = @(),
    [string]$Target = "VC-WIN64A",
    [string]$OpenSSLDir = "",
    [string[]]$ConfigureArg = @(),
    [string]$WorkDir = "",
    [string]$DestDir = "",
    [switch]$PrintFlags,
    [string]$Jobs = "",
    [switch]$NoNamespace
)
$ErrorActionPreference = "Stop"
# Windows PowerShell's progress bar slows Invoke-WebRequest down many times over.
$ProgressPreference = "SilentlyContinue"
$Targets = @("VC-WIN64A", "VC-WIN32", "VC-WIN64-ARM")
$NamespacePrefix = "builder_"

function Stage([string]$Text) { Write-Host "==> $Text" }

function Split-Words([string]$Line) {
    return , @($Line.Split([char[]]" `t", [StringSplitOptions]::RemoveEmptyEntries))
}

# Runs a program; a nonzero exit ends the script, naming the step.
function Invoke-Checked([string]$What, [string]$Program, [string[]]$Arguments) {
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE; see the output above)"
    }
}

function Resolve-FullPath([string]$Path) {
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

# Whether -Version is of the release series $Series (X.Y) or newer.
function Test-SeriesAtLeast([string]$Series) {
    if ($Series -notmatch '^\d+\.\d+$') {
        throw "configure-flags.txt: 'since $Series' is not a series such as 3.0"
    }
    $release = [regex]::Match($Version, '^(\d+)\.(\d+)')
    return [version]"$($release.Groups[1].Value).$($release.Groups[2].Value)" -ge [version]$Series
}

# The ./Configure arguments: the target, then the flags of configure-flags.txt whose
# condition holds (see that file).
function Get-ConfigureFlags([string]$ConfigureScript) {
    $file = Join-Path $PSScriptRoot "configure-flags.txt"
    if (-not (Test-Path -LiteralPath $file)) {
        throw "$file is missing; keep it beside build_openssl.ps1"
    }
    $configure = Get-Content -LiteralPath $ConfigureScript -Raw
    $flags = @($Target)
    foreach ($line in Get-Content -LiteralPath $file) {
        $words = Split-Words $line
        if ($words.Count -eq 0 -or $words[0].StartsWith("#")) { continue }
        $flag = $words[0]
        $when = if ($words.Count -gt 1) { $words[1] } else { "" }
        $since = if ($words.Count -gt 2) { $words[2] } else { "" }
        if ($when -ceq "always") { $pass = $true }
        elseif ($when -ceq "unix") {
            $pass = -not ($Target -like "mingw*" -or $Target -like "VC-*")
        }
        elseif ($when -ceq "since") { $pass = Test-SeriesAtLeast $since }
        elseif ($when -ceq "if-known") {
            # Listed in the release's own table of disablable features: older releases
            # reject an option they do not know.
            $feature = [regex]::Escape($flag -replace "^no-", "")
            $pass = $configure -match "(?m)^\s+`"$feature`",\r?$"
        }
        else { throw "${file}: unknown condition '$when' for $flag" }
        if ($pass) {
            $flags += $flag.Replace("@PREFIX@", $Prefix).Replace("@OPENSSLDIR@", $OpenSSLDir)
        }
    }
    return $flags
}

# Everything ./Configure is given: the flags file's, no-asm without NASM (the x86 targets'
# assembly is NASM's; VC-WIN64-ARM has none to lose), then -ConfigureArg.
function Get-BuildFlags([string]$ConfigureScript) {
    $flags = @(Get-ConfigureFlags $ConfigureScript)
    if ($Target -cne "VC-WIN64-ARM" -and -not (Get-Command nasm -ErrorAction SilentlyContinue)) {
        $flags += "no-asm"
    }
    return $flags + $ConfigureArg
}

# Refuse, before anything is unpacked, every member that could land outside $name\:
# absolute paths, `..`, and links (OpenSSL's release tarballs hold none).
function Test-Members([string]$Tar, [string]$Archive, [string]$Name) {
    $listing = & $Tar -tvzf $Archive
    if ($LASTEXITCODE -ne 0) { throw "tar cannot list $Archive" }
    foreach ($line in $listing) {
        if ($line -match '^[lh]') {
            throw "$Archive holds links; an OpenSSL release tarball has none, so it is refused"
        }
    }
    $members = & $Tar -tzf $Archive
    if ($LASTEXITCODE -ne 0) { throw "tar cannot list $Archive" }
    foreach ($member in $members) {
        $inside = $member.StartsWith("$Name/", [StringComparison]::Ordinal)
        if ($member -cne $Name -and -not $inside) {
            throw "$Archive holds a member outside ${Name}/: $member"
        }
        if ("/$member/".Contains("/../")) { throw "$Archive holds an unsafe member: $member" }
    }
}

# Static libraries define every internal global too. A .pyd exports only what is marked
# dllexport, so none of them leaks out of an extension; but a package that defines one of
# those names itself fails to link beside them (LNK2005). As build_openssl.sh does, every
# global that is not public API (util\libcrypto.num, util\libssl.num) gets the prefix, alike
# in both libraries, so OpenSSL's own references still resolve. LLVM's nm and objcopy read
# and rewrite MSVC's objects; without them the names stay.
function Rename-Internals([string]$LibDir, [string]$Source) {
    $nm = Get-Command llvm-nm -ErrorAction SilentlyContinue
    $objcopy = Get-Command llvm-objcopy -ErrorAction SilentlyContinue
    if (-not $nm -or -not $objcopy) {
        Write-Warning ("llvm-nm and llvm-objcopy are not both on PATH: OpenSSL's internal " +
            "symbols keep their names (install LLVM to rename them)")
        return
    }
    # 32-bit x86 spells each C name with a leading underscore: _EVP_sha256.
    $lead = if ($Target -ceq "VC-WIN32") { "_" } else { "" }
    $public = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
    foreach ($num in @("libcrypto.num", "libssl.num")) {
        foreach ($line in Get-Content -LiteralPath (Join-Path $Source "util\$num")) {
            $words = Split-Words $line
            if ($words.Count -gt 0) { [void]$public.Add($words[0]) }
        }
    }
    $renames = [System.Collections.Generic.SortedSet[string]]::new([StringComparer]::Ordinal)
    Push-Location -LiteralPath $LibDir
    try {
        $listing = & $nm.Source -g --defined-only "--format=posix" libcrypto.lib libssl.lib
        if ($LASTEXITCODE -ne 0) {
            throw "llvm-nm cannot read libcrypto.lib and libssl.lib in $LibDir"
        }
        foreach ($line in $listing) {
            $words = Split-Words $line
            # Member headers end with ":"; MSVC's own globals (string literals ??_C@...,
            # constants __real@...) are no C names and keep theirs.
            if ($words.Count -lt 2 -or $line.TrimEnd().EndsWith(":")) { continue }
            if (-not $words[0].StartsWith($lead, [StringComparison]::Ordinal)) { continue }
            $name = $words[0].Substring($lead.Length)
            if ($name -cmatch '^[A-Za-z_][A-Za-z0-9_]*$' -and -not $public.Contains($name)) {
                [void]$renames.Add("$lead$name $lead$NamespacePrefix$name")
            }
        }
        $renamesFile = Join-Path $WorkDir "renames.txt"
        [IO.File]::WriteAllLines($renamesFile, [string[]]@($renames))
        foreach ($library in @("libcrypto.lib", "libssl.lib")) {
            $arguments = @("--redefine-syms=$renamesFile", $library)
            Invoke-Checked "llvm-objcopy $library" $objcopy.Source $arguments
        }
    } finally { Pop-Location }
    Write-Host "renamed $($renames.Count) internal symbols"
}

$cleanup = $false
try {
    if ($args.Count -gt 0) {
        throw "unknown argument '$($args[0])'; the parameters are listed at the top of build_openssl.ps1"
    }
    if (-not $Version) { throw "-Version is required, e.g. -Version 3.0.22" }
    if ($Version -notmatch '^\d+\.\d+\.\d+[a-z]?$') {
        throw "-Version $Version is not a release such as 3.0.22 or 1.1.1w"
    }
    if (-not $Prefix) { throw "-Prefix is required: where to install, e.g. -Prefix C:\openssl" }
    if ($Targets -cnotcontains $Target) {
        throw "-Target $Target is not one of $($Targets -join ', ')"
    }
    if (-not $Jobs) { $Jobs = "$([Environment]::ProcessorCount)" }
    if ($Jobs -notmatch '^[1-9]\d*$') { throw "-Jobs $Jobs is not a positive whole number" }
    if ($Sha256 -and $Sha256 -notmatch '^[0-9a-fA-F]{64}$') {
        throw "-Sha256 $Sha256 is not 64 hex digits"
    }
    if ($PrintFlags -and -not $Tarball) { throw "-PrintFlags needs -Tarball" }

    $name = "openssl-$Version"
    if ($Version -like "1.*") {
        $series = $Version.Substring(0, 5); $tag = "OpenSSL_" + $Version.Replace(".", "_")
    } else {
        $series = $Version.Substring(0, $Version.LastIndexOf(".")); $tag = $name
    }
    $Prefix = Resolve-FullPath $Prefix
    if (-not $OpenSSLDir) { $OpenSSLDir = Join-Path $Prefix "ssl" }
    if (-not $WorkDir) {
        $unique = [guid]::NewGuid().ToString("N").Substring(0, 8)
        $WorkDir = Join-Path ([IO.Path]::GetTempPath()) "build-$name-$unique"
        $cleanup = $true
    }
    $WorkDir = Resolve-FullPath $WorkDir
    New-Item -ItemType Directory -Force -Path $WorkDir | Out-Null
    # Windows' own tar is bsdtar; a GNU tar found first on PATH (Git's) reads C: as a host.
    $tar = Join-Path $env:SystemRoot "System32\tar.exe"
    if (-not (Test-Path -LiteralPath $tar)) { $tar = "tar" }
    # Where `nmake install_dev` puts the prefix: under -DestDir, the prefix without its drive.
    $InstallTop = $Prefix
    if ($DestDir) {
        $DestDir = Resolve-FullPath $DestDir
        $InstallTop = Join-Path $DestDir $Prefix.Substring([IO.Path]::GetPathRoot($Prefix).Length)
    }

    if ($PrintFlags) {
        # The arguments the build would pass, from the release's own Configure (for the
        # features it knows); the builder keys its cache by them.
        $Tarball = Resolve-FullPath $Tarball
        Invoke-Checked "unpacking $name/Configure" $tar @("-xzf", $Tarball, "-C", $WorkDir, "$name/Configure")
        foreach ($flag in (Get-BuildFlags (Join-Path $WorkDir "$name\Configure"))) {
            Write-Output $flag
        }
        exit 0
    }

    if (-not $Tarball) {
        Stage "download $name.tar.gz"
        $urls = @(
            "https://www.openssl.org/source/$name.tar.gz",
            "https://www.openssl.org/source/old/$series/$name.tar.gz",
            "https://github.com/openssl/openssl/releases/download/$tag/$name.tar.gz"
        ) + @($Mirror | ForEach-Object { $_.TrimEnd("/") + "/$name.tar.gz" })
        $Tarball = Join-Path $WorkDir "$name.tar.gz"
        $fetched = $false
        foreach ($url in $urls) {
            Write-Host "trying $url"
            try { Invoke-WebRequest -Uri $url -OutFile $Tarball -UseBasicParsing }
            catch { Write-Host "  $($_.Exception.Message)"; continue }
            if (-not $Sha256) {
                $published = Join-Path $WorkDir "$name.tar.gz.sha256"
                try { Invoke-WebRequest -Uri "$url.sha256" -OutFile $published -UseBasicParsing }
                catch { Write-Host "  no .sha256 beside $url"; continue }
                $Sha256 = (Split-Words (Get-Content -LiteralPath $published -Raw))[0]
                if ($Sha256 -notmatch '^[0-9a-fA-F]{64}$') {
                    $Sha256 = ""
                    Write-Host "  no sha256 in $url.sha256"
                    continue
                }
                Write-Warning "no -Sha256 given; trusting $url.sha256 from the same server"
            }
            $fetched = $true
            break
        }
        if (-not $fetched) {
            throw "could not download $name.tar.gz from any location (see above); pass -Tarball or -Mirror"
        }
    }
    $Tarball = Resolve-FullPath $Tarball

    Stage "verify $Tarball"
    if (-not (Test-Path -LiteralPath $Tarball -PathType Leaf)) { throw "no such tarball: $Tarball" }
    $head = New-Object byte[] 2
    $stream = [IO.File]::OpenRead($Tarball)
    try { $read = $stream.Read($head, 0, 2) } finally { $stream.Dispose() }
    if ($read -lt 2 -or $head[0] -ne 0x1f -or $head[1] -ne 0x8b) {
        throw "$Tarball is not a gzip file (an HTML error page from a mirror?)"
    }
    if ($Sha256) {
        $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $Tarball).Hash.ToLowerInvariant()
        if ($actual -ne $Sha256.ToLowerInvariant()) {
            throw "sha256 mismatch for ${Tarball}: expected $Sha256, got $actual"
        }
    } else { Write-Warning "no -Sha256 given for a local tarball; it is not verified" }

    Stage "check the members of $Tarball"
    Test-Members $tar $Tarball $name

    Stage "unpack"
    $src = Join-Path $WorkDir $name
    if (Test-Path -LiteralPath $src) { Remove-Item -LiteralPath $src -Recurse -Force }
    Invoke-Checked "unpacking $Tarball" $tar @("-xzf", $Tarball, "-C", $WorkDir)
    if (-not (Test-Path -LiteralPath (Join-Path $src "Configure"))) {
        throw "$Tarball does not hold $name/Configure"
    }

    # OpenSSL writes the build date into its version information; with a fixed
    # SOURCE_DATE_EPOCH (default 1980-01-01) two builds of the same inputs are alike.
    if (-not $env:SOURCE_DATE_EPOCH) { $env:SOURCE_DATE_EPOCH = "315532800" }
    $flags = @(Get-BuildFlags (Join-Path $src "Configure"))
    if ($flags -ccontains "no-asm" -and $ConfigureArg -cnotcontains "no-asm") {
        Write-Host "nasm is not on PATH: building without assembly (no-asm), which is slower"
    }

    Push-Location -LiteralPath $src
    try {
        Stage "configure: perl Configure $($flags -join ' ')"
        Invoke-Checked "perl Configure" "perl" (@("Configure") + $flags)
        if (Get-Command jom -ErrorAction SilentlyContinue) {
            # Parallel cl processes write one ossl_static.pdb, which needs /FS (cl reads CL).
            $env:CL = ("/FS " + $env:CL).Trim()
            Stage "build libraries (jom -j $Jobs build_libs)"
            Invoke-Checked "jom build_libs" "jom" @("-j", $Jobs, "build_libs")
        } else {
            Stage "build libraries (nmake build_libs; one job at a time, as jom is not on PATH)"
            Invoke-Checked "nmake build_libs" "nmake" @("build_libs")
        }
        Stage "install development files into $InstallTop"
        $install = @("install_dev")
        if ($DestDir) { $install += "DESTDIR=$DestDir" }
        Invoke-Checked "nmake install_dev" "nmake" $install
    } finally { Pop-Location }

    if (-not $NoNamespace) {
        Stage "namespace OpenSSL's internal symbols with the prefix $NamespacePrefix"
        Rename-Internals (Join-Path $InstallTop "lib") $src
    }
    Stage "done: $InstallTop"
} catch {
    [Console]::Error.WriteLine("build_openssl.ps1: error: $($_.Exception.Message)")
    exit 1
} finally {
    if ($cleanup -and $WorkDir -and (Test-Path -LiteralPath $WorkDir)) {
        Remove-Item -LiteralPath $WorkDir -Recurse -Force -ErrorAction SilentlyContinue
    }
}
exit 0
