"""Every stack: Lambda functions named after a config entry match its runtime, memory, timeout, VPC, and
log to their own encrypted log group with the environment's retention."""

from __future__ import annotations

from .model import CheckContext, Findings, StackView
from .persistent import check_log_groups


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    specs = {ctx.cfg.function_name(spec.name): spec for spec in ctx.cfg.lambdas}
    client = ctx.client("lambda")
    checked = []
    for fn in view.of_type("AWS::Lambda::Function"):
        spec = specs.get(fn.physical_id)
        if spec is None:
            continue
        checked.append(fn.physical_id)
        conf = client.get_function_configuration(FunctionName=fn.physical_id)
        findings.expect(fn.logical_id, "runtime", ctx.cfg.lambda_runtime, conf["Runtime"])
        findings.expect(fn.logical_id, "memory MiB", spec.memory_mib, conf["MemorySize"])
        findings.expect(fn.logical_id, "timeout s", spec.timeout_seconds, conf["Timeout"])
        findings.expect(fn.logical_id, "in VPC", spec.in_vpc, bool(conf.get("VpcConfig", {}).get("SubnetIds")))
    check_log_groups(view, ctx, findings, [f"/aws/lambda/{name}" for name in checked])
