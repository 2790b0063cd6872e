"""prefect.yaml and the automation file are what operators deploy: they must parse and name
every flow, schedule and trigger the design promises."""
from __future__ import annotations

import importlib

import yaml
from prefect.automations import AutomationCore
from prefect.events import DeploymentEventTrigger

from flows import events
from sources.registry import FAMILIES
from tests.conftest import REPO


def deployments() -> dict:
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"]: d for d in doc["deployments"]}


def test_every_entrypoint_is_a_flow():
    for name, dep in deployments().items():
        path, func = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert hasattr(getattr(module, func), "fn"), name   # a Prefect flow


def test_nightly_ingests_per_family_in_stockholm_outside_the_dst_window():
    deps = deployments()
    for family in FAMILIES:
        dep = deps[f"ingest-{family}"]
        assert dep["parameters"] == {"family": family}
        [schedule] = dep["schedules"]
        assert schedule["timezone"] == "Europe/Stockholm"
        minute, hour = schedule["cron"].split()[:2]
        assert not 2 <= int(hour) < 3
    assert deps["ingest-organisations"]["schedules"][0]["cron"].endswith(" 1")   # Mondays


def test_event_triggers_chain_marts_and_report_and_queue_instead_of_cancelling():
    deps = deployments()
    marts = DeploymentEventTrigger.model_validate(deps["build-marts"]["triggers"][0])
    assert marts.expect == {events.DATASET_UPDATED}
    assert marts.match.model_dump() == {"prefect.resource.id": "krafter.dataset.*"}
    report = DeploymentEventTrigger.model_validate(deps["publish-report"]["triggers"][0])
    assert report.expect == {events.MARTS_UPDATED}
    for dep in deps.values():
        assert dep["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}


def test_rejected_dataset_automation_parses():
    doc = yaml.safe_load((REPO / "automations" / "notify-rejected.yaml").read_text())
    automation = AutomationCore.model_validate(doc)
    assert automation.trigger.expect == {events.DATASET_REJECTED}
