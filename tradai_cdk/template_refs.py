"""Reading synthesized CloudFormation: the names a template value refers to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}.]+)")


def references(value: Any) -> Iterator[str]:
    """Names a value refers to through Ref, Fn::GetAtt or Fn::Sub (logical ids, parameters, pseudo parameters)."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                yield arg
            elif key == "Fn::GetAtt":
                yield arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                yield from (v for v in _SUB_VARIABLE.findall(text) if v not in variables)
                yield from references(variables)
            else:
                yield from references(arg)
