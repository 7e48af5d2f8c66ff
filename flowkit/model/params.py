"""Param (one field spec), IntegrationType, and Integration with its lazily decrypted Credentials."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InvalidName, NotFoundError, ValidationError
from ..jsonvalue import check_json
from .names import MASK, PARAM_KINDS, SECRET_KINDS, check_identifier, check_label


@dataclass
class Param:
    """One field: a credential of an integration type or a param of a task.

    Args:
        name: an identifier.
        kind: one of ``text``, ``password``, ``number``, ``integer``,
            ``boolean``, ``choice``, ``json``.
        required: whether a value must be given.
        default: the value used when none is given.
        help: a sentence shown beside the field.
        choices: the allowed values for ``choice``.
        secret: whether values are masked where they are shown or recorded:
            always true for ``password``; a ``json`` field holding a secret
            (a service-account key) is marked ``secret=True``, and then every
            string and number inside its value is masked.
    """

    name: str
    kind: str = "text"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: list[Any] | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        check_identifier(self.name, "Parameter name")
        if self.kind not in PARAM_KINDS:
            raise ValidationError(
                f"Parameter {self.name!r} has kind {self.kind!r}; choose one of {', '.join(PARAM_KINDS)}."
            )
        if self.kind == "choice" and not self.choices:
            raise ValidationError(f"Parameter {self.name!r} is a choice but lists no choices.")
        if self.kind == "password" and self.default is not None:
            raise ValidationError(f"Parameter {self.name!r} is a password and cannot have a default.")
        if self.secret and self.kind not in SECRET_KINDS:
            raise ValidationError(
                f"Parameter {self.name!r} is {self.kind}, which cannot be marked secret: "
                'use kind="password" for a secret text, or kind="json" with secret=True.'
            )
        self.secret = self.kind == "password" or bool(self.secret)
        if self.secret and self.default is not None:
            raise ValidationError(f"Parameter {self.name!r} is secret and cannot have a default.")
        if self.choices is not None:
            self.choices = list(self.choices)
        check_json(self.default, f"{self.name}.default")
        check_json(self.choices, f"{self.name}.choices")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "required": self.required}
        if self.default is not None:
            data["default"] = self.default
        if self.help:
            data["help"] = self.help
        if self.choices is not None:
            data["choices"] = list(self.choices)
        if self.secret and self.kind != "password":
            data["secret"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        if isinstance(data, Param):
            return data
        unknown = set(data) - {"name", "kind", "required", "default", "help", "choices", "secret"}
        if unknown:
            raise ValidationError(f"Unknown parameter field(s): {', '.join(sorted(unknown))}.")
        if "name" not in data:
            raise ValidationError("A parameter needs a name.")
        return cls(**dict(data))


def params_from(items: Any) -> list[Param]:
    params = [item if isinstance(item, Param) else Param.from_dict(item) for item in items or []]
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise InvalidName(f"Parameter {param.name!r} is declared twice.")
        seen.add(param.name)
    return params


@dataclass
class IntegrationType:
    """What credentials an integration module needs; `name` is the module's name."""

    name: str
    description: str = ""
    params: list[Param] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_identifier(self.name, "Integration type name")
        self.params = params_from(self.params)

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise NotFoundError(name, hint=f"Type {self.name!r} has no parameter of that name.")

    @property
    def secret_fields(self) -> list[str]:
        return [param.name for param in self.params if param.secret]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": [param.to_dict() for param in self.params],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntegrationType:
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            params=[Param.from_dict(p) for p in data.get("params", [])],
        )


class Credentials(Mapping[str, Any]):
    """Credential values that never show themselves in a repr or str.

    Values are decrypted on first access through `loader`, so listing
    integrations needs no key.
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        loader: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._values = dict(values) if values is not None else None
        self._fields = list(fields) if fields is not None else list(values or {})
        self._loader = loader

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            if self._loader is None:
                raise ValidationError("These credentials were not loaded.")
            self._values = dict(self._loader())
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields if self._values is None else self._values)

    def __len__(self) -> int:
        return len(self._fields if self._values is None else self._values)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {MASK!r}" for name in self) + "}"

    __str__ = __repr__

    def reveal(self) -> dict[str, Any]:
        """The plain values, for the engine and Test Connection only."""
        return dict(self._load())


@dataclass(repr=False)
class Integration:
    """A configured instance of an integration type with its (masked) credentials.

    Attributes:
        version: a fingerprint of the stored, encrypted record (None until stored):
            it changes whenever the credentials are saved or re-encrypted, and
            says nothing of their values. Cached results are keyed on it.
    """

    name: str
    type: str
    credentials: Credentials = field(default_factory=Credentials)
    version: str | None = None

    def __post_init__(self) -> None:
        self.name = check_label(self.name, "Integration name")
        check_identifier(self.type, "Integration type")
        if not isinstance(self.credentials, Credentials):
            self.credentials = Credentials(self.credentials)

    def __repr__(self) -> str:
        return f"Integration(name={self.name!r}, type={self.type!r}, credentials={self.credentials!r})"

    __str__ = __repr__
