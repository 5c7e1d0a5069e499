"""deploy/k8s validated offline: every manifest against its schema, and against what the code says.

Core kinds are validated with kubernetes-validate (the Kubernetes JSON schemas ship inside the package), in
strict mode: an unknown or misspelt field fails. Strimzi's custom resources are validated against the
openAPIV3Schema of the CRDs vendored in deploy/k8s/validation/, closed the same way (an object schema that
lists its properties and does not preserve unknown fields takes no others, as the API server's pruning would
silently drop them). Then what the schemas cannot know: probes on the right paths and ports, limits and a
non-root read-only container everywhere, replica bounds against the topics' partitions, topics equal to
shared/topics.py, settings that shared/settings.py really reads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from griddispatch.kafka_access import strimzi
from shared import settings as settings_module
from shared.settings import PROJECT_ROOT, KafkaSettings
from shared.topics import Topics

K8S = PROJECT_ROOT / "deploy" / "k8s"
CRDS = K8S / "validation" / "strimzi-0.45.2"
KUBERNETES_VERSION = "1.33"  # oldest Kubernetes the manifests are written for (autoscaling/v2, policy/v1)
SERVICES = {"intake": 8000, "dispatch": 8001, "escalation": 8002, "notify": 8003}
TEMPLATES = {K8S / "base" / "secret.template.yaml"}  # applied by hand, not by kustomize
PREFIX = "griddispatch"
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the Kafka CRD is half a megabyte


def _kustomized(directory: Path) -> Iterator[Path]:
    """The files a kustomization applies, following directories that hold their own kustomization."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    for entry in kustomization["resources"]:
        path = directory / entry
        assert path.exists(), f"{directory / 'kustomization.yaml'} names {entry}, which does not exist"
        if path.is_dir():
            yield from _kustomized(path)
        else:
            yield path


def applied_files() -> list[Path]:
    return list(_kustomized(K8S))


@cache
def documents() -> list[tuple[str, dict[str, Any]]]:
    """(file, object) for every object kustomize applies and the Secret template."""
    found = []
    for path in [*applied_files(), *sorted(TEMPLATES)]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((str(path.relative_to(K8S)), doc))
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def _close(schema: Any) -> Any:
    """The schema with every listed-properties object closed to other fields (what pruning would drop)."""
    if isinstance(schema, dict):
        closed = {key: _close(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    return schema


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> a validator for the served versions of the vendored Strimzi CRDs."""
    validators = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=FAST_LOADER)  # FAST_LOADER is a safe loader
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schema = _close(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by the API server
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def known_settings() -> set[str]:
    """Every GRIDDISPATCH_* variable shared/settings.py reads."""
    names = set()
    for value in vars(settings_module).values():
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
            prefix = value.model_config.get("env_prefix", "")
            for field_name, field in value.model_fields.items():
                names.add((field.alias or f"{prefix}{field_name}").upper())
    return names


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# --- every object against its schema -------------------------------------------------------------------------


def test_there_is_something_to_validate() -> None:
    kinds = {doc["kind"] for _, doc in documents()}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"} <= kinds


@pytest.mark.parametrize(
    ("where", "doc"), documents(), ids=[f"{w}:{d['kind']}/{d['metadata']['name']}" for w, d in documents()]
)
def test_object_is_valid_against_its_schema(where: str, doc: dict[str, Any]) -> None:
    validator = crd_validators().get((doc["apiVersion"], doc["kind"]))
    if validator is not None:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    else:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where}: {list(exc.absolute_path)}: {exc.message}")
    assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "griddispatch"


def test_the_schema_check_catches_a_misspelt_field() -> None:
    _, deployment = next((w, d) for w, d in documents() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"httpGet": {"path": "/healthz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    topic = copy.deepcopy(of_kind("KafkaTopic")["griddispatch-reports"])
    topic["spec"]["replica"] = 3
    assert list(crd_validators()[(topic["apiVersion"], "KafkaTopic")].iter_errors(topic))
    user = copy.deepcopy(of_kind("KafkaUser")["griddispatch-dispatch"])
    user["spec"]["authorization"]["acls"][0]["resource"]["patternType"] = "prefixed"  # kafka-acls' word, not Strimzi's
    assert list(crd_validators()[(user["apiVersion"], "KafkaUser")].iter_errors(user))
    topic = copy.deepcopy(of_kind("KafkaTopic")["griddispatch-reports"])
    topic["spec"]["partitions"] = "six"
    assert list(crd_validators()[(topic["apiVersion"], "KafkaTopic")].iter_errors(topic))


def test_every_manifest_file_is_applied_or_a_template() -> None:
    on_disk = {p for p in K8S.rglob("*.yaml") if "validation" not in p.parts and p.name != "kustomization.yaml"}
    assert on_disk - set(applied_files()) == TEMPLATES


# --- the services ---------------------------------------------------------------------------------------------


def test_each_service_runs_itself_on_its_port_with_probes_metrics_and_limits() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, port in SERVICES.items():
        pod = deployments[name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["args"] == ["serve", name, "--port", str(port)]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (str(port), "/metrics")
        env = {e["name"]: e for e in container["env"]}
        assert env["GRIDDISPATCH_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "griddispatch-db", "key": "url"}
        assert env["GRIDDISPATCH_SERVICE_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_every_container_is_bounded_and_unprivileged() -> None:
    pods = [d["spec"]["template"] for d in of_kind("Deployment").values()]
    pods += [j["spec"]["template"] for j in of_kind("Job").values()]
    for pod in pods:
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert {"cpu", "memory"} <= resources["limits"].keys()
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_dispatch_writes_faust_data_only_to_a_volume() -> None:
    (container,) = of_kind("Deployment")["dispatch"]["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert container["workingDir"] in mounts  # faust's data directory is made in the working directory


def test_settings_named_anywhere_are_settings_the_code_reads() -> None:
    known = known_settings()
    named = set(of_kind("ConfigMap")["griddispatch"]["data"])
    for deployment in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        named |= {e["name"] for c in containers(deployment) for e in c.get("env", [])}
    assert named, "no settings named"
    assert not named - known, f"not read by shared/settings.py: {named - known}"


def test_secrets_are_referenced_not_written_into_the_config() -> None:
    config = of_kind("ConfigMap")["griddispatch"]["data"]
    assert "GRIDDISPATCH_DB_URL" not in config
    assert not any("KEY" in k or "PASSWORD" in k for k in config)
    kafka = KafkaSettings(
        bootstrap_servers=config["GRIDDISPATCH_KAFKA_BOOTSTRAP_SERVERS"],
        replication_factor=int(config["GRIDDISPATCH_KAFKA_REPLICATION_FACTOR"]),
        min_insync_replicas=int(config["GRIDDISPATCH_KAFKA_MIN_INSYNC_REPLICAS"]),
    )
    assert kafka.bootstrap_servers.startswith(f"{next(iter(of_kind('Kafka')))}-kafka-bootstrap.")


# --- scaling --------------------------------------------------------------------------------------------------


def _partitions(*names: str) -> int:
    specs = {s.name.rsplit(".", 1)[-1]: s.partitions for s in Topics(PREFIX).core_specs()}
    return min(specs[n] for n in names)


def test_consumers_scale_no_further_than_their_partitions() -> None:
    hpas = of_kind("HorizontalPodAutoscaler")
    assert hpas["dispatch"]["spec"]["maxReplicas"] <= _partitions("reports", "actions", "deadlines")
    assert hpas["notify"]["spec"]["maxReplicas"] <= _partitions("case-events", "assignments", "deadlines")
    assert "escalation" not in hpas  # deadline firing is database-bound: fixed replicas, scaled by hand
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_every_service_survives_a_drain() -> None:
    budgets = of_kind("PodDisruptionBudget")
    hpas = of_kind("HorizontalPodAutoscaler")
    for name, deployment in of_kind("Deployment").items():
        replicas = hpas[name]["spec"]["minReplicas"] if name in hpas else deployment["spec"]["replicas"]
        assert replicas >= 2, f"{name}: one replica cannot survive a drain"
        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        assert 1 <= budget["minAvailable"] < replicas  # a drain can always move one pod


def test_http_services_are_reachable_and_workers_are_not() -> None:
    services = of_kind("Service")
    assert set(services) == {"intake", "notify"}
    for name, service in services.items():
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": name}
        assert service["spec"]["ports"][0]["targetPort"] == "http"


# --- Kafka ----------------------------------------------------------------------------------------------------


def test_kafka_is_three_kraft_nodes_replicating_three_ways() -> None:
    (kafka,) = of_kind("Kafka").values()
    (pool,) = of_kind("KafkaNodePool").values()
    assert kafka["metadata"]["annotations"] == {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == 3
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == 2
    assert config["auto.create.topics.enable"] is False
    assert kafka["spec"]["kafka"]["version"].startswith("3.9.")  # the broker line the project tests against


def test_kafka_topics_are_the_registry_of_shared_topics() -> None:
    from services.dispatch.app import create_app

    leader = create_app(KafkaSettings(topic_prefix=PREFIX))._leader_assignor._leader_topic_name
    declared = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic").values()}
    expected = {s.name: s for s in Topics(PREFIX).core_specs()}
    assert set(declared) == set(expected) | {leader}
    cluster = next(iter(of_kind("Kafka")))
    for name, topic in declared.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
        if name in expected:
            spec = expected[name]
            assert topic["spec"]["partitions"] == spec.partitions, name
            assert topic["spec"]["config"]["retention.ms"] == spec.retention_ms, name
            assert topic["spec"]["config"]["cleanup.policy"] == spec.cleanup_policy, name


# --- who may do what on Kafka ---------------------------------------------------------------------------------


def test_kafka_users_are_the_grant_definitions() -> None:
    """users.yaml is what the grants the CLI applies generate, for the sample district's departments."""
    registry = PROJECT_ROOT / "data" / "sample-district"
    expected = strimzi.users_yaml(
        strimzi.registry_departments(registry), Topics(PREFIX), source="sample-district/departments.yaml"
    )
    committed = (K8S / "kafka" / "users.yaml").read_text()
    assert committed == expected, (
        "regenerate: griddispatch kafka-access strimzi --registry data/sample-district --out deploy/k8s/kafka/users.yaml"
    )


def test_kafka_authorizes_and_every_service_signs_in_as_its_own_user() -> None:
    kafka = next(iter(of_kind("Kafka").values()))["spec"]["kafka"]
    assert kafka["authorization"]["type"] == "simple"
    assert "allow.everyone.if.no.acl.found" not in kafka["config"]  # Kafka's default, false
    listeners = {listener["name"]: listener for listener in kafka["listeners"]}
    assert listeners["plain"]["authentication"]["type"] == "scram-sha-512"
    assert listeners["tls"]["authentication"]["type"] == "tls"
    config = of_kind("ConfigMap")["griddispatch"]["data"]
    assert config["GRIDDISPATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert config["GRIDDISPATCH_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    users = of_kind("KafkaUser")
    signed_in = {}
    for deployment in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        for container in containers(deployment):
            env = {e["name"]: e for e in container.get("env", [])}
            if container.get("args", [""])[0] == "db":
                continue  # migrations only: no Kafka
            username = env["GRIDDISPATCH_KAFKA_SASL_USERNAME"]["value"]
            secret = env["GRIDDISPATCH_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert secret == {"name": username, "key": "password"}  # the Secret Strimzi writes for that user
            assert users[username]["spec"]["authentication"]["type"] == "scram-sha-512"
            signed_in[deployment["metadata"]["name"]] = username
    assert {signed_in[s] for s in SERVICES} == {f"{PREFIX}-{s}" for s in SERVICES}
    for name, user in users.items():
        if not name.startswith(f"{PREFIX}-"):
            assert user["spec"]["authentication"]["type"] == "tls"  # department systems: the tls listener
