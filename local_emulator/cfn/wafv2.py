"""``AWS::WAFv2::WebACL``, ``::WebACLAssociation`` and ``::LoggingConfiguration`` (patch 37), in moto's WAFv2
backend as CreateWebACL, AssociateWebACL and PutLoggingConfiguration keep them (CloudFormation spells their
properties as the API does)."""

from __future__ import annotations

from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

from .base import AddedResource

_WEB_ACL_SETTINGS = ("AssociationConfig", "CaptchaConfig", "ChallengeConfig", "CustomResponseBodies", "TokenDomains")


class WebACL(AddedResource):
    """``Ref`` is ``name|id|scope``, as CloudFormation's."""

    TYPE = "AWS::WAFv2::WebACL"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Arn", "Capacity", "Id", "LabelNamespace")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> WebACL:
        scope = properties["Scope"]
        backend = wafv2_backends[account_id][GLOBAL_REGION if scope == "CLOUDFRONT" else region_name]
        rules = [{**rule, "Priority": int(rule["Priority"])} for rule in properties.get("Rules", [])]
        settings = [properties.get(key) for key in _WEB_ACL_SETTINGS]
        acl = backend.create_web_acl(
            name,
            properties["VisibilityConfig"],
            properties["DefaultAction"],
            scope,
            properties.get("Description"),  # type: ignore[arg-type]
            properties.get("Tags", []),
            rules,
            *settings,
        )
        attributes = {"Arn": acl.arn, "Capacity": acl.capacity, "Id": acl.id, "LabelNamespace": acl.label_namespace}
        return cls(
            f"{name}|{acl.id}|{scope}", attributes, lambda: backend.delete_web_acl(name, scope, acl.id, acl.lock_token)
        )


class WebACLAssociation(AddedResource):
    """``Ref`` is ``resource ARN|web ACL ARN``; associating an API Gateway stage also sets the stage's web ACL."""

    TYPE = "AWS::WAFv2::WebACLAssociation"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> WebACLAssociation:
        backend = wafv2_backends[account_id][region_name]
        resource_arn, acl_arn = properties["ResourceArn"], properties["WebACLArn"]
        backend.associate_web_acl(acl_arn, resource_arn)  # WAFNonexistentItemException for an unknown web ACL
        return cls(f"{resource_arn}|{acl_arn}", undo=lambda: backend.disassociate_web_acl(resource_arn))


class LoggingConfiguration(AddedResource):
    """``Ref`` is the web ACL's ARN."""

    TYPE = "AWS::WAFv2::LoggingConfiguration"
    ATTRIBUTES = ("ManagedByFirewallManager",)

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> LoggingConfiguration:
        backend = wafv2_backends[account_id][region_name]
        arn = properties["ResourceArn"]
        config = backend.put_logging_configuration(
            arn,
            properties["LogDestinationConfigs"],
            properties.get("RedactedFields"),
            False,
            properties.get("LoggingFilter"),  # type: ignore[arg-type]
        )
        return cls(
            arn,
            {"ManagedByFirewallManager": config.managed_by_firewall_manager},
            lambda: backend.delete_logging_configuration(arn),
        )


MODELS = (WebACL, WebACLAssociation, LoggingConfiguration)
