"""Client for the Confluent Schema Registry REST API (also Apicurio Registry's `/apis/ccompat/v7`).

Schemas are cached both ways, (subject, schema) -> id and id -> schema, so that a process talks to
the registry once per schema, not once per message. Errors name the method, the path and the
registry's own words; an incompatible schema also gets a reason computed here (schemas.compat),
because Apicurio's answers do not name the offending field.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, model_validator

from . import compat

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
DEFAULT_COMPATIBILITY = "BACKWARD_TRANSITIVE"
_RETRY_STATUS = frozenset({502, 503, 504})


class RegistryError(Exception):
    """The registry answered with an error (or not at all); says method, path and status."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", status: int = 0, reason: str = ""
    ):
        super().__init__(message)
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason  # the registry's own message, when it gave one


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached (connection refused, DNS, timeout)."""


class SchemaNotFoundError(RegistryError, LookupError):
    """No such subject, version or schema id (HTTP 404)."""


class InvalidSchemaError(RegistryError, ValueError):
    """The registry does not accept the text as an Avro schema (HTTP 422)."""


class IncompatibleSchemaError(RegistryError):
    """The registry refused a schema as incompatible with a subject's registered versions."""

    def __init__(self, subject: str, registry_reason: str, reasons: list[str], **kw: Any):
        detail = "; ".join(reasons) if reasons else "no detail computed"
        message = f"subject {subject}: schema refused as incompatible: {detail}"
        if registry_reason:
            message += f" (registry: {registry_reason})"
        super().__init__(message, reason=registry_reason, **kw)
        self.subject = subject
        self.registry_reason = registry_reason
        self.reasons = reasons


@dataclass(frozen=True)
class RegisteredSchema:
    """One version of a subject as the registry holds it."""

    subject: str
    version: int
    schema_id: int
    schema: Any  # the schema JSON (dict, list or str)


@dataclass(frozen=True)
class Compatibility:
    """Answer of a compatibility check; `reasons` is empty when compatible."""

    compatible: bool
    reasons: list[str]


def canonical(schema: Any) -> str:
    """The schema as compact JSON: the one text we send, so the same schema always gets one id.

    (Apicurio gives a new version to the same schema written with other whitespace.)"""
    if isinstance(schema, str | bytes):
        schema = json.loads(schema)
    return json.dumps(compat.plain(schema), separators=(",", ":"), ensure_ascii=False)


def error_text(body: str) -> str:
    """The registry's message from an error body (Confluent: {"error_code", "message"})."""
    try:
        data = json.loads(body)
    except ValueError:
        text = " ".join(body.split())
        return text[:300] + ("..." if len(text) > 300 else "")
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("detail") or data.get("title") or data)
        # Apicurio prefixes the Java exception class; it says nothing to our users.
        message = message.removeprefix("io.apicurio.registry.rules.RuleViolationException: ")
        code = data.get("error_code")
        return f"{message} [error_code {code}]" if code is not None else message
    return str(data)


def _error_code(body: str) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = data.get("error_code") if isinstance(data, dict) else None
    return int(code) if isinstance(code, int) else None


class RegistryAuth(BaseModel):
    """How to reach a secured registry: basic auth (password in a file) and the CA of its
    certificate. Empty: a plain http registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str | None = None
    password_file: Path | None = None
    cafile: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> RegistryAuth:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("registry username and password file go together")
        return self

    def options(self) -> dict[str, Any]:
        """Keyword arguments for RegistryClient."""
        return self.model_dump(exclude_none=True)


class RegistryClient:
    """A synchronous, caching client of one registry; thread-safe enough for asyncio.to_thread."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.25,
        client: httpx.Client | None = None,
        username: str | None = None,
        password_file: Path | None = None,
        cafile: Path | None = None,
    ):
        """`username` + `password_file`: HTTP basic auth (the password is read from the file,
        never passed around); `cafile`: the CA that signed an https registry's certificate."""
        self.url = url.rstrip("/")
        self.retries = max(1, retries)
        self.backoff = backoff
        auth = None
        if username is not None:
            if password_file is None:
                raise ValueError("registry username given without a password file")
            auth = httpx.BasicAuth(username, Path(password_file).read_text().strip())
        self._http = client or httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            headers={"Accept": f"{CONTENT_TYPE}, application/json"},
            auth=auth,
            verify=ssl.create_default_context(cafile=str(cafile)) if cafile else True,
        )
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, Any] = {}
        self._compat_done: dict[str, str] = {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP --------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, body: Any = None, params: dict | None = None
    ) -> httpx.Response:
        """One call with retries on connection errors and 502/503/504; raises RegistryError."""
        content = json.dumps(body) if body is not None else None
        headers = {"Content-Type": CONTENT_TYPE} if content is not None else None
        last = ""
        for attempt in range(self.retries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))  # retry pause, not a test wait
            try:
                r = self._http.request(
                    method, path, content=content, headers=headers, params=params
                )
            except (httpx.TransportError, OSError) as e:
                # Every call here is idempotent (register returns the existing id), so a retry
                # after a timeout is safe.
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                continue
            if r.status_code in _RETRY_STATUS:
                last = f"HTTP {r.status_code}"
                continue
            if r.status_code >= 400:
                self._raise(method, path, r)
            return r
        raise RegistryUnavailableError(
            f"schema registry unreachable at {self.url} ({method} {path}: {last},"
            f" {self.retries} attempts)",
            method=method,
            path=path,
        )

    def _raise(self, method: str, path: str, r: httpx.Response) -> None:
        reason = error_text(r.text)
        where = f"schema registry {method} {path}: HTTP {r.status_code}: {reason}"
        kw = {"method": method, "path": path, "status": r.status_code, "reason": reason}
        if r.status_code == 404:
            if _error_code(r.text) is None:
                # A 404 without Confluent's error_code (40401 subject, 40402 version, 40403
                # schema...) is a wrong URL, not a missing subject: never treat it as "new".
                raise RegistryError(
                    f"{where} (is {self.url} the Confluent-compatible API base, like"
                    f" http://host:8081 or Apicurio's .../apis/ccompat/v7?)",
                    **kw,
                )
            raise SchemaNotFoundError(where, **kw)
        if r.status_code == 422:
            raise InvalidSchemaError(where, **kw)
        if r.status_code in (401, 403):
            raise RegistryError(f"{where} (check the registry username and password file)", **kw)
        raise RegistryError(where, **kw)

    def _json(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        r = self._request(method, path, body, params)
        try:
            return r.json()
        except ValueError:
            raise RegistryError(
                f"schema registry {method} {path}: HTTP {r.status_code}: not JSON: "
                f"{error_text(r.text)}",
                method=method,
                path=path,
                status=r.status_code,
            ) from None

    # --- schemas -----------------------------------------------------------------------------
    def register(self, subject: str, schema: Any) -> int:
        """Register `schema` under `subject` (or get the id it already has); cached, no HTTP twice.

        Raises IncompatibleSchemaError naming the subject and the reason when refused."""
        text = canonical(schema)
        key = (subject, text)
        schema_id = self._ids.get(key)
        if schema_id is not None:
            return schema_id
        path = f"/subjects/{_q(subject)}/versions"
        try:
            data = self._json("POST", path, {"schema": text})
        except RegistryError as e:
            if e.status == 409:
                raise self._incompatible(subject, text, e) from None
            raise
        schema_id = int(data["id"])
        self._ids[key] = schema_id
        self._schemas.setdefault(schema_id, json.loads(text))
        return schema_id

    def lookup(self, subject: str, schema: Any) -> int | None:
        """The id of `schema` if it is registered under `subject`, else None."""
        text = canonical(schema)
        key = (subject, text)
        if key in self._ids:
            return self._ids[key]
        try:
            data = self._json("POST", f"/subjects/{_q(subject)}", {"schema": text})
        except SchemaNotFoundError:
            return None
        schema_id = int(data["id"])
        self._ids[key] = schema_id
        return schema_id

    def get_schema(self, schema_id: int) -> Any:
        """The schema JSON registered under `schema_id` (cached); SchemaNotFoundError if none."""
        schema = self._schemas.get(schema_id)
        if schema is None:
            data = self._json("GET", f"/schemas/ids/{int(schema_id)}")
            kind = data.get("schemaType", "AVRO")
            if kind != "AVRO":
                raise RegistryError(
                    f"schema id {schema_id} is a {kind} schema, not Avro",
                    method="GET",
                    path=f"/schemas/ids/{schema_id}",
                )
            schema = self._schemas[schema_id] = json.loads(data["schema"])
        return schema

    def get_version(self, subject: str, version: int | str = "latest") -> RegisteredSchema:
        """One version of a subject ('latest' by default); SchemaNotFoundError if absent."""
        data = self._json("GET", f"/subjects/{_q(subject)}/versions/{version}")
        schema = json.loads(data["schema"])
        self._schemas.setdefault(int(data["id"]), schema)
        return RegisteredSchema(data["subject"], int(data["version"]), int(data["id"]), schema)

    def get_latest(self, subject: str) -> RegisteredSchema:
        """The latest version of a subject; SchemaNotFoundError if it has none."""
        return self.get_version(subject, "latest")

    def versions(self, subject: str) -> list[int]:
        """The version numbers of a subject, oldest first; [] when it does not exist."""
        try:
            return sorted(int(v) for v in self._json("GET", f"/subjects/{_q(subject)}/versions"))
        except SchemaNotFoundError:
            return []

    def subjects(self) -> list[str]:
        """All subjects in the registry."""
        return list(self._json("GET", "/subjects"))

    def delete_subject(self, subject: str) -> None:
        """Delete a subject for good (soft, then permanent delete, then its config); for tests."""
        for params in (None, {"permanent": "true"}):
            try:
                self._request("DELETE", f"/subjects/{_q(subject)}", params=params)
            except SchemaNotFoundError:
                pass
        try:
            self._request("DELETE", f"/config/{_q(subject)}")
        except SchemaNotFoundError:
            pass
        self._ids = {k: v for k, v in self._ids.items() if k[0] != subject}
        self._compat_done.pop(subject, None)

    # --- compatibility -----------------------------------------------------------------------
    def get_compatibility(self, subject: str | None = None) -> str | None:
        """The subject's compatibility level (global one for None); None if the subject has none.

        Apicurio answers the global level for a subject without its own rule."""
        path = f"/config/{_q(subject)}" if subject else "/config"
        try:
            data = self._json("GET", path)
        except SchemaNotFoundError:
            return None
        return data.get("compatibilityLevel") or data.get("compatibility")

    def set_compatibility(self, subject: str, level: str = DEFAULT_COMPATIBILITY) -> None:
        """Set a subject's compatibility level (PUT /config/{subject})."""
        level = level.upper()
        if level not in compat.LEVELS:
            raise ValueError(f"compatibility level {level!r} is not one of {compat.LEVELS}")
        self._json("PUT", f"/config/{_q(subject)}", {"compatibility": level})
        self._compat_done[subject] = level

    def check_compatibility(self, subject: str, schema: Any) -> Compatibility:
        """Whether `schema` may be registered under `subject` next; a new subject is compatible."""
        text = canonical(schema)
        path = f"/compatibility/subjects/{_q(subject)}/versions/latest"
        try:
            data = self._json("POST", path, {"schema": text}, params={"verbose": "true"})
        except SchemaNotFoundError:
            return Compatibility(True, [])  # Confluent: no such subject yet
        if data.get("is_compatible", False):
            return Compatibility(True, [])
        # Confluent gives `messages` with verbose=true; Apicurio gives none, so compute them.
        reasons = self._local_reasons(subject, text) or [str(m) for m in data.get("messages", [])]
        return Compatibility(False, reasons or ["the registry gives no reason"])

    def ensure_subject(
        self, subject: str, schema: Any, compatibility: str = DEFAULT_COMPATIBILITY
    ) -> int:
        """Set the subject's compatibility (once per client) and register `schema`; its id.

        The helper connectors use; raises IncompatibleSchemaError when the registry refuses."""
        key = (subject, canonical(schema))
        if key in self._ids:
            return self._ids[key]
        level = compatibility.upper()
        if self._compat_done.get(subject) != level:
            # Verified against Apicurio 3.0.9: PUT /config/{subject} creates the artifact's
            # COMPATIBILITY rule (also before the subject's first version), and that rule alone
            # makes it refuse an incompatible version with 409; no global rule is needed. A GET
            # first, so that a restart of many connectors does not rewrite the rules each time.
            if self.get_compatibility(subject) != level:
                self.set_compatibility(subject, level)
            self._compat_done[subject] = level
        return self.register(subject, schema)

    def _incompatible(self, subject: str, text: str, e: RegistryError) -> IncompatibleSchemaError:
        try:
            reasons = self._local_reasons(subject, text)
        except RegistryError:
            reasons = []  # the registry's own words must do
        return IncompatibleSchemaError(
            subject, e.reason, reasons, method=e.method, path=e.path, status=e.status
        )

    def _local_reasons(self, subject: str, text: str) -> list[str]:
        level = self.get_compatibility(subject) or DEFAULT_COMPATIBILITY
        previous = [self.get_version(subject, v).schema for v in self.versions(subject)]
        try:
            return compat.reasons(json.loads(text), previous, level)
        except Exception:  # a schema our checker cannot parse: the registry's words must do
            return []


def _q(subject: str) -> str:
    return quote(subject, safe="")
