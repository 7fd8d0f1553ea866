"""The cluster side of the cluster commands: the kubeconfig context, the clients, and the
errors a user can cause, each as one line with no traceback.

Every cluster command takes -n/--namespace, --context and --kubeconfig as kubectl does,
and follows the current kubeconfig context (and its namespace) by default.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import yaml

from sftjob_cli import operator_api
from sftjob_cli.objectmeta import object_name_problems

F = TypeVar("F", bound=Callable[..., Any])
# Where a pod finds its ServiceAccount's namespace (in-cluster configuration).
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubeError(click.ClickException):
    """A cluster error a user can cause (no cluster, wrong context, no such job, RBAC):
    one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass(frozen=True)
class Kube:
    """The clients of the chosen kubeconfig context, and its namespace."""

    api_client: Any
    namespace: str
    context: str

    @property
    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)


MAX_INTERVAL = 3600.0


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):  # FloatRange lets nan through (no comparison is true)
        raise click.BadParameter(f"{value} is not a number of seconds", ctx, param)
    return value


def interval_option(used_with: str) -> Callable[[F], F]:
    """--interval SECONDS of a command that polls the API (0.5 s to an hour)."""
    return click.option(
        "--interval",
        type=click.FloatRange(min=0.5, max=MAX_INTERVAL),
        default=2.0,
        show_default=True,
        callback=_finite,
        help=f"{used_with}: seconds.",
    )


def _job_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An SFTJob's name as the API takes it: an empty one (an unset shell variable) or a
    `.` would address the collection, where GET lists every job and DELETE deletes them."""
    if value is None:
        return None
    if problems := object_name_problems(value):
        shown = "an empty name" if not value else f'"{value}"'
        raise click.BadParameter(f"{shown} is not an SFTJob name: {problems[0]}", ctx, param)
    return value


def job_name_argument(required: bool = True) -> Callable[[F], F]:
    """NAME, the SFTJob's name."""
    return click.argument("name", required=required, callback=_job_name)


def job_names_argument() -> Callable[[F], F]:
    """NAME..., one SFTJob name or more."""

    def names(
        ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> tuple[str, ...]:
        return tuple(str(_job_name(ctx, param, v)) for v in values)

    return click.argument("names", metavar="NAME...", nargs=-1, required=True, callback=names)


def cluster_options(func: F) -> F:
    """-n/--namespace, --context and --kubeconfig, as kubectl has them."""
    func = click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file.")(
        func
    )
    func = click.option("--context", help="kubeconfig context (default: the current one).")(func)
    return click.option("-n", "--namespace", help="Namespace (default: the context's).")(func)


def _kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The files the kubernetes client reads: --kubeconfig, else KUBECONFIG's, else the
    default file."""
    if kubeconfig:
        return [kubeconfig]
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [os.path.expanduser("~/.kube/config")]


def _unusable(kubeconfig: str | None, err: BaseException) -> str:
    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    if isinstance(err, UnicodeDecodeError):
        detail = f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start})"
    elif isinstance(err, FileNotFoundError):
        detail = "no such file"
    elif isinstance(err, TypeError | AttributeError):  # the client met another YAML shape
        detail = "not a kubeconfig (a YAML mapping of clusters, contexts and users)"
    else:
        detail = " ".join(str(err).split()) or type(err).__name__
    return (
        f"no usable kubeconfig in {where}: {detail}; pass --kubeconfig FILE or set KUBECONFIG "
        "to a kubeconfig of the cluster"
    )


def manifest_namespace(manifest: str | None, flag: str | None, default: str) -> str:
    """The namespace of an object read from a file, as kubectl decides it: the manifest's,
    else -n, else the context's. A manifest's namespace that -n contradicts is refused."""
    if manifest and flag and manifest != flag:
        raise KubeError(
            f'the namespace of the manifest ("{manifest}") does not match -n "{flag}": '
            f"pass -n {manifest}, or change the manifest's metadata.namespace"
        )
    return manifest or flag or default


# What the kubernetes client raises on a kubeconfig it cannot use (besides ConfigException).
_UNREADABLE = (OSError, TypeError, AttributeError, ValueError, yaml.YAMLError)


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Kube:
    """The clients of the kubeconfig's context (--context, else the current one), or, in a
    pod with no kubeconfig, of its ServiceAccount, as kubectl does."""
    from kubernetes import config

    if not any(os.path.exists(p) for p in _kubeconfig_paths(kubeconfig)):
        if kubeconfig is None and not context and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return _in_cluster(namespace)
        raise KubeError(_unusable(kubeconfig, FileNotFoundError(kubeconfig)))
    contexts, active = _contexts(kubeconfig, context)
    chosen = active
    if context:
        chosen = next((c for c in contexts if c["name"] == context), None)
        if chosen is None:
            names = ", ".join(c["name"] for c in contexts) or "none"
            raise KubeError(f'context "{context}" is not in the kubeconfig (it has: {names})')
    with _plugin_errors() as plugin_failed:
        try:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
        except (config.ConfigException, *_UNREADABLE) as err:
            raise KubeError(_unusable(kubeconfig, err)) from None
    if plugin_failed:
        raise KubeError(
            f"the kubeconfig's credential plugin failed: {plugin_failed[0]}; log in as it "
            "asks (gcloud auth login, aws sso login, az login, ...) and retry"
        )
    default_ns = (chosen or {}).get("context", {}).get("namespace") or "default"
    return Kube(api_client, namespace or default_ns, (chosen or {}).get("name", ""))


def _contexts(kubeconfig: str | None, context: str | None) -> tuple[list[Any], Any]:
    """The kubeconfig's contexts and its current one. With --context, a current-context
    that is unset or names no context does not matter, as for kubectl."""
    from kubernetes import config
    from kubernetes.config.kube_config import KubeConfigMerger

    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        return list(contexts or ()), active
    except (config.ConfigException, *_UNREADABLE) as err:
        if context is None:
            raise KubeError(_unusable(kubeconfig, err)) from None
        first = err
    try:
        merged = KubeConfigMerger(os.pathsep.join(_kubeconfig_paths(kubeconfig))).config
        listed = merged.value.get("contexts") if isinstance(merged.value, Mapping) else None
    except (config.ConfigException, *_UNREADABLE):
        listed = None
    if not isinstance(listed, list):
        raise KubeError(_unusable(kubeconfig, first)) from None
    plain = (getattr(c, "value", c) for c in listed)  # the merger's ConfigNodes
    return [c for c in plain if isinstance(c, Mapping) and "name" in c], None


@contextmanager
def _plugin_errors() -> Iterator[list[str]]:
    """What the kubernetes client logs, and goes on without credentials, when the
    kubeconfig's exec credential plugin fails (a cloud CLI not logged in): its first line,
    to report instead of the 401 or 403 that the request without credentials would get."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.levelno >= logging.ERROR and text.startswith(("exec:", "[Errno")):
                found.append(next((line for line in text.splitlines() if line.strip()), text))

    root = logging.getLogger()
    handler = Collect()
    root.addHandler(handler)  # with a handler, logging.error() does not print by itself
    try:
        yield found
    finally:
        root.removeHandler(handler)


def _in_cluster(namespace: str | None) -> Kube:
    """The pod's ServiceAccount, as kubectl uses it when no kubeconfig exists."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as err:
        raise KubeError(_unusable(None, err)) from None
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as file:
            own = file.read().strip()
    except OSError:
        own = ""
    return Kube(client.ApiClient(configuration), namespace or own or "default", "in-cluster")


def api_message(err: Any) -> str:
    try:
        return str(json.loads(err.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{err.status} {err.reason}".strip()


def describe_error(err: Any, what: str) -> str:
    """One line for an ApiException met while doing `what`."""
    status = getattr(err, "status", None)
    if status == 403:
        hint = "ask for RBAC access" + ("" if "all namespaces" in what else ", or pick -n")
        return f"forbidden: {what}: {api_message(err)} ({hint})"
    if status == 401:
        return f"unauthorized: {what}: the kubeconfig's credentials were refused"
    if status == 404 and not _names_an_object(err):
        return (
            f"{what}: the cluster has no SFTJob API ({operator_api.PLURAL}."
            f"{operator_api.GROUP}): install the operator and its CRD (helm install ... "
            "charts/sftjob-operator), or pick the cluster with --context"
        )
    if status == 404:
        return f"not found: {what}: {api_message(err)}"
    return f"{what}: {api_message(err)}"


def _names_an_object(err: Any) -> bool:
    """Whether a 404 is about one object (its Status names it), not about the resource
    type (an API the cluster does not serve)."""
    try:
        details = json.loads(err.body).get("details") or {}
    except (TypeError, ValueError, AttributeError):
        return False
    return bool(details.get("name"))


def answer(body: Any, kind: str, what: str) -> dict[str, Any]:
    """An API answer, checked to be the object asked for: a proxy's login page or a wrong
    server URL answers 200 with HTML, which the client hands back as text."""
    if isinstance(body, dict) and body.get("kind") == kind:
        return body
    got = type(body).__name__ if not isinstance(body, dict) else f"kind {body.get('kind')}"
    raise KubeError(
        f"{what}: the server did not answer as a Kubernetes API server (a {kind} was "
        f"expected, it sent {got}); check the kubeconfig's server URL"
    )


@contextmanager
def user_errors(what: str) -> Iterator[None]:
    """Turn the cluster's answers and connection failures into one KubeError line."""
    from ssl import SSLError

    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as err:
        raise KubeError(describe_error(err, what)) from None
    except (OSError, HTTPError) as err:
        reason = getattr(err, "reason", None) or err
        if isinstance(reason, SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(reason):
            raise KubeError(
                f"the cluster's certificate is not trusted ({reason}); check the kubeconfig's "
                "certificate-authority-data and server URL"
            ) from None
        raise KubeError(f"cannot reach the cluster: {reason}") from None


def get_job(kube: Kube, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The SFTJob, or a KubeError naming it."""
    from kubernetes.client.exceptions import ApiException

    ns = namespace or kube.namespace
    with user_errors(f"sftjob {name} in namespace {ns}"):
        try:
            body: dict[str, Any] = kube.custom.get_namespaced_custom_object(
                **operator_api.resource(), namespace=ns, name=name
            )
        except ApiException as err:
            if err.status == 404 and _names_an_object(err):
                raise KubeError(f'sftjob "{name}" not found in namespace "{ns}"') from None
            raise
    return answer(body, operator_api.KIND, f"sftjob {name} in namespace {ns}")


def list_jobs(kube: Kube, all_namespaces: bool) -> list[dict[str, Any]]:
    where = "all namespaces" if all_namespaces else f"namespace {kube.namespace}"
    with user_errors(f"list sftjobs in {where}"):
        if all_namespaces:
            listed = kube.custom.list_cluster_custom_object(**operator_api.resource())
        else:
            listed = kube.custom.list_namespaced_custom_object(
                **operator_api.resource(), namespace=kube.namespace
            )
    listed = answer(listed, f"{operator_api.KIND}List", f"list sftjobs in {where}")
    items: list[dict[str, Any]] = listed.get("items") or []
    return sorted(items, key=lambda j: (j["metadata"]["namespace"], j["metadata"]["name"]))


def job_events(kube: Kube, name: str, namespace: str) -> list[dict[str, Any]]:
    """The Events about the SFTJob, oldest first, as plain dicts."""
    selector = f"involvedObject.name={name},involvedObject.kind={operator_api.KIND}"
    with user_errors(f"list events of sftjob {name}"):
        listed = kube.core.list_namespaced_event(namespace, field_selector=selector)
    events = [kube.api_client.sanitize_for_serialization(e) for e in listed.items]
    return sorted(events, key=event_time)


def job_events_if_readable(kube: Kube, name: str, namespace: str) -> list[dict[str, Any]]:
    """job_events, or none (with a note on stderr) where they cannot be read (this user may
    not list Events, a passing server error): what the SFTJob itself says is still worth
    showing."""
    try:
        return job_events(kube, name, namespace)
    except KubeError as err:
        click.echo(f"note: {err}; shown without Events", err=True)
        return []


def event_time(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
