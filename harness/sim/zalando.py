"""The simulated Zalando postgres-operator (with Patroni's pod labelling) on the worker cluster.

Active only while a Deployment named ``postgres-operator`` is ready on the cluster and the CRD
``postgresqls.acid.zalan.do`` exists, like the real operator whose pod must run. For each ``postgresql``:
status ``Creating``; credentials Secrets, master and replica Services, a PodDisruptionBudget and a
StatefulSet (``pgdata`` claim template) named after the cluster, with the labels of the operator's
configuration (``application=spilo``, ``cluster-name``, ``team``; ``spilo-role`` set on running pods);
``Running`` once every pod is ready. Spec changes resync instances, image and volume size. When a
``postgresql`` disappears while the operator runs, its StatefulSet, pods, PVCs, Services, Secrets and PDB
are deleted; when the operator is gone at that moment, they stay (workshop.md §7).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.conditions import condition_is, pod_ready
from harness.kube import Kube
from harness.sim.ctl_base import (
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    has_ready_replica,
    labels_of,
    name_of,
    ns_of,
    uid_of,
)
from harness.sim.kubelet import parse_quantity

PG_API = "acid.zalan.do/v1"
PG_CRD = "postgresqls.acid.zalan.do"
OPERATOR = "postgres-operator"
DEFAULT_SPILO = "ghcr.io/zalando/spilo-18:4.1-p2"


@dataclass(frozen=True)
class OperatorConfig:
    """The part of the operator configuration the simulation honours."""

    docker_image: str = DEFAULT_SPILO
    cluster_labels: tuple[tuple[str, str], ...] = (("application", "spilo"),)
    cluster_name_label: str = "cluster-name"
    pod_role_label: str = "spilo-role"
    super_username: str = "postgres"
    replication_username: str = "standby"
    team_prefix_required: bool = False
    pdb: bool = True
    pdb_name_format: str = "postgres-{cluster}-pdb"
    secret_name_template: str = "{username}.{cluster}.credentials.{tprkind}.{tprgroup}"
    min_instances: int = -1
    max_instances: int = -1
    delete_pvcs: bool = True
    pod_service_account: str = "postgres-pod"


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() == "true"


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value)) if value is not None and str(value).strip() else default
    except ValueError:
        return default


def _labels_option(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    pairs = [p.split(":", 1) for p in str(value or "").split(",") if ":" in p]
    return tuple((k.strip(), v.strip()) for k, v in pairs) or (("application", "spilo"),)


def config_from_configmap(data: Mapping[str, Any]) -> OperatorConfig:
    """Options from the ``postgres-operator`` ConfigMap (operator v1.x and v2.x, ``CONFIG_MAP_NAME``)."""
    return OperatorConfig(
        docker_image=str(data.get("docker_image") or DEFAULT_SPILO),
        cluster_labels=_labels_option(data.get("cluster_labels")),
        cluster_name_label=str(data.get("cluster_name_label") or "cluster-name"),
        pod_role_label=str(data.get("pod_role_label") or "spilo-role"),
        super_username=str(data.get("super_username") or "postgres"),
        replication_username=str(data.get("replication_username") or "standby"),
        team_prefix_required=_flag(data.get("enable_team_id_clustername_prefix"), False),
        pdb=_flag(data.get("enable_pod_disruption_budget"), True),
        pdb_name_format=str(data.get("pdb_name_format") or "postgres-{cluster}-pdb"),
        secret_name_template=str(data.get("secret_name_template") or OperatorConfig.secret_name_template),
        min_instances=_int(data.get("min_instances"), -1),
        max_instances=_int(data.get("max_instances"), -1),
        delete_pvcs=_flag(data.get("enable_persistent_volume_claim_deletion"), True),
        pod_service_account=str(data.get("pod_service_account_name") or "postgres-pod"),
    )


def config_from_crd_object(conf: Mapping[str, Any]) -> OperatorConfig:
    """Options from an ``OperatorConfiguration`` object (``POSTGRES_OPERATOR_CONFIGURATION_OBJECT``).

    The object holds the ConfigMap's keys nested under ``configuration``, ``.kubernetes`` and ``.users``;
    flattened (empty values dropped, so they fall back to the defaults), the same reader applies.
    """
    c = conf.get("configuration") or {}
    flat = {**c, **(c.get("kubernetes") or {}), **(c.get("users") or {})}
    return config_from_configmap({k: v for k, v in flat.items() if v is not None and v != {} and v != ""})


def secret_name(config: OperatorConfig, username: str, cluster: str) -> str:
    """``<user>.<cluster>.credentials.postgresql.acid.zalan.do`` (``_`` in user names becomes ``-``)."""
    return config.secret_name_template.format(
        username=username.replace("_", "-"), cluster=cluster, tprkind="postgresql", tprgroup="acid.zalan.do",
        namespace="")


def validation_error(pg: Mapping[str, Any], config: OperatorConfig) -> str | None:
    """Why the operator refuses a cluster (status ``Invalid``), or None."""
    spec = pg.get("spec") or {}
    team = str(spec.get("teamId") or "")
    name = name_of(pg)
    if not team:
        return "teamId must be specified"
    if config.team_prefix_required and not name.lower().startswith(f"{team.lower()}-"):
        return (f"cluster name must match {{TEAM}}-{{NAME}} format. Got cluster name '{name}', "
                f"team name '{team}'")
    size = str((spec.get("volume") or {}).get("size") or "")
    if not re.fullmatch(r"(\d+(e\d+)?|\d+(\.\d+)?(e\d+)?[EPTGMK]i?)", size):
        return f"could not parse volume size {size!r}"
    return None


@dataclass
class _Known:
    uid: str
    name: str
    namespace: str
    team: str


class ZalandoOperator(Controller):
    """The postgres-operator's cluster sync loop for one cluster."""

    name = "zalando"
    tick = 0.1

    def __init__(self, ctx: SimContext, kube: Kube) -> None:
        super().__init__(ctx)
        self.kube = kube
        self.deployments = Informer(kube, "apps/v1", "Deployment", ctx)
        self.crds = Informer(kube, "apiextensions.k8s.io/v1", "CustomResourceDefinition", ctx)
        self.clusters = Informer(kube, PG_API, "postgresql", ctx, ready_check=self._crd_established)
        self.statefulsets = Informer(kube, "apps/v1", "StatefulSet", ctx)
        self.pods = Informer(kube, "v1", "Pod", ctx)
        self.pvcs = Informer(kube, "v1", "PersistentVolumeClaim", ctx)
        self.informers = [self.deployments, self.crds, self.clusters, self.statefulsets, self.pods, self.pvcs]
        self.watch(*self.informers)
        self.events = EventRecorder(kube, "postgres-operator", ctx)
        self._known: dict[str, _Known] = {}
        self._config: OperatorConfig | None = None
        self._ensured: set[tuple[str, str, str]] = set()  # (kind, namespace, name) known to exist

    def _crd_established(self) -> bool:
        crd = self.crds.get(PG_CRD)
        return crd is not None and condition_is(crd, "Established")

    def _operator(self) -> Obj | None:
        for dep in self.deployments.items():
            if name_of(dep) == OPERATOR and not deleting(dep) and has_ready_replica(dep):
                return dep
        return None

    def reconcile(self) -> None:
        operator = self._operator()
        if operator is None or not self._crd_established() or not self.clusters.synced.is_set():
            if self._known or self._config is not None:
                self.ctx.log.info("zalando: operator not running; forgetting %d clusters", len(self._known))
            # A restarted operator starts from a fresh list: what was deleted meanwhile stays orphaned.
            self._known.clear()
            self._config = None
            self._ensured.clear()
            return
        if self._config is None:
            self._config = self._read_config(operator)
        config = self._config
        current = {uid_of(pg): pg for pg in self.clusters.items()}
        for uid, known in list(self._known.items()):
            if uid not in current:
                self.safely(f"zalando delete {known.namespace}/{known.name}", self._delete, known, config)
                self._known.pop(uid, None)
        for pg in current.values():
            self.safely(f"zalando postgresql/{name_of(pg)}", self._sync, pg, config)

    def _read_config(self, operator: Obj) -> OperatorConfig:
        ns = ns_of(operator)
        containers = (((operator.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        env = {e.get("name"): e.get("value") for c in containers for e in c.get("env") or [] if "value" in e}
        if env.get("POSTGRES_OPERATOR_CONFIGURATION_OBJECT"):
            conf = self.kube.get(PG_API, "OperatorConfiguration", str(env["POSTGRES_OPERATOR_CONFIGURATION_OBJECT"]),
                                 ns)
            if conf is not None:
                return config_from_crd_object(conf)
        if env.get("CONFIG_MAP_NAME"):
            cm = self.kube.get("v1", "ConfigMap", str(env["CONFIG_MAP_NAME"]), ns)
            if cm is not None:
                return config_from_configmap(cm.get("data") or {})
        return OperatorConfig()

    # -- sync --------------------------------------------------------------------------------------

    def _labels(self, config: OperatorConfig, cluster: str, team: str) -> dict[str, str]:
        return {**dict(config.cluster_labels), config.cluster_name_label: cluster, "team": team}

    def _selector(self, config: OperatorConfig, cluster: str) -> dict[str, str]:
        return {**dict(config.cluster_labels), config.cluster_name_label: cluster}

    def _set_status(self, pg: Obj, value: str) -> None:
        if (pg.get("status") or {}).get("PostgresClusterStatus") == value:
            return
        res = self.kube.resource(PG_API, "postgresql")
        sub = "status" if "status" in (getattr(res, "subresources", None) or {}) else None
        self.clusters.remember(self.kube.patch(PG_API, "postgresql", name_of(pg),
                                               {"status": {"PostgresClusterStatus": value}}, ns_of(pg),
                                               subresource=sub))

    def _sync(self, pg: Obj, config: OperatorConfig) -> None:
        if deleting(pg):
            return
        spec = pg.get("spec") or {}
        name, ns, uid = name_of(pg), ns_of(pg) or "default", uid_of(pg)
        problem = validation_error(pg, config)
        if problem is not None:
            if (pg.get("status") or {}).get("PostgresClusterStatus") != "Invalid":
                self.events.event(pg, "Warning", "Create", f"could not create cluster: {problem}")
            self._set_status(pg, "Invalid")
            return
        team = str(spec.get("teamId"))
        first = uid not in self._known
        if first:
            self._known[uid] = _Known(uid, name, ns, team)
            status = (pg.get("status") or {}).get("PostgresClusterStatus")
            if status not in ("Running", "Updating"):
                self._set_status(pg, "Creating")
                self.events.event(pg, "Normal", "Create", "Started creation of new cluster resources")
        labels = self._labels(config, name, team)
        self._ensure_secrets(pg, config, labels)
        self._ensure_services(pg, config, labels)
        if config.pdb:
            self._ensure_pdb(pg, config, labels)
        changed = self._ensure_statefulset(pg, config, labels)
        self._resize_volumes(pg, config)
        self._label_roles(pg, config)
        sts = self.statefulsets.get(name, ns)
        want = self._instances(spec, config)
        pods = [p for p in self.pods.items(ns) if all(labels_of(p).get(k) == v
                                                     for k, v in self._selector(config, name).items())]
        ready = sum(1 for p in pods if pod_ready(p) and labels_of(p).get(config.pod_role_label))
        sts_status = (sts or {}).get("status") or {}
        if changed and not first:
            self._set_status(pg, "Updating")
            self.events.event(pg, "Normal", "Update", "Started update of the cluster resources")
        elif sts is not None and int(sts_status.get("readyReplicas") or 0) >= want and ready >= want and \
                len(pods) == want:
            if (pg.get("status") or {}).get("PostgresClusterStatus") != "Running":
                self.events.event(pg, "Normal", "Create" if first or (pg.get("status") or {}).get(
                    "PostgresClusterStatus") == "Creating" else "Update", "Pods are ready")
            self._set_status(pg, "Running")

    def _instances(self, spec: Mapping[str, Any], config: OperatorConfig) -> int:
        count = int(spec.get("numberOfInstances") or 0)
        if config.min_instances >= 0:
            count = max(count, config.min_instances)
        if config.max_instances >= 0:
            count = min(count, config.max_instances)
        return count

    def _ensure(self, obj: Obj) -> None:
        """Create ``obj`` unless this operator already made sure it exists (the operator's resource cache)."""
        key = (str(obj["kind"]), ns_of(obj) or "", name_of(obj))
        if key in self._ensured:
            return
        if self.kube.get(str(obj["apiVersion"]), str(obj["kind"]), name_of(obj), ns_of(obj)) is None:
            self.kube.create(obj, strict=False)
        self._ensured.add(key)

    def _ensure_secrets(self, pg: Obj, config: OperatorConfig, labels: dict[str, str]) -> None:
        spec = pg.get("spec") or {}
        users = [config.super_username, config.replication_username, *[str(u) for u in (spec.get("users") or {})]]
        for user in users:
            self._ensure({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret_name(config, user, name_of(pg)), "namespace": ns_of(pg),
                             "labels": labels},
                "type": "Opaque",
                "data": {"username": base64.b64encode(user.encode()).decode(),
                         "password": base64.b64encode(secrets.token_urlsafe(48).encode()).decode()},
            })

    def _ensure_services(self, pg: Obj, config: OperatorConfig, labels: dict[str, str]) -> None:
        name, ns = name_of(pg), ns_of(pg)
        ports = [{"name": "postgresql", "port": 5432, "protocol": "TCP", "targetPort": 5432}]
        master = {**labels, config.pod_role_label: "master"}
        replica = {**labels, config.pod_role_label: "replica"}
        self._ensure({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": name, "namespace": ns, "labels": master},
                      "spec": {"type": "ClusterIP", "ports": ports}})
        self._ensure({"apiVersion": "v1", "kind": "Endpoints",
                      "metadata": {"name": name, "namespace": ns, "labels": master}})
        self._ensure({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": f"{name}-repl", "namespace": ns, "labels": replica},
                      "spec": {"type": "ClusterIP", "ports": ports,
                               "selector": {**self._selector(config, name), config.pod_role_label: "replica"}}})

    def _ensure_pdb(self, pg: Obj, config: OperatorConfig, labels: dict[str, str]) -> None:
        name, ns = name_of(pg), ns_of(pg)
        self._ensure({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": config.pdb_name_format.format(cluster=name), "namespace": ns, "labels": labels},
            "spec": {"minAvailable": 1 if self._instances(pg.get("spec") or {}, config) > 0 else 0,
                     "selector": {"matchLabels": {**self._selector(config, name), config.pod_role_label: "master"}}},
        })

    def _desired_sts(self, pg: Obj, config: OperatorConfig, labels: dict[str, str]) -> Obj:
        spec = pg.get("spec") or {}
        name, ns = name_of(pg), ns_of(pg)
        volume = spec.get("volume") or {}
        pg_version = str((spec.get("postgresql") or {}).get("version") or "")
        env = [
            {"name": "SCOPE", "value": name},
            {"name": "PGROOT", "value": "/home/postgres/pgdata/pgroot"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                 "fieldPath": "metadata.namespace"}}},
            {"name": "PGUSER_SUPERUSER", "value": config.super_username},
            {"name": "KUBERNETES_SCOPE_LABEL", "value": config.cluster_name_label},
            {"name": "KUBERNETES_ROLE_LABEL", "value": config.pod_role_label},
            {"name": "PGPASSWORD_SUPERUSER", "valueFrom": {"secretKeyRef": {
                "name": secret_name(config, config.super_username, name), "key": "password"}}},
            {"name": "PGUSER_STANDBY", "value": config.replication_username},
            {"name": "PGPASSWORD_STANDBY", "valueFrom": {"secretKeyRef": {
                "name": secret_name(config, config.replication_username, name), "key": "password"}}},
            {"name": "PGVERSION", "value": pg_version},
            {"name": "KUBERNETES_LABELS", "value": _json_labels(dict(config.cluster_labels))},
        ]
        claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                                      "resources": {"requests": {"storage": str(volume.get("size"))}}}
        if volume.get("storageClass"):
            claim_spec["storageClassName"] = volume["storageClass"]
        resources = copy.deepcopy(spec.get("resources") or {
            "requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "500Mi"}})
        template_spec: dict[str, Any] = {
            "serviceAccountName": config.pod_service_account,
            "terminationGracePeriodSeconds": 300,
            "containers": [{
                "name": "postgres",
                "image": str(spec.get("dockerImage") or config.docker_image),
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8008, "protocol": "TCP"}, {"containerPort": 5432, "protocol": "TCP"},
                          {"containerPort": 8080, "protocol": "TCP"}],
                "env": env,
                "resources": resources,
                "volumeMounts": [{"name": "pgdata", "mountPath": "/home/postgres/pgdata"},
                                 {"name": "dshm", "mountPath": "/dev/shm"}],
                "securityContext": {"allowPrivilegeEscalation": True, "privileged": False,
                                    "readOnlyRootFilesystem": False},
            }],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
        }
        if spec.get("initContainers"):
            template_spec["initContainers"] = copy.deepcopy(spec["initContainers"])
        return {
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": self._instances(spec, config),
                "serviceName": name,
                "selector": {"matchLabels": self._selector(config, name)},
                "podManagementPolicy": "OrderedReady",
                "template": {"metadata": {"labels": labels}, "spec": template_spec},
                "volumeClaimTemplates": [{
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "pgdata", "labels": labels}, "spec": claim_spec}],
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            },
        }

    def _ensure_statefulset(self, pg: Obj, config: OperatorConfig, labels: dict[str, str]) -> bool:
        """Create or sync the StatefulSet; True when an existing one had to change."""
        desired = self._desired_sts(pg, config, labels)
        current = self.statefulsets.get(name_of(pg), ns_of(pg))
        if current is None:
            if self.kube.get("apps/v1", "StatefulSet", name_of(pg), ns_of(pg)) is None:
                self.statefulsets.remember(self.kube.create(desired, strict=False))
                self.events.event(pg, "Normal", "StatefulSet",
                                  f'Statefulset "{ns_of(pg)}/{name_of(pg)}" has been successfully created')
            return False
        cspec = current.get("spec") or {}
        dspec = desired["spec"]
        cimage = ((cspec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0].get("image")
        dimage = dspec["template"]["spec"]["containers"][0]["image"]
        if int(cspec.get("replicas", 1)) == dspec["replicas"] and cimage == dimage:
            return False
        self.statefulsets.remember(self.kube.patch("apps/v1", "StatefulSet", name_of(pg),
                                                   {"spec": {"replicas": dspec["replicas"],
                                                             "template": dspec["template"]}}, ns_of(pg)))
        return True

    def _resize_volumes(self, pg: Obj, config: OperatorConfig) -> None:
        """``storage_resize_mode: pvc``: grow every claim of the cluster to ``spec.volume.size``."""
        size = str(((pg.get("spec") or {}).get("volume") or {}).get("size") or "")
        selector = self._selector(config, name_of(pg))
        for pvc in self.pvcs.items(ns_of(pg)):
            if not all(labels_of(pvc).get(k) == v for k, v in selector.items()):
                continue
            requested = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
            if parse_quantity(size) > parse_quantity(requested):
                self.pvcs.remember(self.kube.patch("v1", "PersistentVolumeClaim", name_of(pvc), {
                    "spec": {"resources": {"requests": {"storage": size}}}}, ns_of(pvc)))

    def _label_roles(self, pg: Obj, config: OperatorConfig) -> None:
        """Patroni's job: the first running pod is the master, the others replicas."""
        name = name_of(pg)
        for pod in self.pods.items(ns_of(pg)):
            if not all(labels_of(pod).get(k) == v for k, v in self._selector(config, name).items()):
                continue
            if (pod.get("status") or {}).get("phase") != "Running" or deleting(pod):
                continue
            role = "master" if name_of(pod) == f"{name}-0" else "replica"
            if labels_of(pod).get(config.pod_role_label) != role:
                self.pods.remember(self.kube.patch("v1", "Pod", name_of(pod),
                                                   {"metadata": {"labels": {config.pod_role_label: role}}},
                                                   ns_of(pod)))

    def _delete(self, known: _Known, config: OperatorConfig) -> None:
        """What ``Cluster.Delete`` removes: StatefulSet, pods, PVCs, Services, Endpoints, Secrets, PDB."""
        name, ns = known.name, known.namespace
        selector = self._selector(config, name)
        self.kube.delete("apps/v1", "StatefulSet", name, ns)
        for pod in self.kube.list("v1", "Pod", ns, labels=selector):
            self.kube.delete("v1", "Pod", name_of(pod), ns)
        if config.delete_pvcs:
            for pvc in self.kube.list("v1", "PersistentVolumeClaim", ns, labels=selector):
                self.kube.delete("v1", "PersistentVolumeClaim", name_of(pvc), ns)
        for svc in (name, f"{name}-repl"):
            self.kube.delete("v1", "Service", svc, ns)
        self.kube.delete("v1", "Endpoints", name, ns)
        for secret in self.kube.list("v1", "Secret", ns, labels=selector):
            self.kube.delete("v1", "Secret", name_of(secret), ns)
        self.kube.delete("policy/v1", "PodDisruptionBudget", config.pdb_name_format.format(cluster=name), ns)
        # Over-forgetting is harmless: the next sync re-checks with a GET.
        self._ensured = {k for k in self._ensured if k[1] != ns or name not in k[2]}
        self.ctx.log.info("zalando: deleted cluster %s/%s", ns, name)


def _json_labels(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(labels), separators=(",", ":"))
