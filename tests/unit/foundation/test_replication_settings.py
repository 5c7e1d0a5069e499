"""Replication knobs: settings, topic configs, and the broker configs of the single node and of a cluster node."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from griddispatch.infra import kafka
from griddispatch.infra.cluster import Cluster
from shared.settings import KafkaSettings, LocalInfraSettings
from shared.topics import Topics


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_replication_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDDISPATCH_KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS", "2")
    settings = KafkaSettings()
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)


def test_defaults_leave_min_insync_to_the_broker() -> None:
    settings = KafkaSettings()
    assert settings.replication_factor == 1
    assert settings.min_insync_replicas is None
    spec = Topics("p").core_specs()[0]
    assert "min.insync.replicas" not in spec.configs(min_insync_replicas=settings.min_insync_replicas)


def test_min_insync_above_replication_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError) as error:
        KafkaSettings(replication_factor=2, min_insync_replicas=3)
    assert "GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS (3)" in str(error.value)
    assert "GRIDDISPATCH_KAFKA_REPLICATION_FACTOR (2)" in str(error.value)


def test_topic_configs_carry_min_insync_when_set() -> None:
    for spec in Topics("p").core_specs():
        configs = spec.configs(min_insync_replicas=2)
        assert configs["min.insync.replicas"] == "2"
        assert configs["retention.ms"] == str(spec.retention_ms)


def test_single_node_config_is_unreplicated(tmp_path: Path) -> None:
    local = LocalInfraSettings(dir=tmp_path, kafka_port=29500, kafka_controller_port=29501)
    props = _props(kafka.server_properties(kafka.NodeConfig.single(local), kafka.KafkaLayout.of(local)))
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29501"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29500,CONTROLLER://127.0.0.1:29501"
    for key in ("default.replication.factor", "offsets.topic.replication.factor", "min.insync.replicas"):
        assert props[key] == "1"


def test_cluster_nodes_share_a_quorum_and_replicate_three_ways(tmp_path: Path) -> None:
    cluster = Cluster(LocalInfraSettings(dir=tmp_path))
    assert cluster.bootstrap_servers == "127.0.0.1:29401,127.0.0.1:29403,127.0.0.1:29405"
    configs = [_props(kafka.server_properties(cluster.node(n), cluster.layout(n))) for n in cluster.node_ids]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert {c["controller.quorum.voters"] for c in configs} == {"1@127.0.0.1:29402,2@127.0.0.1:29404,3@127.0.0.1:29406"}
    assert configs[1]["listeners"] == "PLAINTEXT://127.0.0.1:29403,CONTROLLER://127.0.0.1:29404"
    assert len({c["log.dirs"] for c in configs}) == 3  # each node its own storage
    assert {cluster.layout(n).cluster_id_file for n in cluster.node_ids} == {cluster.home / "cluster-id"}
    for c in configs:
        assert c["default.replication.factor"] == "3"
        assert c["offsets.topic.replication.factor"] == "3"
        assert c["transaction.state.log.replication.factor"] == "3"
        assert c["transaction.state.log.min.isr"] == "2"
        assert c["min.insync.replicas"] == "2"
    env = cluster.service_env()
    assert env["GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS"] == cluster.bootstrap_servers
    assert (env["GRIDDISPATCH_KAFKA_REPLICATION_FACTOR"], env["GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
