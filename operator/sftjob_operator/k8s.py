"""A small async Kubernetes API wrapper: create is idempotent (409 = success), delete
tolerates 404, patches are JSON merge patches, and every write is counted. A throttled
request (429) is retried after the server's Retry-After (throttle.py); an apiserver that
cannot be reached raises Unreachable, whose message is one line for the log.

Built on kubernetes_asyncio's configuration, credentials and aiohttp session, so nothing
blocks the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from sftjob_operator import throttle
from sftjob_operator.api.identity import GROUP, PLURAL, VERSION

logger = logging.getLogger(__name__)

USER_AGENT = "sftjob-operator"
MERGE_PATCH = "application/merge-patch+json"

# (apiVersion, kind) -> plural; the URL prefix follows from the apiVersion.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("v1", "Pod"): "pods",
    ("v1", "Event"): "events",
    ("batch/v1", "Job"): "jobs",
    ("coordination.k8s.io/v1", "Lease"): "leases",
    ("kueue.x-k8s.io/v1beta2", "Workload"): "workloads",
    ("rbac.authorization.k8s.io/v1", "Role"): "roles",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rolebindings",
    (f"{GROUP}/{VERSION}", "SFTJob"): PLURAL,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): (
        "validatingadmissionpolicies"
    ),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): (
        "validatingadmissionpolicybindings"
    ),
}


class ApiError(Exception):
    """A failed API call, with the server's reason in words a user can act on."""

    def __init__(self, what: str, status: int, reason: str, message: str) -> None:
        super().__init__(f"{what}: {status} {reason}: {message}".rstrip(": "))
        self.status = status
        self.reason = reason


class Unreachable(Exception):
    """The apiserver did not answer (connection refused or reset, a timeout): a transient
    outage, logged as one line by whoever retries."""

    def __init__(self, method: str, path: str, cause: BaseException) -> None:
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{method} {path}: the apiserver did not answer ({detail})")


# What a retry cures: the apiserver answered with an error, or did not answer at all.
TRANSIENT_ERRORS = (ApiError, Unreachable)


def log_retry(doing: str, key: tuple[str, str], exc: Exception) -> None:
    """One line per retry for an API error or an outage; a traceback only for a bug."""
    if isinstance(exc, TRANSIENT_ERRORS):
        logger.warning("%s %s/%s failed (%s); retrying", doing, *key, exc)
    else:
        logger.exception("%s %s/%s failed; retrying", doing, *key)


def collection_path(api_version: str, kind: str, namespace: str) -> str:
    """The collection URL; an empty namespace means a cluster-scoped kind."""
    plural = PLURALS[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


def write_key(method: str, path: str) -> str:
    """The kind of a write, without names: 'POST configmaps', 'PATCH sftjobs/status'."""
    _, found, rest = path.partition("?")[0].partition("/namespaces/")
    if not found:
        return f"{method} {path}"
    _namespace, plural, *name_and_sub = rest.split("/")
    sub = name_and_sub[1] if len(name_and_sub) > 1 else ""
    return f"{method} {plural}/{sub}" if sub else f"{method} {plural}"


STRICT = "?fieldValidation=Strict"


def _error(what: str, exc: ApiException) -> ApiError:
    message = ""
    try:
        body = json.loads(exc.body or "{}")
        message = str(body.get("message") or "")
        reason = str(body.get("reason") or exc.reason or "")
    except (ValueError, AttributeError):
        reason = str(exc.reason or "")
    return ApiError(what, int(exc.status or 0), reason, message)


async def load_config() -> client.Configuration:
    """In-cluster credentials when running in a pod, else KUBECONFIG (or ~/.kube/config)."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(client_configuration=configuration)
    return configuration


ENV_PROXY_OR_NETRC = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NETRC")


def uses_env_proxy_or_netrc(environ: Mapping[str, str]) -> bool:
    return any(environ.get(n) or environ.get(n.lower()) for n in ENV_PROXY_OR_NETRC)


class Api:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._client.user_agent = USER_AGENT
        self.writes: collections.Counter[str] = collections.Counter()
        # Requests the apiserver throttled (429) and this client retried, by write_key.
        self.throttled: collections.Counter[str] = collections.Counter()
        self._host = str(api_client.configuration.host)
        rest = api_client.rest_client
        # What kubernetes_asyncio's REST client adds to every request, worked out once.
        self._request_options: dict[str, Any] = {}
        if rest.proxy:
            self._request_options["proxy"] = rest.proxy
            if rest.proxy_headers:
                self._request_options["proxy_headers"] = rest.proxy_headers
        if rest.server_hostname:
            self._request_options["server_hostname"] = rest.server_hostname

    @classmethod
    async def connect(cls, connections: int = 24) -> Api:
        configuration = await load_config()
        # The default pool (5 x CPUs) serialises a burst of creates behind a few sockets.
        configuration.connection_pool_maxsize = connections
        api_client = client.ApiClient(configuration)
        if not uses_env_proxy_or_netrc(os.environ):
            # kubernetes_asyncio's session trusts the environment, so aiohttp looks for a
            # proxy and reads ~/.netrc (in a thread) on every request: a tenth of the
            # operator's CPU under load. A kubeconfig proxy-url still applies.
            api_client.rest_client.pool_manager._trust_env = False
        return cls(api_client)

    async def close(self) -> None:
        await self._client.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        *,
        want_body: bool = True,
    ) -> Any:
        """One request through the client's session and credentials.

        Not through ApiClient.call_api: it walks every request body to "sanitize" it and
        every response into objects, a fifth of the operator's CPU under load, and the
        writes here send plain dicts and mostly need only the status code.
        """
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        if method != "GET":
            self.writes[write_key(method, path)] += 1
        for attempt in range(1, throttle.ATTEMPTS + 1):
            try:
                return await self._request(method, path, data, content_type, want_body)
            except ApiException as exc:
                if exc.status != 429 or attempt == throttle.ATTEMPTS:
                    raise
                headers: Mapping[str, str] = exc.headers or {}
                retry_after = headers.get("Retry-After")
                delay = throttle.retry_delay(retry_after, attempt)
                self.throttled[write_key(method, path)] += 1
                logger.info(
                    "throttled (429) on %s %s; retrying in %.1fs (Retry-After: %s), attempt %d/%d",
                    method, path, delay, retry_after, attempt + 1, throttle.ATTEMPTS,
                )  # fmt: skip
                await asyncio.sleep(delay)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Unreachable(method, path, exc) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _request(
        self, method: str, path: str, data: bytes | None, content_type: str, want_body: bool
    ) -> Any:
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        # Refreshes a rotated token (in-cluster, exec plugins) like call_api would.
        await self._client.update_params_for_auth(headers, [], ["BearerToken"])
        async with self._client.rest_client.pool_manager.request(
            method, self._host + path, data=data, headers=headers, **self._request_options
        ) as response:
            if not 200 <= response.status <= 299:
                exc = ApiException(status=response.status, reason=response.reason)
                exc.headers = response.headers
                exc.body = await response.read()
                raise exc
            if not want_body:
                return True
            return json.loads(await response.read())

    async def create(self, manifest: Mapping[str, Any]) -> bool:
        """Create a namespaced object; True if created, False if it already existed.

        With strict field validation: the Job carries what the user wrote in podTemplate
        and env, which the CRD schema passes through, and an unknown field there (a typo
        such as `nodeAfinity`) is refused, not dropped with a warning nobody reads.
        """
        meta = manifest["metadata"]
        path = collection_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        try:
            await self._call("POST", path + STRICT, manifest, want_body=False)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise _error(f"create {manifest['kind']} {meta['name']}", exc) from exc
        return True

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> Any | None:
        try:
            return await self._call(
                "GET", f"{collection_path(api_version, kind, namespace)}/{name}"
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _error(f"get {kind} {name}", exc) from exc

    async def list_labelled(
        self, api_version: str, kind: str, namespace: str, label_selector: str
    ) -> list[Any]:
        """The objects matching a label selector; [] when the kind is not served (404)."""
        return await self._list(api_version, kind, namespace, "labelSelector", label_selector)

    async def list_by_fields(
        self, api_version: str, kind: str, namespace: str, field_selector: str
    ) -> list[Any]:
        """The objects matching a field selector (the Events of one object)."""
        return await self._list(api_version, kind, namespace, "fieldSelector", field_selector)

    async def _list(
        self, api_version: str, kind: str, namespace: str, selector: str, value: str
    ) -> list[Any]:
        path = f"{collection_path(api_version, kind, namespace)}?{selector}={quote(value)}"
        try:
            body = await self._call("GET", path)
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise _error(f"list {kind}", exc) from exc
        return list(body.get("items") or [])

    async def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        subresource: str = "",
    ) -> bool:
        """JSON merge patch; False when the object is gone."""
        path = f"{collection_path(api_version, kind, namespace)}/{name}"
        if subresource:
            path = f"{path}/{subresource}"
        try:
            return bool(await self._call("PATCH", path, patch, MERGE_PATCH, want_body=False))
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise _error(f"patch {kind} {name}", exc) from exc

    async def delete(
        self, api_version: str, kind: str, namespace: str, name: str, uid: str | None = None
    ) -> None:
        """Delete (background propagation); a missing object is success."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self._call(
                "DELETE",
                f"{collection_path(api_version, kind, namespace)}/{name}",
                body,
                want_body=False,
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                return
            raise _error(f"delete {kind} {name}", exc) from exc
