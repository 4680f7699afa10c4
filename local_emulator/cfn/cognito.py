"""``AWS::Cognito::UserPool`` and ``AWS::Cognito::UserPoolClient`` (patch 24), in moto's Cognito backend
with the template's settings (CloudFormation spells them as the API does) and its TOTP MFA."""

from __future__ import annotations

from moto.cognitoidp.models import cognitoidp_backends

from .base import AddedResource


class UserPool(AddedResource):
    TYPE = "AWS::Cognito::UserPool"
    NAME_PROPERTY = "UserPoolName"
    ATTRIBUTES = ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> UserPool:
        backend = cognitoidp_backends[account_id][region_name]
        settings = {key: value for key, value in properties.items() if key != "UserPoolName"}
        pool = backend.create_user_pool(name, settings)
        if "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", []):  # what SetUserPoolMfaConfig would set
            pool.token_mfa_config = {"Enabled": True}
        provider = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
        attributes = {
            "Arn": pool.arn,
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
            "UserPoolId": pool.id,
        }
        return cls(pool.id, attributes, lambda: backend.user_pools.pop(pool.id, None))


class UserPoolClient(AddedResource):
    TYPE = "AWS::Cognito::UserPoolClient"
    ATTRIBUTES = ("ClientId", "Name")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> UserPoolClient:
        backend = cognitoidp_backends[account_id][region_name]
        settings = {k: v for k, v in properties.items() if k not in ("UserPoolId", "GenerateSecret")}
        pool_id = properties["UserPoolId"]
        client = backend.create_user_pool_client(
            pool_id, str(properties.get("GenerateSecret", False)).lower() == "true", settings
        )
        pool = backend.user_pools[pool_id]
        return cls(
            client.id,
            {"ClientId": client.id, "Name": properties.get("ClientName")},
            lambda: pool.clients.pop(client.id, None),
        )


MODELS = (UserPool, UserPoolClient)
