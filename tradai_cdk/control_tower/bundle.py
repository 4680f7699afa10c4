"""The cfn-guard binary and Control Tower rule files that the pinned cdk-validator-cfnguard package ships.

They are read from the package's jsii tarball and unpacked once per tarball (keyed by its hash) under the cache
directory; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import platform
import re
import shutil
import tarfile
import tempfile
from functools import cache
from pathlib import Path, PurePosixPath

RULES_DIR = "package/rules/control-tower/cfn-guard/"
RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
# The plugin's own platform names for its binaries (lib/plugin.js getPlatform / getArchitecture).
PLATFORMS = {"Linux": "ubuntu", "Darwin": "macos"}
ARCHITECTURES = {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@cache
def tarball() -> Path:
    """The package's jsii tarball, found without importing the package (which would load it into jsii)."""
    spec = importlib.util.find_spec("cdklabs.cdk_validator_cfnguard")
    assert spec is not None and spec.origin is not None, "cdklabs.cdk-validator-cfnguard is a pinned requirement"
    (path,) = (Path(spec.origin).parent / "_jsii").glob("*.jsii.tgz")
    return path


@cache
def fingerprint() -> str:
    """Hash of the tarball: the binary and the rules together (a cache key part)."""
    return hashlib.sha256(tarball().read_bytes()).hexdigest()[:16]


@cache
def rule_types() -> dict[str, frozenset[str]]:
    """Each bundled rule file (its name without ``.guard``) -> the resource types it checks."""
    with tarfile.open(tarball()) as archive:
        return {
            PurePosixPath(member.name).stem: frozenset(RESOURCE_TYPE.findall(_read(archive, member)))
            for member in archive.getmembers()
            if _is_rule(member)
        }


def binary_member() -> str:
    """Path of this machine's cfn-guard inside the tarball."""
    system, machine = platform.system(), platform.machine()
    if system not in PLATFORMS or machine not in ARCHITECTURES:
        raise RuntimeError(f"cfn-guard is bundled for Linux and macOS on x86_64 / arm64, not {system} {machine}")
    return f"package/bin/{PLATFORMS[system]}/{ARCHITECTURES[machine]}/cfn-guard"


def unpack(directory: Path) -> tuple[Path, dict[str, Path]]:
    """The binary and each rule file (name -> path), unpacked under ``directory/bundle-<fingerprint>`` once."""
    root = directory / f"bundle-{fingerprint()}"
    binary = root / binary_member()
    if not binary.exists():
        _extract(root)
    rules = {path.stem: path for path in (root / RULES_DIR).rglob("*.guard")}
    return binary, rules


def _extract(root: Path) -> None:
    """Unpack into a temporary sibling and rename it into place, so a concurrent synth never sees half a bundle."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f"{root.name}."))
    with tarfile.open(tarball()) as archive:
        members = [m for m in archive.getmembers() if m.name == binary_member() or _is_rule(m)]
        archive.extractall(staging, members=members, filter="data")
    try:
        staging.rename(root)
    except OSError:  # another process unpacked it first
        shutil.rmtree(staging)
        if not (root / binary_member()).exists():
            raise


def _is_rule(member: tarfile.TarInfo) -> bool:
    return member.name.startswith(RULES_DIR) and member.name.endswith(".guard")


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    file = archive.extractfile(member)
    assert file is not None, member.name  # a regular file of the tarball
    return file.read().decode()
