"""Every stack: each customer key is enabled, rotates yearly and is named by one alias the config derives
(the alerts topic's, the database's, or the stack's log key); each alias targets a key of its own stack."""

from __future__ import annotations

from .model import CheckContext, Findings, StackView


def expected_aliases(view: StackView, ctx: CheckContext) -> set[str]:
    name = ctx.cfg.naming.name
    return {f"alias/{name('alerts')}", f"alias/{name('db')}", f"alias/{view.stack_name}-logs"}


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    keys = {k.physical_id: k for k in view.of_type("AWS::KMS::Key")}
    if not keys:
        return
    kms, expected = ctx.client("kms"), expected_aliases(view, ctx)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    named: dict[str | None, list[str]] = {}
    for alias in view.of_type("AWS::KMS::Alias"):
        target = aliases.get(alias.physical_id)
        findings.holds(
            alias.logical_id,
            f"{alias.physical_id} is a config-derived alias of a key of {view.stack_name}",
            alias.physical_id in expected and target in keys,
            f"{alias.physical_id} -> {target}",
        )
        named.setdefault(target, []).append(alias.physical_id)
    for key_id, key in keys.items():
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        findings.expect(key.logical_id, "enabled, rotating", (True, True), (metadata["Enabled"], rotation))
        findings.expect(key.logical_id, "aliases", 1, len([a for a in named.get(key_id, []) if a in expected]))
