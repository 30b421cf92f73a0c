"""What a package index and pip read: the installed distribution's metadata.

CI runs this against the installed manylinux wheel, so the metadata read here is that wheel's
METADATA. Nothing here needs the network.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import custval
import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]  # the repository


@pytest.fixture(scope="module")
def dist() -> metadata.Distribution:
    return metadata.distribution("custval")


def test_python_3_10_is_refused_by_the_metadata(dist):
    # pip compares the running Python with Requires-Python and refuses with "requires a
    # different Python: 3.10.x not in '>=3.11'" before it builds or installs anything.
    requires = dist.metadata["Requires-Python"]
    assert requires == ">=3.11"
    allowed = SpecifierSet(requires)
    assert not allowed.contains("3.10.14")
    assert not allowed.contains("3.9")
    for version in ("3.11.0", "3.12.8", "3.13.1", "3.14.0"):
        assert allowed.contains(version), version
    # The source of truth says the same, so an sdist build gets it too.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == requires


def test_version_has_one_home_and_the_changelog_names_it(dist):
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    assert custval.__version__ == cargo["package"]["version"]
    assert dist.version == custval.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    top = re.search(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", changelog, flags=re.M)
    assert top, "CHANGELOG.md has no '## [X.Y.Z]' entry"
    assert top.group(1) == custval.__version__, "bump CHANGELOG.md with Cargo.toml's version"


def test_license_is_declared_and_shipped(dist):
    assert dist.metadata["License-Expression"] == "MIT"
    assert tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["license"] == "MIT"
    shipped = [f for f in dist.files or [] if f.name == "LICENSE"]
    assert shipped, "LICENSE is missing from the installed .dist-info"
    assert "MIT License" in shipped[0].read_text()


def test_index_metadata_is_complete(dist):
    meta = dist.metadata
    assert meta["Summary"] and meta["Keywords"]
    assert meta["Description-Content-Type"].startswith("text/markdown")
    # The README is the long description: the page a user reads on the index.
    assert "pip install custval" in (meta.get_payload() or meta.get("Description", ""))
    classifiers = meta.get_all("Classifier") or []
    assert "Programming Language :: Rust" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    # PEP 639: the expression replaces license classifiers; both together is an error.
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
