"""What the builder knows of packages, and what it refuses before any compile."""

import pytest

from builder.cargo import rust_version_of_sdist, vendor_from
from builder.errors import InputError
from builder.recipes import recipe_for
from tests.conftest import text_tarball

CRYPTOGRAPHY = recipe_for("cryptography")


def test_cryptography_50_with_1_1_1w_names_the_openssl_and_the_release_line_that_work():
    with pytest.raises(InputError) as caught:
        CRYPTOGRAPHY.check_openssl("50.0.2", "1.1.1w")
    message = caught.value.message
    assert "cryptography 50.0.2 does not support OpenSSL 1.1.1w" in message
    assert "--openssl 3.0+" in message
    assert "cryptography 46.x, the newest that supports OpenSSL 1.1.1w" in message
    assert caught.value.exit_code == 2


def test_cryptography_45_needs_1_1_1e():
    with pytest.raises(InputError, match="needs OpenSSL 1.1.1e or newer.*cryptography 42.x"):
        CRYPTOGRAPHY.check_openssl("45.0.7", "1.1.1d")


def test_cryptography_42_accepts_1_1_1d_but_not_1_1_1c():
    CRYPTOGRAPHY.check_openssl("42.0.8", "1.1.1d")
    with pytest.raises(InputError, match="needs OpenSSL 1.1.1d"):
        CRYPTOGRAPHY.check_openssl("42.0.8", "1.1.1c")


@pytest.mark.parametrize("openssl", ["3.0.22", "3.5.7", "4.0.2"])
def test_cryptography_50_accepts_every_3_x_and_4_x(openssl):
    CRYPTOGRAPHY.check_openssl("50.0.2", openssl)


def test_a_package_without_a_recipe_gets_the_default_and_no_limits():
    recipe = recipe_for("Some_Package")
    assert recipe.name == "some-package" and recipe.runtime_probe is None
    recipe.check_openssl("1.0", "1.1.1w")


def test_cryptography_recipe_names_its_probe_checks_tools_and_suite():
    assert CRYPTOGRAPHY.runtime_probe.endswith("backend.openssl_version_text")
    assert CRYPTOGRAPHY.checks == "cryptography_checks"
    assert set(CRYPTOGRAPHY.tools) == {"cargo", "rustc"}
    assert "cryptography_vectors=={version}" in CRYPTOGRAPHY.test_requirements


def fake_sdist(folder, name, version, cargo_toml=None):
    path = folder / f"{name}-{version}.tar.gz"
    # A C source that includes OpenSSL: what a package the builder serves holds.
    files = {f"{name}-{version}/PKG-INFO": f"Name: {name}\nVersion: {version}\n",
             f"{name}-{version}/pyproject.toml": "[build-system]\nrequires = []\n",
             f"{name}-{version}/src/binding.c": "#include <openssl/evp.h>\n"}
    if cargo_toml is not None:
        files[f"{name}-{version}/Cargo.toml"] = cargo_toml
    return text_tarball(path, files)


def test_minimum_rust_comes_from_the_sdists_workspace_metadata(tmp_path):
    sdist = fake_sdist(tmp_path, "rusty", "1.0",
                       '[workspace]\n[workspace.package]\nrust-version = "1.83.0"\n')
    assert rust_version_of_sdist(sdist) == (True, "1.83.0")


def test_package_rust_version_wins_over_the_workspace(tmp_path):
    sdist = fake_sdist(tmp_path, "rusty", "1.0", '[package]\nname = "x"\nrust-version = "1.70"\n'
                       '[workspace.package]\nrust-version = "1.83.0"\n')
    assert rust_version_of_sdist(sdist) == (True, "1.70")


def test_sdist_without_cargo_toml_is_not_rust(tmp_path):
    assert rust_version_of_sdist(fake_sdist(tmp_path, "plain", "1.0")) == (False, None)


def test_relock_without_a_vendor_directory_is_refused():
    with pytest.raises(InputError, match="--cargo-relock needs --cargo-vendor"):
        vendor_from(None, relock=True)


def test_vendor_directory_may_come_from_the_environment(tmp_path):
    from builder.settings import resolve

    chosen = resolve({}, {"BUILDER_CARGO_VENDOR": str(tmp_path)}, tmp_path).cargo_vendor
    assert vendor_from(chosen) == tmp_path.resolve()


def test_plat_of_an_architecture_zig_cannot_target_from_here_is_refused_up_front(tmp_path):
    from builder.target import resolve_target

    with pytest.raises(InputError, match="manylinux2014_ppc64le is not supported here"):
        resolve_target("manylinux2014_ppc64le")


def test_a_vendor_directory_that_is_missing_is_refused_naming_where_it_was_set(tmp_path):
    with pytest.raises(InputError, match=r"cargo-vendor .*missing \(from \$BUILDER_CARGO_VENDOR\)"
                                         r" is not a directory"):
        vendor_from(tmp_path / "missing", origin="$BUILDER_CARGO_VENDOR")


@pytest.mark.parametrize("cc, expected", [("", "cc"), ("  ", "cc"), ("ccache gcc", "ccache gcc")])
def test_the_host_compiler_is_cc_where_cc_is_unset_or_blank(monkeypatch, cc, expected):
    from builder.build_env import host_cc

    monkeypatch.setenv("CC", cc)
    assert host_cc() == expected
