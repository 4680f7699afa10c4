"""``AddedResource``: the CloudFormation side of a type created in moto's own backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel


class AddedResource(CloudFormationModel):
    """A subclass sets ``TYPE`` (and ``NAME_PROPERTY`` if CloudFormation names it) and implements
    ``create``; ``Ref`` is the physical id, ``Fn::GetAtt`` reads ``attributes``; ``undo`` deletes it."""

    TYPE = ""
    NAME_PROPERTY = ""
    ATTRIBUTES: tuple[str, ...] = ()

    def __init__(
        self, physical_id: str, attributes: dict[str, Any] | None = None, undo: Callable[[], Any] | None = None
    ):
        self.physical_id, self.attributes, self.undo = physical_id, attributes or {}, undo

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.ATTRIBUTES and attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> AddedResource:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ) -> AddedResource:
        return cls.create(resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ) -> AddedResource:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name) -> None:
        """moto calls ``delete`` on the instance instead."""

    def delete(self, account_id: str, region_name: str) -> None:
        if self.undo is not None:
            self.undo()


def then_apply(model: type, apply: Callable[[Any, dict, str, str], None]) -> classmethod:
    """``model``'s CloudFormation creation followed by ``apply(resource, properties, account, region)``."""
    create = model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_and_apply(cls, /, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        resource = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        apply(resource, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return resource

    return classmethod(create_and_apply)
