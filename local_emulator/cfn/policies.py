"""Resource policies (patch 21): ``AWS::SQS::QueuePolicy``, ``AWS::S3::BucketPolicy`` and
``AWS::SNS::TopicPolicy`` set the policy document on each queue, bucket or topic in moto's backend.
moto's S3 evaluates a bucket policy without its conditions, so a deny-without-TLS statement (every bucket's,
the CDK staging bucket's too) denied every request over the emulator's plain HTTP: as nowhere else in the
emulator, bucket policies are kept and answered but not enforced."""

from __future__ import annotations

import json

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket, s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from .base import AddedResource


class QueuePolicy(AddedResource):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> QueuePolicy:
        backend = sqs_backends[account_id][region_name]
        queues = [url.rstrip("/").split("/")[-1] for url in properties["Queues"]]
        for queue in queues:
            backend.set_queue_attributes(queue, {"Policy": json.dumps(properties["PolicyDocument"])})

        def clear() -> None:
            for queue in queues:
                if queue in backend.queues:
                    backend.set_queue_attributes(queue, {"Policy": ""})

        return cls(name, undo=clear)


class BucketPolicy(AddedResource):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> BucketPolicy:
        backend, bucket = s3_backends[account_id]["aws"], properties["Bucket"]
        backend.put_bucket_policy(bucket, json.dumps(properties["PolicyDocument"]).encode())

        def clear() -> None:
            if bucket in backend.buckets:
                backend.delete_bucket_policy(bucket)

        return cls(bucket, undo=clear)


class TopicPolicy(AddedResource):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> TopicPolicy:
        backend = sns_backends[account_id][region_name]
        for topic in properties["Topics"]:
            backend.get_topic(topic).policy = json.dumps(properties["PolicyDocument"])
        return cls(name)


MODELS = (QueuePolicy, BucketPolicy, TopicPolicy)


def _not_enforced(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    return PermissionResult.NEUTRAL


PATCHES = ((FakeBucket, "get_permission", _not_enforced),)
