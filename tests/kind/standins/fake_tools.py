"""Recording stand-ins for ``kind``, ``docker`` and ``kubectl``.

Tests put a directory with three tiny wrappers first on PATH (see ``tests/kind/conftest.py``); each runs this
file with the tool's name. Every call is appended to ``$STANDIN_DIR/calls.jsonl`` (argv, start/end time,
exit code); the tools keep their world in ``$STANDIN_DIR/state.json`` (clusters, containers, images, applied
objects) and answer the way the real tools do: same stdout/stderr shapes, same exit codes, the same
kubeconfig edits (kind sets the current context; kubectl config reads and writes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

STATE_DIR = Path(os.environ["STANDIN_DIR"])
STATE = STATE_DIR / "state.json"
CALLS = STATE_DIR / "calls.jsonl"
DOCKER_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


class Exit(Exception):
    def __init__(self, code: int, stderr: str = "") -> None:
        self.code = code
        self.stderr = stderr


@contextlib.contextmanager
def locked_state() -> Iterator[dict[str, Any]]:
    """Read-modify-write the shared state under an exclusive lock (parallel kind creates)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(STATE.read_text()) if STATE.exists() else {}
        yield state
        STATE.write_text(json.dumps(state, indent=1, sort_keys=True))


def read_state() -> dict[str, Any]:
    with locked_state() as state:
        return json.loads(json.dumps(state))


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def option(args: list[str], *names: str) -> str | None:
    """Value of ``--flag value`` or ``--flag=value`` (first of ``names`` found); removes it from args."""
    for i, arg in enumerate(list(args)):
        for name in names:
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
                del args[i:i + 2]
                return value
            if arg.startswith(name + "="):
                del args[i]
                return arg.split("=", 1)[1]
    return None


# -- kubeconfig files ---------------------------------------------------------------------------------------


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path(os.environ["HOME"]) / ".kube" / "config"


def load_kubeconfig(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {} if path.exists() else {}
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    for key in ("clusters", "contexts", "users"):
        data[key] = data.get(key) or []
    data.setdefault("preferences", {})
    return data


def save_kubeconfig(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def upsert(items: list[dict[str, Any]], name: str, entry: dict[str, Any]) -> None:
    for item in items:
        if item.get("name") == name:
            item.clear()
            item.update(entry)
            return
    items.append(entry)


def write_kind_context(path: Path, cluster: str, server: str) -> None:
    """What kind does on create/export: cluster, user and context ``kind-<name>``, and makes it current."""
    with kubeconfig_lock(path):
        data = load_kubeconfig(path)
        ctx = f"kind-{cluster}"
        upsert(data["clusters"], ctx, {"name": ctx, "cluster": {"server": server}})
        upsert(data["users"], ctx, {"name": ctx, "user": {"token": f"standin-token-{cluster}"}})
        upsert(data["contexts"], ctx, {"name": ctx, "context": {"cluster": ctx, "user": ctx}})
        data["current-context"] = ctx
        save_kubeconfig(path, data)


def remove_kind_context(path: Path, cluster: str) -> None:
    if not path.exists():
        return
    with kubeconfig_lock(path):
        data = load_kubeconfig(path)
        ctx = f"kind-{cluster}"
        for key in ("clusters", "contexts", "users"):
            data[key] = [item for item in data[key] if item.get("name") != ctx]
        if data.get("current-context") == ctx:
            data["current-context"] = ""
        save_kubeconfig(path, data)


@contextlib.contextmanager
def kubeconfig_lock(path: Path) -> Iterator[None]:
    # kind takes <file>.lock with O_EXCL and fails when another kind holds it: do the same.
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = Path(str(path) + ".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise Exit(1, f"ERROR: failed to lock config file: open {lock}: file exists") from None
    os.close(fd)
    try:
        time.sleep(float(os.environ.get("STANDIN_KUBECONFIG_HOLD", "0")))
        yield
    finally:
        lock.unlink(missing_ok=True)


# -- kind ---------------------------------------------------------------------------------------------------


def kind(args: list[str]) -> int:
    state = read_state()
    kind_state = state.get("kind", {})
    if args[:1] == ["version"]:
        out(f"kind {kind_state.get('version', 'v0.29.0')} go1.24.2 linux/amd64")
        return 0
    if not state.get("docker", {}).get("running", True) and args[:1] != ["version"]:
        raise Exit(1, "ERROR: failed to list clusters: command \"docker ps -a --filter label=io.x-k8s.kind.cluster "
                      "--format '{{.Label \"io.x-k8s.kind.cluster\"}}'\" failed with error: exit status 1")
    name = option(args, "--name", "-n") or "kind"
    kubeconfig = option(args, "--kubeconfig")
    target = Path(kubeconfig) if kubeconfig else default_kubeconfig()
    clusters = kind_state.get("clusters", {})

    if args[:2] == ["get", "clusters"]:
        if not clusters:
            err("No kind clusters found.")
        for cluster in sorted(clusters):
            out(cluster)
        return 0
    if args[:2] == ["get", "nodes"]:
        if name not in clusters:
            err(f'No kind nodes found for cluster "{name}".')
            return 0
        out(f"{name}-control-plane")
        return 0
    if args[:2] == ["create", "cluster"]:
        image = option(args, "--image") or "kindest/node:v1.33.1"
        config = option(args, "--config")
        option(args, "--wait")
        if name in clusters:
            raise Exit(1, "ERROR: failed to create cluster: node(s) already exist for a cluster with the name "
                          f'"{name}"')
        failure = kind_state.get("fail_create", {}).get(name)
        err(f'Creating cluster "{name}" ...')
        err(f" ✓ Ensuring node image ({image}) 🖼")
        time.sleep(float(kind_state.get("create_delay", 0.3)))
        if failure:
            raise Exit(1, f"ERROR: failed to create cluster: {failure}")
        ports: list[int] = []
        if config:
            for doc in yaml.safe_load_all(Path(config).read_text()):
                for node in (doc or {}).get("nodes") or []:
                    ports += [int(m["hostPort"]) for m in node.get("extraPortMappings") or []]
        with locked_state() as live:
            live.setdefault("kind", {}).setdefault("clusters", {})[name] = {"image": image}
            containers = live.setdefault("docker", {}).setdefault("containers", {})
            # Docker hands out addresses on the kind network in creation order, from 172.18.0.2.
            ip = f"172.18.0.{2 + len(containers)}"
            containers[f"{name}-control-plane"] = {
                "running": True, "image": image, "ports": ports, "ip": ip,
                "labels": {"io.x-k8s.kind.cluster": name, "io.x-k8s.kind.role": "control-plane"},
            }
        write_kind_context(target, name, kind_state.get("servers", {}).get(name, "https://127.0.0.1:6443"))
        err(f'Set kubectl context to "kind-{name}"')
        return 0
    if args[:2] == ["export", "kubeconfig"]:
        if name not in clusters:
            raise Exit(1, f'ERROR: unknown cluster "{name}"')
        write_kind_context(target, name, kind_state.get("servers", {}).get(name, "https://127.0.0.1:6443"))
        err(f'Set kubectl context to "kind-{name}"')
        return 0
    if args[:2] == ["delete", "cluster"]:
        err(f'Deleting cluster "{name}" ...')
        with locked_state() as live:
            existed = live.setdefault("kind", {}).setdefault("clusters", {}).pop(name, None)
            live.setdefault("docker", {}).setdefault("containers", {}).pop(f"{name}-control-plane", None)
        remove_kind_context(target, name)
        if existed is not None:
            err(f'Deleted nodes: ["{name}-control-plane"]')
        return 0
    if args[:2] == ["load", "docker-image"]:
        ref = args[2]
        image = state.get("docker", {}).get("images", {}).get(ref)
        if image is None:
            raise Exit(1, f'ERROR: image: "{ref}" not present locally')
        node = f"{name}-control-plane"
        err(f'Image: "{ref}" with ID "{image["id"]}" not yet present on node "{node}", loading...')
        with locked_state() as live:
            live.setdefault("docker", {}).setdefault("node_images", {}).setdefault(node, {})[
                normalize(ref)] = image["id"]
        return 0
    if args[:2] == ["export", "logs"]:
        dest = Path(args[2])
        node_dir = dest / f"{name}-control-plane"
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "kubelet.log").write_text("standin kubelet log\n")
        (dest / "kind-version.txt").write_text("kind v0.29.0\n")
        out(f'Exported logs for cluster "{name}" to:\n{dest}')
        return 0
    raise Exit(1, f"standin kind: unsupported arguments {args}")


def normalize(ref: str) -> str:
    first, sep, _ = ref.partition("/")
    if not (sep and ("." in first or ":" in first)):
        ref = f"docker.io/{ref}" if sep else f"docker.io/library/{ref}"
    return ref


# -- docker -------------------------------------------------------------------------------------------------


def docker(args: list[str]) -> int:
    state = read_state().get("docker", {})
    running = state.get("running", True)
    if args[:1] == ["info"]:
        fmt = option(args, "--format", "-f") or "{{json .}}"
        values = {"{{.ServerVersion}}": state.get("version", "28.2.2") if running else "",
                  "{{.DockerRootDir}}": state.get("root_dir", "/var/lib/docker") if running else ""}
        for key, value in values.items():
            fmt = fmt.replace(key, value)
        out(fmt)
        if not running:
            raise Exit(1, DOCKER_DOWN)
        return 0
    if not running:
        raise Exit(1, DOCKER_DOWN)
    containers = state.get("containers", {})
    images = state.get("images", {})
    if args[:1] == ["ps"]:
        fmt = option(args, "--format") or ""
        for cname, info in sorted(containers.items()):
            if not info.get("running"):
                continue
            ports = ", ".join(f"0.0.0.0:{p}->{p}/tcp, [::]:{p}->{p}/tcp" for p in info.get("ports", []))
            out(fmt.replace("{{.Names}}", cname).replace("{{.Ports}}", ports))
        return 0
    if args[:1] == ["inspect"]:
        fmt = option(args, "--format", "-f")
        cname = args[1]
        info = containers.get(cname)
        if info is None:
            out("" if fmt else "[]")
            raise Exit(1, f"Error: No such object: {cname}")
        if fmt == "{{.NetworkSettings.Networks.kind.IPAddress}}":
            out(info.get("ip", ""))
            return 0
        out(json.dumps([{
            "Name": f"/{cname}",
            "State": {"Running": info.get("running", True), "Status": "running" if info.get("running") else "exited"},
            "Config": {"Image": info.get("image", ""), "Labels": info.get("labels", {})},
            "HostConfig": {"PortBindings": {f"{p}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}]
                                            for p in info.get("ports", [])}},
        }]))
        return 0
    if args[:2] == ["image", "inspect"]:
        fmt = option(args, "--format", "-f")
        ref = args[2]
        image = images.get(ref)
        if image is None:
            out("" if fmt else "[]")
            raise Exit(1, f"Error response from daemon: No such image: {ref}")
        if fmt:
            label = re.search(r'index \.Config\.Labels "([^"]+)"', fmt)
            if label is None:
                raise Exit(1, f"standin docker: unsupported --format {fmt}")
            out(image.get("labels", {}).get(label[1], "<no value>"))
            return 0
        out(json.dumps([{"Id": image["id"], "RepoTags": [ref], "Config": {"Labels": image.get("labels", {})}}]))
        return 0
    if args[:1] == ["build"]:
        ref = option(args, "--tag", "-t")
        option(args, "--file", "-f")
        labels: dict[str, str] = {}
        while (label := option(args, "--label")) is not None:
            key, _, value = label.partition("=")
            labels[key] = value
        build_args = []
        while (arg := option(args, "--build-arg")) is not None:
            build_args.append(arg)
        option(args, "--network")
        digest = hashlib.sha256(f"{ref}|{sorted(labels.items())}|{build_args}".encode()).hexdigest()
        with locked_state() as live:
            live.setdefault("docker", {}).setdefault("images", {})[str(ref)] = {
                "id": f"sha256:{digest}", "labels": labels}
        out(f"Successfully built {digest[:12]}\nSuccessfully tagged {ref}")
        return 0
    if args[:1] == ["exec"] and args[2:4] == ["crictl", "inspecti"]:
        node, ref = args[1], args[-1]
        image_id = state.get("node_images", {}).get(node, {}).get(ref)
        if image_id is None:
            raise Exit(1, f'time="2025-01-01T00:00:00Z" level=fatal msg="no such image \\"{ref}\\" present"')
        out(json.dumps({"status": {"id": image_id, "repoTags": [ref]}}))
        return 0
    raise Exit(1, f"standin docker: unsupported arguments {args}")


# -- kubectl ------------------------------------------------------------------------------------------------


def kubectl(args: list[str]) -> int:
    kubeconfig = option(args, "--kubeconfig")
    context = option(args, "--context")
    path = Path(kubeconfig) if kubeconfig else default_kubeconfig()
    if args[:1] == ["version"]:
        out(json.dumps({"clientVersion": {"major": "1", "minor": "33", "gitVersion": "v1.33.1"},
                        "kustomizeVersion": "v5.6.0"}, indent=2))
        return 0
    if args[:2] == ["config", "current-context"]:
        current = load_kubeconfig(path).get("current-context") or ""
        if not current:
            raise Exit(1, "error: current-context is not set")
        out(current)
        return 0
    if args[:2] == ["config", "get-contexts"]:
        for ctx in load_kubeconfig(path)["contexts"]:
            out(ctx["name"])
        return 0
    if args[:2] == ["config", "use-context"]:
        data = load_kubeconfig(path)
        if args[2] not in [c["name"] for c in data["contexts"]]:
            raise Exit(1, f'error: no context exists with the name: "{args[2]}"')
        data["current-context"] = args[2]
        save_kubeconfig(path, data)
        out(f'Switched to context "{args[2]}".')
        return 0
    if args[:3] == ["config", "unset", "current-context"]:
        data = load_kubeconfig(path)
        data.pop("current-context", None)
        save_kubeconfig(path, data)
        out('Property "current-context" unset.')
        return 0
    if args[:1] == ["apply"]:
        manifest = option(args, "--filename", "-f")
        contexts = [c["name"] for c in load_kubeconfig(path)["contexts"]]
        if context not in contexts:
            raise Exit(1, f'error: context "{context}" does not exist')
        lines = []
        with locked_state() as live:
            applied = live.setdefault("kubectl", {}).setdefault("applied", {}).setdefault(str(context), {})
            for doc in yaml.safe_load_all(Path(str(manifest)).read_text()):
                if not doc:
                    continue
                group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
                resource = doc["kind"].lower() + (f".{group}" if group else "")
                key = f"{resource}/{doc['metadata']['name']}"
                digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
                verb = "created" if key not in applied else ("unchanged" if applied[key] == digest else "configured")
                applied[key] = digest
                lines.append(f"{key} {verb}")
        out("\n".join(lines))
        return 0
    raise Exit(1, f"standin kubectl: unsupported arguments {args}")


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    started = time.time()
    code = 0
    try:
        code = {"kind": kind, "docker": docker, "kubectl": kubectl}[tool](list(args))
    except Exit as exc:
        if exc.stderr:
            err(exc.stderr)
        code = exc.code
    except Exception:
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        record = {"tool": tool, "argv": [tool, *args], "start": started, "end": time.time(), "exit": code}
        with open(CALLS, "a") as calls:
            calls.write(json.dumps(record) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
