"""Which resources an emulated API server serves, and the discovery documents describing them.

Built-in kinds are registered when the server starts; a CustomResourceDefinition registers one
:class:`ResourceType` per served version and unregisters them when it goes away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Namespaces cannot be deleted as a collection on a real server either.
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {"status": ("get", "patch", "update"), "log": ("get",)}


@dataclass
class ResourceType:
    """One served resource at one group/version, with everything discovery and validation need."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    list_kind: str = ""
    # For custom resources: the version's openAPIV3Schema and the owning CRD's name.
    schema: Mapping[str, Any] | None = None
    crd_name: str | None = None
    # Compiled validators and the like, owned by api_schema; rebuilt whenever the CRD changes.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """The ``groupVersion`` string used in discovery (same as :attr:`api_version`)."""
        return self.api_version

    @property
    def storage_key(self) -> tuple[str, str]:
        """All versions of one resource share storage: objects are keyed by (group, plural)."""
        return (self.group, self.plural)

    @property
    def effective_list_kind(self) -> str:
        """``listKind`` if set, else ``<Kind>List``."""
        return self.list_kind or f"{self.kind}List"

    def discovery_entries(self) -> list[dict[str, Any]]:
        """The ``APIResourceList.resources`` entries: the resource, then one per subresource."""
        entries: list[dict[str, Any]] = [{
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
            **({"shortNames": list(self.short_names)} if self.short_names else {}),
            **({"categories": list(self.categories)} if self.categories else {}),
        }]
        for sub in self.subresources:
            entries.append({
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS.get(sub, ("get",))),
            })
        return entries


def _core(plural: str, kind: str, *, namespaced: bool = True, short: tuple[str, ...] = (),
          cats: tuple[str, ...] = (), subs: tuple[str, ...] = (), verbs: tuple[str, ...] = ALL_VERBS,
          singular: str | None = None, group: str = "", version: str = "v1") -> ResourceType:
    return ResourceType(
        group=group, version=version, plural=plural, kind=kind, singular=singular or kind.lower(),
        namespaced=namespaced, short_names=short, categories=cats, subresources=subs, verbs=verbs,
    )


def builtin_types() -> list[ResourceType]:
    """The built-in kinds every emulated server serves from the start."""
    return [
        _core("namespaces", "Namespace", namespaced=False, short=("ns",), subs=("status",), verbs=NAMESPACE_VERBS),
        _core("pods", "Pod", short=("po",), cats=("all",), subs=("log", "status")),
        _core("services", "Service", short=("svc",), cats=("all",), subs=("status",)),
        _core("configmaps", "ConfigMap", short=("cm",)),
        _core("secrets", "Secret"),
        _core("serviceaccounts", "ServiceAccount", short=("sa",)),
        _core("events", "Event", short=("ev",)),
        _core("persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), subs=("status",)),
        _core("persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",), subs=("status",)),
        _core("endpoints", "Endpoints", short=("ep",), singular="endpoints"),
        _core("deployments", "Deployment", group="apps", short=("deploy",), cats=("all",), subs=("status",)),
        _core("statefulsets", "StatefulSet", group="apps", short=("sts",), cats=("all",), subs=("status",)),
        _core("replicasets", "ReplicaSet", group="apps", short=("rs",), cats=("all",), subs=("status",)),
        _core("jobs", "Job", group="batch", cats=("all",), subs=("status",)),
        _core("roles", "Role", group="rbac.authorization.k8s.io"),
        _core("rolebindings", "RoleBinding", group="rbac.authorization.k8s.io"),
        _core("clusterroles", "ClusterRole", group="rbac.authorization.k8s.io", namespaced=False),
        _core("clusterrolebindings", "ClusterRoleBinding", group="rbac.authorization.k8s.io", namespaced=False),
        _core("poddisruptionbudgets", "PodDisruptionBudget", group="policy", short=("pdb",), subs=("status",)),
        _core("events", "Event", group="events.k8s.io", short=("ev",)),
        _core("customresourcedefinitions", "CustomResourceDefinition", group="apiextensions.k8s.io",
              namespaced=False, short=("crd", "crds"), cats=("api-extensions",), subs=("status",)),
        _core("storageclasses", "StorageClass", group="storage.k8s.io", namespaced=False, short=("sc",)),
    ]


@dataclass
class Registry:
    """The served resources of one server, by (group, version, plural), with group version order."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    # Version order per group: the first is the preferred version (a CRD's order, storage first).
    _versions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, rtype: ResourceType, *, preferred: bool = False) -> None:
        """Serve a resource type (replacing one with the same group/version/plural)."""
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        versions = self._versions.setdefault(rtype.group, [])
        if rtype.version not in versions:
            versions.insert(0, rtype.version) if preferred else versions.append(rtype.version)
        elif preferred:
            versions.remove(rtype.version)
            versions.insert(0, rtype.version)

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        """Stop serving every resource type a CRD registered; returns what was removed."""
        removed = [t for t in self._types.values() if t.crd_name == crd_name]
        for rtype in removed:
            del self._types[(rtype.group, rtype.version, rtype.plural)]
        for group in {t.group for t in removed}:
            still = {t.version for t in self._types.values() if t.group == group}
            self._versions[group] = [v for v in self._versions.get(group, []) if v in still]
            if not self._versions[group]:
                del self._versions[group]
        return removed

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at that path, if any."""
        return self._types.get((group, version, plural))

    def by_crd(self, crd_name: str) -> list[ResourceType]:
        """The types a CRD registered."""
        return [t for t in self._types.values() if t.crd_name == crd_name]

    def by_kind(self, group: str, kind: str) -> list[ResourceType]:
        """All versions of a kind in a group (used to resolve ownerReferences)."""
        return [t for t in self._types.values() if t.group == group and t.kind == kind]

    def storage_types(self) -> Iterable[ResourceType]:
        """One type per stored resource (the preferred version), e.g. for namespace cleanup."""
        seen: dict[tuple[str, str], ResourceType] = {}
        for rtype in self._types.values():
            preferred = self._versions[rtype.group][0]
            if rtype.storage_key not in seen or rtype.version == preferred:
                seen[rtype.storage_key] = rtype
        return seen.values()

    def versions_of(self, group: str) -> list[str]:
        """Versions served for a group, preferred first."""
        return list(self._versions.get(group, []))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        """The types served at one group/version, sorted by plural."""
        return sorted((t for t in self._types.values() if (t.group, t.version) == (group, version)),
                      key=lambda t: t.plural)

    # --- discovery documents ------------------------------------------------------------------------

    def api_versions(self) -> dict[str, Any]:
        """``GET /api``."""
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self._versions[group]]
        # The dynamic client compares preferredVersion to the versions entries by equality.
        return {"name": group, "versions": versions, "preferredVersion": dict(versions[0])}

    def api_group_list(self) -> dict[str, Any]:
        """``GET /apis``."""
        groups = [self._group_doc(g) for g in self._versions if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group: str) -> dict[str, Any] | None:
        """``GET /apis/<group>``, or None when the group is not served."""
        if not group or group not in self._versions:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(group)}

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        """``GET /api/v1`` or ``GET /apis/<group>/<version>``, or None when not served."""
        types = self.in_group_version(group, version)
        if not types:
            return None
        resources = [entry for rtype in types for entry in rtype.discovery_entries()]
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": types[0].group_version, "resources": resources}
