"""The Control Tower plugin runs every rule that can apply to the app and skips only rules about absent types."""

from __future__ import annotations

from tradai_cdk.control_tower import inapplicable_rules, rule_types, template_types


def test_every_bundled_rule_file_names_the_resource_types_it_checks():
    rules = rule_types()
    assert len(rules) == 237  # cdk-validator-cfnguard 0.0.62's Control Tower rules
    assert all(types for types in rules.values())
    assert "AWS::S3::Bucket" in rules["ct-s3-pr-1"]


def test_only_rules_about_absent_types_are_skipped():
    skipped = set(inapplicable_rules({"AWS::S3::Bucket"}))
    rules = rule_types()
    assert {rule for rule, types in rules.items() if "AWS::S3::Bucket" in types}.isdisjoint(skipped)
    assert skipped == {rule for rule, types in rules.items() if "AWS::S3::Bucket" not in types}


def test_the_app_keeps_the_rules_for_its_own_types(synthesized):
    types = template_types(str(stack.template_path) for stack in synthesized.values())
    kept = set(rule_types()) - set(inapplicable_rules(types))
    for resource_type in ("AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::Logs::LogGroup", "AWS::ECS::TaskDefinition",
                          "AWS::Lambda::Function", "AWS::KMS::Key", "AWS::EC2::SecurityGroup"):
        assert any(resource_type in rule_types()[rule] for rule in kept), resource_type
    assert len(kept) < len(rule_types())
