# Windows twin of build_openssl.sh: a static OpenSSL for linking into Python extensions.
# Same steps and flags, with MSVC's Configure targets, nmake and Get-FileHash.
# Run from a Visual Studio developer prompt (cl, nmake), with Strawberry Perl and NASM on PATH:
#
#   .\scripts\build_openssl.ps1 -Version 3.0.22 -Prefix C:\openssl -Sha256 <hex> -Target VC-WIN64A
#
# Untested in this project's CI, which has no Windows machine.
param(
    [Parameter(Mandatory = $true)][string]$Version,
    [Parameter(Mandatory = $true)][string]$Prefix,
    [string]$Sha256 = "",
    [string]$Tarball = "",
    [string[]]$Mirror = @(),
    [ValidateSet("VC-WIN64A", "VC-WIN32", "VC-WIN64-ARM")][string]$Target = "VC-WIN64A",
    [string]$OpenSSLDir = "",
    [string[]]$ConfigureArg = @(),
    [string]$WorkDir = ""
)
$ErrorActionPreference = "Stop"
function Stage($text) { Write-Host "==> $text" }

$name = "openssl-$Version"
if ($Version -like "1.*") {
    $series = $Version.Substring(0, 5); $tag = "OpenSSL_" + $Version.Replace(".", "_")
} else {
    $series = $Version.Substring(0, $Version.LastIndexOf(".")); $tag = $name
}
if (-not $WorkDir) { $WorkDir = Join-Path ([IO.Path]::GetTempPath()) "build-$name" }
New-Item -ItemType Directory -Force -Path $WorkDir | Out-Null
if (-not $OpenSSLDir) { $OpenSSLDir = Join-Path $Prefix "ssl" }

if (-not $Tarball) {
    Stage "download $name.tar.gz"
    $urls = @(
        "https://www.openssl.org/source/$name.tar.gz",
        "https://www.openssl.org/source/old/$series/$name.tar.gz",
        "https://github.com/openssl/openssl/releases/download/$tag/$name.tar.gz"
    ) + ($Mirror | ForEach-Object { $_.TrimEnd("/") + "/$name.tar.gz" })
    $Tarball = Join-Path $WorkDir "$name.tar.gz"
    $fetched = $false
    foreach ($url in $urls) {
        try { Invoke-WebRequest -Uri $url -OutFile $Tarball -UseBasicParsing; $fetched = $true; break }
        catch { Write-Host "  $url : $($_.Exception.Message)" }
    }
    if (-not $fetched) { throw "could not download $name.tar.gz; pass -Tarball or -Mirror" }
}

Stage "verify $Tarball"
$head = [IO.File]::ReadAllBytes($Tarball)[0..1]
if ($head[0] -ne 0x1f -or $head[1] -ne 0x8b) { throw "$Tarball is not a gzip file" }
if ($Sha256) {
    $actual = (Get-FileHash -Algorithm SHA256 $Tarball).Hash.ToLower()
    if ($actual -ne $Sha256.ToLower()) { throw "sha256 mismatch: expected $Sha256, got $actual" }
} else { Write-Warning "no -Sha256 given; the tarball is not verified" }

Stage "unpack"
tar -xzf $Tarball -C $WorkDir
if ($LASTEXITCODE -ne 0) { throw "unpacking $Tarball failed" }
$src = Join-Path $WorkDir $name
$configure = Get-Content (Join-Path $src "Configure") -Raw

# The same choices as build_openssl.sh (MSVC objects need no -fPIC).
$flags = @($Target, "no-shared", "no-ssl3", "no-comp", "no-tests")
if ($Version -notlike "1.*") { $flags += "no-module" }
foreach ($feature in @("apps", "docs")) {
    if ($configure -match "(?m)^\s+`"$feature`",$") { $flags += "no-$feature" }
}
$flags += @("--prefix=$Prefix", "--libdir=lib", "--openssldir=$OpenSSLDir") + $ConfigureArg

Push-Location $src
try {
    Stage "configure: $($flags -join ' ')"
    perl Configure @flags
    if ($LASTEXITCODE -ne 0) { throw "Configure failed" }
    Stage "build libraries (nmake build_libs)"
    nmake build_libs
    if ($LASTEXITCODE -ne 0) { throw "nmake build_libs failed" }
    Stage "install development files into $Prefix"
    nmake install_dev
    if ($LASTEXITCODE -ne 0) { throw "nmake install_dev failed" }
} finally { Pop-Location }
Stage "done: $Prefix"
