"""Spec 4.3 (WAF) and 10 (WAF and CloudTrail per environment) on the edge stack."""

from __future__ import annotations

import pytest

import spec
from cfn import ref, resources

# Spec 4.3, row by row: rule -> (priority, action, rate limit per 5 minutes per IP)
WAF_RULES = {
    "RateLimitRule": (1, "Block", 100),
    "AWSManagedRulesCommonRuleSet": (2, "Block", None),
    "AWSManagedRulesKnownBadInputsRuleSet": (3, "Block", None),
    "AWSManagedRulesSQLiRuleSet": (4, "Block", None),
}
# Spec 10: "Optional" in dev is a config switch, off by default.
WAF_ON = {"dev": False, "staging": True, "prod": True}
CLOUDTRAIL_ON = {"dev": False, "staging": True, "prod": True}


def _edge(synthesized, env) -> dict:
    return synthesized[(env, "edge")].json


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_web_acl_has_the_spec_rules_in_order_all_blocking(env, synthesized):
    acls = resources(_edge(synthesized, env), "AWS::WAFv2::WebACL")
    assert bool(acls) is WAF_ON[env]
    for acl in acls.values():
        assert (acl["Scope"], acl["DefaultAction"]) == ("REGIONAL", {"Allow": {}})
        rules = {rule["Name"]: rule for rule in acl["Rules"]}
        assert set(rules) == set(WAF_RULES)
        for name, (priority, action, rate) in WAF_RULES.items():
            rule = rules[name]
            assert rule["Priority"] == priority
            if rate is not None:
                assert rule["Action"] == {"Block": {}}
                assert rule["Statement"]["RateBasedStatement"] == {
                    "Limit": rate, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}
            else:
                assert rule["OverrideAction"] == {"None": {}}  # the managed group's own rules block
                assert rule["Statement"]["ManagedRuleGroupStatement"] == {"VendorName": "AWS", "Name": name}


@pytest.mark.parametrize("env", [e for e in spec.ENVIRONMENTS if WAF_ON[e]])
def test_web_acl_protects_the_api_stage_logs_and_alarms_the_alerts_topic(env, synthesized):
    template = _edge(synthesized, env)
    (acl_id,) = resources(template, "AWS::WAFv2::WebACL")
    (association,) = resources(template, "AWS::WAFv2::WebACLAssociation").values()
    assert ref(association["WebACLArn"]) == acl_id
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")
    assert stage_id in str(association["ResourceArn"])
    (logging,) = resources(template, "AWS::WAFv2::LoggingConfiguration").values()
    assert ref(logging["ResourceArn"]) == acl_id
    groups = {lid: g for lid, g in resources(template, "AWS::Logs::LogGroup").items()
              if str(g["LogGroupName"]).startswith("aws-waf-logs-")}
    assert [g["RetentionInDays"] for g in groups.values()] == [spec.LOG_RETENTION_DAYS[env]]
    (destination,) = logging["LogDestinationConfigs"]
    assert destination["Fn::Join"][1][-1] == {"Ref": next(iter(groups))}  # the log group's ARN, no ":*"
    (alarm,) = [a for a in resources(template, "AWS::CloudWatch::Alarm").values()
                if a.get("MetricName") == "BlockedRequests"]
    assert alarm["Namespace"] == "AWS/WAFV2"
    assert "Alerts" in str(alarm["AlarmActions"])  # the foundation stack's alerts topic


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_cloudtrail_writes_validated_logs_to_the_logs_bucket(env, synthesized):
    trails = resources(_edge(synthesized, env), "AWS::CloudTrail::Trail")
    assert bool(trails) is CLOUDTRAIL_ON[env]
    for trail in trails.values():
        assert trail["S3BucketName"] == f"tradai-logs-{env}"
        assert trail["S3KeyPrefix"] == "cloudtrail"
        assert trail["EnableLogFileValidation"] is True
        assert trail["IsLogging"] is True and trail["IsMultiRegionTrail"] is True


@pytest.mark.parametrize("env", ["staging", "prod"])  # spec 10: CloudTrail in staging and prod
def test_trail_also_delivers_to_its_own_log_group_with_the_environment_retention(env, synthesized):
    template = synthesized[(env, "edge")].json
    (trail,) = resources(template, "AWS::CloudTrail::Trail").values()
    groups = resources(template, "AWS::Logs::LogGroup")
    group_id = trail["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
    assert groups[group_id]["LogGroupName"] == f"/aws/cloudtrail/tradai-trail-{env}"
    assert groups[group_id]["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]
    role_id = trail["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]
    assert resources(template, "AWS::IAM::Role")[role_id]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"] == {"Service": "cloudtrail.amazonaws.com"}
