"""The cost estimator on the app's real synthesized templates: no resource type slips through unpriced, and the
spec's cost choices are shown with their alternatives. Expected amounts come from the config and the price table."""

from __future__ import annotations

import pytest

from tradai_cdk.config import ENVIRONMENTS, config_for
from tradai_cdk.config.canonical import COST_ASSUMPTIONS
from tradai_cdk.cost import estimate_assembly
from tradai_cdk.cost.prices import load_prices
from tradai_cdk.cost.resources import FREE, PRICED
from tradai_cdk.cost.usage import USAGE

H = 730


@pytest.fixture(scope="module")
def prices():
    return load_prices()


@pytest.fixture(scope="module")
def estimates(synthesized, prices):
    """Each environment's estimate from the session's synthesized assembly (its stage directories' parent)."""
    outdir = synthesized[("dev", "persistent")].template_path.parents[1]
    return estimate_assembly(outdir, prices)


def test_every_resource_type_is_priced_usage_priced_or_free(synthesized):
    types = {body["Type"] for stack in synthesized.values() for body in stack.json["Resources"].values()}
    unclassified = types - set(PRICED) - set(USAGE) - set(FREE)
    assert not unclassified, f"add these types to PRICED, USAGE or FREE in tradai_cdk/cost: {sorted(unclassified)}"


def test_every_resource_is_costed(estimates):
    assert set(estimates) == set(ENVIRONMENTS)
    for env, estimate in estimates.items():
        assert estimate.not_costed == (), env
        assert estimate.total > 0


def test_nat_instance_is_shown_next_to_a_nat_gateway_in_every_environment(estimates, prices):
    for env, estimate in estimates.items():
        nat = next(c for c in estimate.comparisons if c.chosen.startswith("NAT instance"))
        instance_type = config_for(env).nat.instance_type
        assert instance_type in nat.chosen
        egress_gb = COST_ASSUMPTIONS[env].nat_egress_gb_per_month
        assert nat.alternative_monthly == pytest.approx(
            H * prices["vpc.nat_gateway"] + egress_gb * prices["vpc.nat_gateway.data"])
        assert nat.chosen_monthly >= H * prices[f"ec2.{instance_type}"]
        assert nat.saving > 25  # the spec's ~$32 a month


def test_consolidated_host_is_shown_next_to_fargate_where_it_runs(estimates, prices):
    for env, estimate in estimates.items():
        hosts = [c for c in estimate.comparisons if c.chosen.startswith("ECS host")]
        profile = config_for(env).profile
        if profile.consolidated_host is None:
            assert hosts == []
            continue
        (host,) = hosts
        config = config_for(env)
        assert profile.consolidated_host.instance_type in host.chosen
        fargate = sum(profile.service_desired_count * H * (s.cpu / 1024 * prices["fargate.x86_64.vcpu"]
                                                          + s.memory_mib / 1024 * prices["fargate.x86_64.memory"])
                      for s in config.services)
        assert host.alternative_monthly == pytest.approx(fargate)
        assert host.saving > 0


def test_prod_database_is_costed_multi_az_from_its_template(estimates, prices):
    rds = config_for("prod").rds
    line = next(line for line in estimates["prod"].lines if line.kind == "AWS::RDS::DBInstance")
    assert rds.multi_az
    assert line.monthly == pytest.approx(
        2 * H * prices[f"rds.{rds.instance_class}"] + 2 * rds.allocated_storage_gib * prices["rds.gp3"]
        + rds.backup_retention_days * COST_ASSUMPTIONS["prod"].rds_changed_gib_per_day * prices["rds.backup"])
