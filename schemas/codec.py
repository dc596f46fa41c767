"""Avro in the Confluent wire format: magic byte 0, the schema id as 4 bytes big-endian, then the
Avro binary body (fastavro's schemaless encoding).

This is the hot path of every stage, so schemas are parsed once and kept by id, and neither
encoding nor decoding talks to the registry after the first message of a schema.
"""

from __future__ import annotations

import io
import struct
import weakref
from typing import Any, Protocol

import fastavro
from fastavro.read import SchemaResolutionError

from .avro_binary import compile_writer

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")


class CodecError(Exception):
    """Base of what the codec raises for bytes or records it cannot handle."""


class WireFormatError(CodecError, ValueError):
    """Bytes that are not a Confluent-framed Avro message, or whose body does not decode."""


class UnknownSchemaError(CodecError, LookupError):
    """A message names a schema id that the registry does not know."""

    def __init__(self, schema_id: int, detail: str = ""):
        super().__init__(
            f"schema id {schema_id} is not in the schema registry"
            + (f": {detail}" if detail else "")
        )
        self.schema_id = schema_id


class EncodeError(CodecError, ValueError):
    """A record that does not fit the schema it is encoded with."""


class SchemaSource(Protocol):
    """What the codec needs from a registry client (schemas.registry.RegistryClient has it)."""

    def get_schema(self, schema_id: int) -> Any:
        """The writer schema (JSON) registered under `schema_id`; LookupError if unknown."""
        ...

    def register(self, subject: str, schema: Any) -> int:
        """Register `schema` under `subject` (or find it) and return its id."""
        ...

    def lookup(self, subject: str, schema: Any) -> int | None:
        """The id of `schema` under `subject`, None when it is not registered there."""
        ...


def parse(schema: Any) -> Any:
    """A fastavro-parsed schema (idempotent: an already parsed schema is returned as is)."""
    return fastavro.parse_schema(schema)


def header(schema_id: int) -> bytes:
    """The 5 framing bytes for `schema_id`."""
    try:
        return _HEADER.pack(MAGIC_BYTE, schema_id)
    except struct.error:
        raise ValueError(f"schema id {schema_id!r} does not fit 4 unsigned bytes") from None


def encode(schema_id: int, parsed_schema: Any, record: Any) -> bytes:
    """One record as Confluent-framed Avro; `parsed_schema` comes from fastavro.parse_schema."""
    out = io.BytesIO()
    out.write(header(schema_id))
    try:
        fastavro.schemaless_writer(out, parsed_schema, record)
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as e:
        raise EncodeError(
            f"record does not fit schema id {schema_id} ({_schema_name(parsed_schema)}):"
            f" {_scrub(e)}"
        ) from e
    return out.getvalue()


def decode_header(data: bytes | bytearray | memoryview | None) -> tuple[int, bytes]:
    """(schema id, Avro body) of a framed message; WireFormatError when it is not one."""
    schema_id = _schema_id(data)
    return schema_id, bytes(data[HEADER_SIZE:])  # type: ignore[index]


def _schema_id(data: Any) -> int:
    if data is None:
        raise WireFormatError("no bytes to decode (a tombstone?)")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireFormatError(f"expected bytes, got {type(data).__name__}")
    if len(data) < HEADER_SIZE:
        raise WireFormatError(
            f"{len(data)} bytes is too short for the Confluent wire format"
            f" (magic byte + 4-byte schema id)"
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(
            f"magic byte is {data[0]:#04x}, not 0x00: not Confluent-framed Avro"
            f" (plain JSON or string bytes?)"
        )
    return schema_id


def decode_with(writer_schema: Any, data: bytes, reader_schema: Any = None) -> Any:
    """Decode a framed message with a known parsed writer (and optional parsed reader) schema,
    whatever id the message names; for tests and tools that hold the schema already."""
    return _read(data, writer_schema, reader_schema, _schema_id(data))


def _read(data: Any, writer: Any, reader: Any, schema_id: int | None) -> Any:
    body = io.BytesIO(data)
    body.seek(HEADER_SIZE)
    try:
        record = fastavro.schemaless_reader(body, writer, reader)
    except SchemaResolutionError as e:
        raise WireFormatError(
            f"writer schema id {schema_id} cannot be read with the reader schema: {e}"
        ) from e
    except (EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError) as e:
        # What fastavro raises for bytes that are not a record of this schema.
        raise WireFormatError(
            f"Avro body does not decode with schema id {schema_id}: {type(e).__name__}: {e}"
        ) from e
    if body.tell() != len(data):
        raise WireFormatError(
            f"{len(data) - body.tell()} bytes left over after the record of schema id"
            f" {schema_id}: wrong schema id or corrupt message"
        )
    return record


def _scrub(error: Exception) -> str:
    # fastavro's union message starts with the value itself ("7413... (type <class 'int'>) do
    # not match ..."); that value may be a NIK or a name, and these messages reach logs and
    # dead letters, so only its type is kept.
    text = str(error)
    marker = " (type <class '"
    cut = text.find(marker)
    if cut < 0:
        return text
    kind, _, rest = text[cut + len(marker) :].partition("'>) ")
    return f"a value of type {kind} {rest.replace('do not match', 'does not match')}"


def _schema_name(parsed: Any) -> str:
    if isinstance(parsed, dict):
        return str(parsed.get("name") or parsed.get("type"))
    return str(parsed)


class Serializer:
    """Encodes records of one subject; the schema is registered (or looked up) on first use only."""

    def __init__(
        self, registry: SchemaSource, subject: str, schema: Any, *, auto_register: bool = True
    ):
        self.registry = registry
        self.subject = subject
        self.schema = schema
        self.parsed = parse(schema)
        # The same bytes as fastavro, several times faster; None for a schema it cannot write.
        self._compiled = compile_writer(self.parsed)
        self.auto_register = auto_register
        self._id: int | None = None
        self._header = b""

    @property
    def schema_id(self) -> int:
        """The registry id of the schema (one registry call the first time, none after)."""
        if self._id is None:
            if self.auto_register:
                schema_id = self.registry.register(self.subject, self.schema)
            else:
                found = self.registry.lookup(self.subject, self.schema)
                if found is None:
                    raise LookupError(
                        f"schema {_schema_name(self.parsed)} is not registered under subject"
                        f" {self.subject} (auto_register is off)"
                    )
                schema_id = found
            self._header = header(schema_id)
            self._id = schema_id
        return self._id

    def __call__(self, record: Any) -> bytes:
        """One record as Confluent-framed Avro."""
        if self._id is None:
            self.schema_id  # noqa: B018 - registers once and fills the header
        if self._compiled is not None:
            try:
                return self._header + self._compiled(record)
            except Exception:  # noqa: BLE001, S110 - fastavro writes it, or says what is wrong
                pass
        out = io.BytesIO()
        out.write(self._header)
        try:
            fastavro.schemaless_writer(out, self.parsed, record)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as e:
            raise EncodeError(
                f"record does not fit schema id {self._id} of subject {self.subject}: {_scrub(e)}"
            ) from e
        return out.getvalue()


class Deserializer:
    """Decodes framed messages of any schema id; each writer schema is fetched and parsed once.

    With a `reader_schema`, records are resolved to it (Avro schema resolution), so a consumer
    sees one shape whatever version wrote the message."""

    def __init__(self, registry: SchemaSource, reader_schema: Any = None):
        self.registry = registry
        self.reader = parse(reader_schema) if reader_schema is not None else None
        self._reader_form = (
            fastavro.schema.to_parsing_canonical_form(self.reader) if self.reader else None
        )
        # id -> (parsed writer, reader or None when resolution is not needed)
        self._schemas: dict[int, tuple[Any, Any]] = {}

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed writer schema of `schema_id` (fetched from the registry once)."""
        return self._load(schema_id)[0]

    def _load(self, schema_id: int) -> tuple[Any, Any]:
        entry = self._schemas.get(schema_id)
        if entry is None:
            try:
                raw = self.registry.get_schema(schema_id)
            except LookupError as e:
                raise UnknownSchemaError(schema_id, str(e)) from e
            writer = parse(raw)
            reader = self.reader
            if reader is not None and self._reader_form == (
                fastavro.schema.to_parsing_canonical_form(writer)
            ):
                reader = None  # same schema: skip resolution, it costs on every record
            entry = (writer, reader)
            self._schemas[schema_id] = entry
        return entry

    def __call__(self, data: bytes | None) -> Any:
        """The record in `data`; None for None (a tombstone), as Confluent's deserializer does."""
        if data is None:
            return None
        schema_id = _schema_id(data)
        entry = self._schemas.get(schema_id) or self._load(schema_id)
        return _read(data, entry[0], entry[1], schema_id)


# One Deserializer per registry client for the module-level decode(); weak, so that a client
# that is dropped takes its cached schemas with it.
_DESERIALIZERS: weakref.WeakKeyDictionary[Any, Deserializer] = weakref.WeakKeyDictionary()


def decode(registry: SchemaSource, data: bytes) -> Any:
    """The record in a framed message, with its writer schema from `registry` (cached by id)."""
    d = _DESERIALIZERS.get(registry)
    if d is None:
        d = _DESERIALIZERS[registry] = Deserializer(registry)
    return d(data)
