"""The NAT instance's user data: settings, the embedded self-check and the boot body."""

from __future__ import annotations

import re
from pathlib import Path

BOOT_SCRIPT = Path(__file__).with_name("nat_user_data.sh")
SELF_CHECK_SCRIPT = Path(__file__).with_name("nat_self_check.sh")
_HEREDOC_END = "SELF_CHECK_EOF"
# Values are interpolated unquoted; CDK token strings (``${Token[...]}``) contain none of these.
_UNSAFE = re.compile(r"[\s'\"`\\;&|<>()]")


def boot_script(*, vpc_cidr: str, eip_address: str, boot_tag_key: str, ready_value: str, failed_value: str) -> str:
    """The user data body, without a shebang (``ec2.UserData.for_linux()`` adds one).

    Values may be CDK token strings; they are interpolated as-is.
    """
    settings = {
        "VPC_CIDR": vpc_cidr,
        "EIP_ADDRESS": eip_address,
        "BOOT_TAG_KEY": boot_tag_key,
        "READY_VALUE": ready_value,
        "FAILED_VALUE": failed_value,
    }
    for name, value in settings.items():
        if not value or _UNSAFE.search(value):
            raise ValueError(f"{name} must be a non-empty shell word, got {value!r}")
    self_check = SELF_CHECK_SCRIPT.read_text().rstrip("\n")
    if _HEREDOC_END in self_check.splitlines():
        raise ValueError(f"{SELF_CHECK_SCRIPT.name} must not contain a line {_HEREDOC_END}")
    return "\n".join(
        [
            *(f"{name}={value}" for name, value in settings.items()),
            f"SELF_CHECK=$(cat <<'{_HEREDOC_END}'",
            self_check,
            _HEREDOC_END,
            ")",
            BOOT_SCRIPT.read_text(),
        ]
    )
