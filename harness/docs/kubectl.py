"""Read a ``kubectl`` argv: verb, resource references, flags (aliases and ``--flag=value`` folded).

Also the built-in resource types (names, short names and groups from Kubernetes discovery) so that
``kubectl get pv`` and ``kubectl get persistentvolumes`` are recognised as the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BuiltinType:
    """A built-in resource type as discovery reports it."""

    kind: str
    plural: str
    group: str  # "" for the core group
    short_names: tuple[str, ...] = ()
    namespaced: bool = True

    def names(self) -> set[str]:
        return {self.plural, self.kind.lower(), *self.short_names}


BUILTIN_TYPES: tuple[BuiltinType, ...] = (
    BuiltinType("Pod", "pods", "", ("po",)),
    BuiltinType("Service", "services", "", ("svc",)),
    BuiltinType("ConfigMap", "configmaps", "", ("cm",)),
    BuiltinType("Secret", "secrets", ""),
    BuiltinType("Namespace", "namespaces", "", ("ns",), namespaced=False),
    BuiltinType("Node", "nodes", "", ("no",), namespaced=False),
    BuiltinType("Event", "events", "", ("ev",)),
    BuiltinType("ServiceAccount", "serviceaccounts", "", ("sa",)),
    BuiltinType("PersistentVolume", "persistentvolumes", "", ("pv",), namespaced=False),
    BuiltinType("PersistentVolumeClaim", "persistentvolumeclaims", "", ("pvc",)),
    BuiltinType("Endpoints", "endpoints", "", ("ep",)),
    BuiltinType("Deployment", "deployments", "apps", ("deploy",)),
    BuiltinType("StatefulSet", "statefulsets", "apps", ("sts",)),
    BuiltinType("DaemonSet", "daemonsets", "apps", ("ds",)),
    BuiltinType("ReplicaSet", "replicasets", "apps", ("rs",)),
    BuiltinType("Job", "jobs", "batch"),
    BuiltinType("CronJob", "cronjobs", "batch", ("cj",)),
    BuiltinType("Ingress", "ingresses", "networking.k8s.io", ("ing",)),
    BuiltinType("StorageClass", "storageclasses", "storage.k8s.io", ("sc",), namespaced=False),
    BuiltinType("Role", "roles", "rbac.authorization.k8s.io"),
    BuiltinType("RoleBinding", "rolebindings", "rbac.authorization.k8s.io"),
    BuiltinType("ClusterRole", "clusterroles", "rbac.authorization.k8s.io", namespaced=False),
    BuiltinType("ClusterRoleBinding", "clusterrolebindings", "rbac.authorization.k8s.io", namespaced=False),
    BuiltinType(
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "apiextensions.k8s.io",
        ("crd", "crds"),
        namespaced=False,
    ),
)


def builtin_type(resource: str, group: str | None = None) -> BuiltinType | None:
    """The built-in type a kubectl type name refers to (``pv``, ``deployments.apps`` ...), if any."""
    resource = resource.lower()
    for builtin in BUILTIN_TYPES:
        if resource in builtin.names() and (group is None or group == builtin.group):
            return builtin
    return None


def builtin_kind(api_version: str, kind: str) -> BuiltinType | None:
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    for builtin in BUILTIN_TYPES:
        if builtin.kind == kind and builtin.group == group:
            return builtin
    return None


# Flags that take no value, or only an attached one (``--dry-run=client``): the next word is never theirs.
_BOOLEAN_FLAGS = frozenset(
    {
        "watch",
        "all-namespaces",
        "all",
        "recursive",
        "follow",
        "previous",
        "wait",
        "overwrite",
        "force",
        "now",
        "stdin",
        "tty",
        "show-labels",
        "no-headers",
        "ignore-not-found",
        "server-side",
        "force-conflicts",
        "watch-only",
        "timestamps",
        "all-containers",
        "prefix",
        "rm",
        "quiet",
        "include-uninitialized",
        "insecure-skip-tls-verify",
        "show-kind",
        "dry-run",
        "validate",
        "prune",
        "local",
    }
)
_SHORT: dict[str, str] = {
    "-n": "namespace",
    "-o": "output",
    "-l": "selector",
    "-c": "container",
    "-w": "watch",
    "-A": "all-namespaces",
    "-k": "kustomize",
    "-R": "recursive",
    "-i": "stdin",
    "-t": "tty",
    "-p": "previous",
    "-L": "label-columns",
    "-s": "server",
    "-v": "v",
    "-f": "filename",
}
# Verbs whose first positional words are part of the command, not resource references.
_SUBCOMMAND_VERBS = frozenset({"config", "rollout", "create", "set", "auth", "certificate", "krew", "plugin"})
_RESOURCE_VERBS = frozenset(
    {
        "get",
        "describe",
        "delete",
        "edit",
        "label",
        "annotate",
        "patch",
        "scale",
        "wait",
        "logs",
        "explain",
        "rollout",
        "port-forward",
        "exec",
        "top",
        "autoscale",
        "expose",
        "cordon",
        "uncordon",
        "drain",
        "taint",
    }
)


@dataclass(frozen=True)
class ResourceRef:
    """A resource named on a kubectl command line."""

    type: str  # as written: "promise", "postgresqls.workshop.kratix.io", "pods"
    name: str | None  # None for "all of this type"

    @property
    def resource(self) -> str:
        return self.type.split(".", 1)[0].lower()

    @property
    def group(self) -> str | None:
        return self.type.split(".", 1)[1] if "." in self.type else None


@dataclass(frozen=True)
class KubectlCall:
    """A parsed kubectl command line."""

    argv: tuple[str, ...]
    verb: str
    subcommand: tuple[str, ...]  # e.g. ("status",) for "rollout status"
    positionals: tuple[str, ...]
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def flag(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.flags

    @property
    def context(self) -> str | None:
        return self.flag("context")

    @property
    def filenames(self) -> tuple[str, ...]:
        return self.flags.get("filename", ())

    def resources(self) -> list[ResourceRef]:
        """Resources named by the positionals: ``TYPE NAME...``, ``TYPE/NAME...``, ``TYPE1,TYPE2``."""
        if self.verb not in _RESOURCE_VERBS:
            return []
        words = list(self.positionals)
        if self.verb == "logs":
            # logs POD [CONTAINER] or logs TYPE/NAME
            if not words:
                return []
            first = words[0]
            if "/" in first:
                kind, _, name = first.partition("/")
                return [ResourceRef(kind, name)]
            return [ResourceRef("pods", first)]
        refs: list[ResourceRef] = []
        if words and "/" not in words[0]:
            types = words.pop(0).split(",")
            if words and not any("/" in w for w in words):
                refs.extend(ResourceRef(t, n) for t in types for n in words)
                return refs
            refs.extend(ResourceRef(t, None) for t in types)
        for word in words:
            kind, sep, name = word.partition("/")
            if sep:
                refs.append(ResourceRef(kind, name))
        return refs


def parse_kubectl(argv: Sequence[str]) -> KubectlCall | None:
    """Parse ``argv`` when it is a kubectl (or ``kubectl``-plugin-free) command line, else None."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in {"kubectl", "k", "oc"}:
        return None
    flags: dict[str, list[str]] = {}
    positionals: list[str] = []
    verb = ""
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            positionals.extend(argv[i + 1 :])
            break
        if word.startswith("--") and len(word) > 2:
            name, sep, value = word[2:].partition("=")
            if not sep:
                if name in _BOOLEAN_FLAGS or i + 1 >= len(argv):
                    value = ""
                else:
                    i += 1
                    value = argv[i]
            flags.setdefault(name, []).append(value)
        elif word.startswith("-") and len(word) > 1 and word != "-":
            short, value = word[:2], word[2:]
            name = _SHORT.get(short, short.lstrip("-"))
            if name == "filename" and verb == "logs":
                name = "follow"
            if value.startswith("="):
                value = value[1:]
            if not value and name not in _BOOLEAN_FLAGS and name != "follow" and i + 1 < len(argv):
                i += 1
                value = argv[i]
            flags.setdefault(name, []).append(value)
        elif not verb:
            verb = word
        else:
            positionals.append(word)
        i += 1
    subcommand: list[str] = []
    if verb in _SUBCOMMAND_VERBS and positionals:
        subcommand.append(positionals.pop(0))
    return KubectlCall(
        tuple(argv), verb, tuple(subcommand), tuple(positionals), {k: tuple(v) for k, v in flags.items()}
    )
