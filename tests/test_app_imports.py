"""The CDK app imports its handlers' contracts (names, limits, request validation), never their AWS code: boto3 and
Powertools at import cost every synth ~0.2-0.5 s (issue 19), and the synth must not depend on the handlers' SDKs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AWS_CODE = ("boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk")


def _module_file(module: str) -> Path | None:
    """The file ``module`` (dotted, from the repository root) runs when imported, if it is in the repository."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_at_load(path: Path) -> set[str]:
    """Modules imported by ``path``'s top-level statements (function-level imports run only when called)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return names


def _with_packages(module: str) -> list[str]:
    """Importing ``a.b.c`` also runs ``a`` and ``a.b``."""
    parts = module.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def _load_closure(roots: list[Path]) -> dict[str, str]:
    """Every module imported when ``roots`` are loaded, each with the repository module that imports it."""
    seen: dict[str, str] = {}
    pending = [(path, _module_name(path)) for path in roots]
    while pending:
        path, importer = pending.pop()
        for imported in _imported_at_load(path):
            for module in _with_packages(imported):
                if module in seen:
                    continue
                seen[module] = importer
                found = _module_file(module)
                if found is not None:
                    pending.append((found, module))
    return seen


def test_the_app_loads_no_aws_sdk_or_powertools_through_the_handler_contracts():
    closure = _load_closure([ROOT / "app.py", *sorted((ROOT / "tradai_cdk").rglob("*.py"))])
    handler_modules = {module for module in closure if module.startswith("lambda_src.")}
    assert "lambda_src.shared" in handler_modules  # the walk follows the app into lambda_src
    loaded = {module: importer for module, importer in closure.items() if module.split(".")[0] in AWS_CODE}
    assert not loaded, f"imported at synth (module: by): {loaded}"


def test_the_import_walk_sees_a_handler_that_loads_boto3():
    """The walk follows relative imports: shared.notify loads boto3 through shared.aws and shared.ddb."""
    closure = _load_closure([ROOT / "lambda_src" / "shared" / "notify.py"])
    assert closure.get("boto3") in ("lambda_src.shared.aws", "lambda_src.shared.ddb")
