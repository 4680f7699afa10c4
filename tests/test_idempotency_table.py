"""The synthesized idempotency table works with Powertools' idempotency utility (moto)."""

from types import SimpleNamespace

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from moto import mock_aws

from cfn import resources

# The attribute names our handlers pass to DynamoDBPersistenceLayer (spec 3.2 row 2).
KEY_ATTR, EXPIRY_ATTR = "idempotency_key", "expiration"


@pytest.fixture
def idempotency_table(synthesized, monkeypatch):
    """The dev idempotency table, created in moto exactly as the template declares it."""
    for key, value in {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    (table,) = [t for t in resources(synthesized[("dev", "persistent")].json, "AWS::DynamoDB::Table").values()
                if t["TableName"] == "tradai-idempotency-dev"]
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName=table["TableName"], KeySchema=table["KeySchema"],
                            AttributeDefinitions=table["AttributeDefinitions"], BillingMode=table["BillingMode"])
        client.update_time_to_live(TableName=table["TableName"],
                                   TimeToLiveSpecification=table["TimeToLiveSpecification"])
        yield table


def test_powertools_deduplicates_with_the_tables_key_and_ttl_attribute(idempotency_table):
    assert idempotency_table["TimeToLiveSpecification"]["AttributeName"] == EXPIRY_ATTR
    layer = DynamoDBPersistenceLayer(table_name=idempotency_table["TableName"], key_attr=KEY_ATTR,
                                     expiry_attr=EXPIRY_ATTR)
    config = IdempotencyConfig()
    config.register_lambda_context(SimpleNamespace(get_remaining_time_in_millis=lambda: 30_000))
    calls = []

    @idempotent_function(data_keyword_argument="job", persistence_store=layer, config=config)
    def submit(job: dict) -> dict:
        calls.append(job)
        return {"accepted": job["job_id"]}

    first = submit(job={"job_id": "bt-42", "strategy": "PascalStrategy"})
    second = submit(job={"job_id": "bt-42", "strategy": "PascalStrategy"})
    assert first == second == {"accepted": "bt-42"}
    assert len(calls) == 1
    (item,) = boto3.client("dynamodb").scan(TableName=idempotency_table["TableName"])["Items"]
    assert KEY_ATTR in item and EXPIRY_ATTR in item
    assert item["status"]["S"] == "COMPLETED"
