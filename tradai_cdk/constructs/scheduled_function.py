"""A function an EventBridge rule invokes at a fixed rate (spec 7's "EventBridge (N min)" trigger)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_events as events, aws_events_targets as targets
from constructs import Construct

from .tradai_function import FunctionProps, TradaiFunction, VpcPlacement


class ScheduledFunction(Construct):
    """``TradaiFunction`` plus a rate rule. A failed run is not retried: the next scheduled run checks again."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: FunctionProps,
        environment: Mapping[str, str],
        every: cdk.Duration,
        placement: VpcPlacement | None = None,
    ):
        super().__init__(scope, construct_id)
        self.tradai_function = TradaiFunction(
            self, "Handler", props=props, environment=environment, placement=placement, async_retries=0
        )
        self.function, self.role = self.tradai_function.function, self.tradai_function.role
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(every),
            description=f"Runs {props.function_name} every {every.to_human_string()}",
        )
        self.rule.add_target(targets.LambdaFunction(self.function, retry_attempts=0))
