"""The workspace's collections: ``ws.types``, ``ws.integrations``, ``ws.workflows`` (``ws.runs``: `history`).

Each checks what it is given before anything is written (nothing is saved
half) and refuses to delete what others still use. Each is handed the parts it
needs (the store, the registry, the key ring, the validator), never the whole
`Workspace`, which builds them.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import crypto
from .errors import (
    AlreadyExistsError,
    CredentialsError,
    DamagedRecordError,
    IntegrationNotFound,
    InUseError,
    SecretKeyError,
    TypeNotFound,
    WorkflowNotFound,
)
from .integrations.registry import Registry
from .model import (
    Credentials,
    Integration,
    IntegrationType,
    Param,
    Workflow,
    check_label,
    normal_label,
    params_from,
)
from .redaction import PARAMS_ADVICE, Redactor, StoredSecret, refuse_secrets, secret_leaves, url_passwords
from .schema import validate_values
from .store import Store

if TYPE_CHECKING:
    from .run.validation import Problem


class TypeCollection:
    """Integration types: what credentials each integration module needs."""

    collection = "types"

    def __init__(self, store: Store, registry: Registry) -> None:
        self._store = store
        self._registry = registry

    def create(
        self,
        name: str,
        *,
        description: str = "",
        params: list[Param] | list[dict[str, Any]] | None = None,
        check_module: bool = True,
    ) -> IntegrationType:
        """Create a type for the integration module `name`.

        Args:
            check_module: refuse a name with no integration module on the path.
        """
        itype = IntegrationType(name, description, params_from(params))
        if check_module:
            self._registry.module(name)
        if not self._store.insert_new(self.collection, itype.to_dict()):
            raise AlreadyExistsError(f"An integration type named {name!r} already exists.")
        return itype

    def create_from_module(self, name: str, *, description: str | None = None) -> IntegrationType:
        """Create a type from the module's ``CREDENTIALS`` declaration."""
        module = self._registry.module(name)
        if module.credentials is None:
            raise CredentialsError(f"Integration module {name!r} declares no CREDENTIALS.")
        return self.create(
            name,
            description=description if description is not None else module.description,
            params=module.credentials,
        )

    def drift(self, name: str) -> list[str]:
        """How the stored type differs from its module's ``CREDENTIALS``, as sentences."""
        itype = self.get(name)
        declared = self._registry.module(name).credentials
        if declared is None:
            return []
        stored = {param.name: param.to_dict() for param in itype.params}
        wanted = {param.name: param.to_dict() for param in declared}
        notes = [f"{n!r} is declared by the module but missing from the type" for n in wanted if n not in stored]
        notes += [f"{n!r} is in the type but no longer declared by the module" for n in stored if n not in wanted]
        for n in [n for n in wanted if n in stored]:  # the module's order, so reports read stably
            for attr in ("kind", "required", "default", "choices", "help", "secret"):
                if wanted[n].get(attr) != stored[n].get(attr):
                    notes.append(
                        f"{n!r}: {attr} is {stored[n].get(attr)!r} in the type "
                        f"but {wanted[n].get(attr)!r} in the module"
                    )
        return notes

    def save(self, itype: IntegrationType) -> IntegrationType:
        """Create or replace a type."""
        self._store.upsert(self.collection, itype.to_dict())
        return itype

    def get(self, name: str) -> IntegrationType:
        doc = self._store.get(self.collection, name)
        if doc is None:
            raise TypeNotFound(name, hint="Create it with ws.types.create(...).")
        return IntegrationType.from_dict(doc)

    def list(self) -> list[IntegrationType]:
        return sorted((IntegrationType.from_dict(d) for d in self._store.all(self.collection)), key=lambda t: t.name)

    def delete(self, name: str) -> None:
        """Delete a type no integration uses."""
        with self._store.locked():
            self.get(name)
            users = sorted(d["name"] for d in self._store.all("integrations") if d["type"] == name)
            if users:
                raise InUseError(
                    f"Integration type {name!r} is used by {', '.join(users)}; delete those first.",
                    users=users,
                )
            self._store.delete(self.collection, name)


class IntegrationCollection:
    """Integrations: named credentials, encrypted at rest, masked everywhere else."""

    collection = "integrations"

    def __init__(
        self, store: Store, types: TypeCollection, registry: Registry, keyring: Callable[..., crypto.KeyRing]
    ) -> None:
        self._store = store
        self._types = types
        self._registry = registry
        self._keyring = keyring

    def key_ids(self) -> list[str]:
        """Fingerprints of the keys the stored records were encrypted with."""
        return [doc["key_id"] for doc in self._store.all(self.collection)]

    def _checked(self, name: str, type_name: str, credentials: dict[str, Any], *, what: str) -> dict[str, Any]:
        itype = self._types.get(type_name)
        values = validate_values(itype.params, credentials, what=what, error=CredentialsError)
        return {key: value for key, value in values.items() if value != ""}

    def _record(self, name: str, type_name: str, values: dict[str, Any]) -> dict[str, Any]:
        token, key_id = self._keyring(create=True).encrypt(values)
        return {"name": name, "type": type_name, "fields": sorted(values), "secret": token, "key_id": key_id}

    def create(self, name: str, *, type: str, credentials: dict[str, Any]) -> Integration:
        """Validate `credentials` against the type and store them encrypted."""
        name = check_label(name, "Integration name")
        values = self._checked(name, type, credentials, what=f"Credentials of {name!r}")
        # Encrypt under the lock: a key rotation (which holds it) cannot
        # slip in between and leave this record under a retired key.
        with self._store.locked():
            if not self._store.insert_new(self.collection, self._record(name, type, values)):
                raise AlreadyExistsError(f"An integration named {name!r} already exists.")
        return Integration(name, type, Credentials(values))

    def update(self, name: str, *, credentials: dict[str, Any]) -> Integration:
        """Change credentials; a blank or missing password field keeps the stored value."""
        with self._store.locked():
            current = self.get(name)
            name = current.name  # as stored (NFC)
            itype = self._types.get(current.type)
            try:
                merged = current.credentials.reveal()
                damaged = None
            except DamagedRecordError as exc:
                # Re-entering every field is the way out of a damaged record.
                merged, damaged = {}, exc
            for key, value in credentials.items():
                param = next((p for p in itype.params if p.name == key), None)
                if param is not None and param.secret and value in (None, ""):
                    continue
                merged[key] = value
            try:
                values = self._checked(name, current.type, merged, what=f"Credentials of {name!r}")
            except CredentialsError as exc:
                if damaged is None:
                    raise
                raise CredentialsError(
                    f"The stored credentials of {name!r} are damaged, so none can be kept: give every "
                    f"field again. {exc}"
                ) from damaged
            self._store.upsert(self.collection, self._record(name, current.type, values))
        return Integration(name, current.type, Credentials(values))

    def _from_doc(self, doc: dict[str, Any]) -> Integration:
        name = doc["name"]

        def load() -> dict[str, Any]:
            return self._keyring().decrypt(doc["secret"], doc["key_id"], what=f"integration {name!r}")

        version = hashlib.sha256(str(doc["secret"]).encode()).hexdigest()[:16]  # of the ciphertext, not the values
        return Integration(name, doc["type"], Credentials(fields=doc.get("fields", []), loader=load), version)

    def get(self, name: str) -> Integration:
        """The integration; its credentials decrypt on first access and never print."""
        doc = self._store.get(self.collection, normal_label(name) if isinstance(name, str) else name)
        if doc is None:
            raise IntegrationNotFound(name, hint="Create it with ws.integrations.create(...).")
        return self._from_doc(doc)

    def list(self) -> list[Integration]:
        return sorted((self._from_doc(d) for d in self._store.all(self.collection)), key=lambda i: i.name)

    def test(
        self,
        name: str | None = None,
        *,
        type: str | None = None,
        credentials: dict[str, Any] | None = None,
        timeout: float | None = 30.0,
    ) -> dict[str, Any]:
        """Call the module's ``test_connection`` task with saved or unsaved credentials.

        It runs like a node's task: in a child process stopped after `timeout`
        seconds, its output captured, every credential value masked; a hang, an
        exception or a bad return value gives ``success: False`` with the reason.

        Args:
            name: a saved integration; `credentials` given too override its
                stored fields (blank values keep the stored ones).
            type: with `credentials`, test values that are not saved yet.
            credentials: credential values, checked against the type.
            timeout: seconds before the test is stopped; None runs it in this thread.

        Returns:
            ``{"success": bool, "message": str}``, plus ``steps`` when the task reports them.
        """
        from .errors import ValidationError
        from .executors.call import remember
        from .executors.invoke import call_task

        if name is not None:
            integration = self.get(name)
            type_name = integration.type
            given = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
            values = {**integration.credentials.reveal(), **given}
        elif type is not None:
            type_name, values = type, dict(credentials or {})
        else:
            raise ValidationError("Name a saved integration, or give type= and credentials= to test.")
        try:
            what = f"Credentials of {name!r}" if name else f"Credentials for type {type_name!r}"
            values = validate_values(self._types.get(type_name).params, values, what=what, error=CredentialsError)
        except CredentialsError as exc:
            return {"success": False, "message": str(exc)}
        module = self._registry.module(type_name)
        if "test_connection" not in module.tasks:
            return {
                "success": False,
                "message": f"The integration module {type_name!r} has no test_connection "
                "task; add `def test_connection(credentials, params)` to it.",
            }
        remember(type_name, module.location, {task: spec.func for task, spec in module.tasks.items()})
        secrets = secret_leaves(values, self._types.get(type_name).secret_fields)
        outcome = call_task(type_name, module.location, "test_connection", values, {}, timeout, secrets)
        result = outcome["result"] if isinstance(outcome["result"], dict) else {}
        if outcome["ok"]:
            message = str(result.get("message") or "Connection OK.")
        else:
            message = str(result.get("message") or outcome["error"])
        report: dict[str, Any] = {"success": bool(outcome["ok"]), "message": message}
        if "steps" in result:
            report["steps"] = result["steps"]
        return Redactor.of(secrets)(report)  # shown: its secrets masked, its other values as they are

    def delete(self, name: str) -> None:
        """Delete an integration no saved workflow uses."""
        with self._store.locked():
            name = self.get(name).name
            users = sorted(
                wf["name"]
                for wf in self._store.all("workflows")
                if any(node["integration"] == name for node in wf.get("nodes", []))
            )
            if users:
                raise InUseError(
                    f"Integration {name!r} is used by the workflow(s) {', '.join(users)}; "
                    "change or delete those first.",
                    users=users,
                )
            self._store.delete(self.collection, name)

    def reencrypt(self, ring: crypto.KeyRing) -> int:
        """Re-encrypt every record under `ring`'s primary key in one atomic write."""
        with self._store.locked():
            updates = {}
            for doc in self._store.all(self.collection):
                token, key_id = ring.rotate(doc["secret"], doc["key_id"], what=f"integration {doc['name']!r}")
                updates[doc["name"]] = {"secret": token, "key_id": key_id}
            if updates:
                self._store.update_many(self.collection, updates)
            return len(updates)

    def stored_secrets(self, names: "Sequence[str] | None" = None) -> "builtins.list[StoredSecret]":
        """``(integration, field, value)`` of every stored secret of the named integrations (all if None).

        The secret fields (`Param.secret`; every field if the type is gone),
        and the password of a URL with userinfo in any field.
        """
        found: builtins.list[StoredSecret] = []
        for integration in self.list():
            if names is not None and integration.name not in names:
                continue
            try:
                secret_fields: builtins.list[str] | None = self._types.get(integration.type).secret_fields
            except TypeNotFound:
                secret_fields = None
            for field, value in integration.credentials.reveal().items():
                if secret_fields is None or field in secret_fields:
                    found.append((integration.name, field, value))
                found += [(integration.name, field, password) for password in url_passwords(value)]
        return found

    def secret_values(self, names: "Sequence[str] | None" = None) -> tuple[str, ...]:
        """What to mask for the named integrations (all if None): every leaf of their stored secrets."""
        leaves = (secret_leaves({field: value}) for _, field, value in self.stored_secrets(names))
        return tuple(dict.fromkeys(leaf for group in leaves for leaf in group))


class WorkflowCollection:
    """Saved workflows, each save a new version."""

    collection = "workflows"

    def __init__(
        self,
        store: Store,
        validate: Callable[[Workflow], builtins.list[Problem]],
        stored_secrets: Callable[[], builtins.list[StoredSecret]] = builtins.list,
    ) -> None:
        self._store = store
        self._validate = validate
        self._stored_secrets = stored_secrets  # what node params may not hold (IntegrationCollection.stored_secrets)

    def save(self, workflow: Workflow) -> Workflow:
        """Validate and save; a workflow with errors is refused and nothing is written."""
        problems = self._validate(workflow)
        if any(problem.severity == "error" for problem in problems):
            from .run.validation import refusal  # networkx and Jinja load with the first save, not the catalog

            raise refusal(workflow, problems)
        self._refuse_pasted_secrets(workflow)
        with self._store.locked():
            current = self._store.get(self.collection, workflow.name)
            version = int(current["version"]) + 1 if current else 1
            self._store.upsert(self.collection, {**workflow.to_dict(), "version": version})
        workflow.version = version
        return workflow

    def _refuse_pasted_secrets(self, workflow: Workflow) -> None:
        """Refuse node params holding a stored secret: a workflow is stored in plain text.

        Skipped when the key is missing or wrong: saving a workflow never needed
        the key, and such a workspace cannot run it anyway.
        """
        if not any(node.params for node in workflow.nodes.values()):
            return
        try:
            stored = self._stored_secrets()
        except SecretKeyError:
            return
        for node in workflow.nodes.values():
            refuse_secrets(node.params, stored, where=f"Node {node.name!r}: params", advice=PARAMS_ADVICE)

    def get(self, name: str) -> Workflow:
        doc = self._store.get(self.collection, normal_label(name) if isinstance(name, str) else name)
        if doc is None:
            raise WorkflowNotFound(name, hint="Save it with ws.workflows.save(workflow).")
        return Workflow.from_dict(doc)

    def list(self) -> list[Workflow]:
        return sorted((Workflow.from_dict(d) for d in self._store.all(self.collection)), key=lambda w: w.name)

    def delete(self, name: str) -> None:
        """Delete a workflow no schedule and no other saved workflow (as a sub-workflow) runs."""
        with self._store.locked():
            name = self.get(name).name
            users = sorted(doc["name"] for doc in self._store.all("schedules") if doc.get("workflow") == name)
            if users:
                raise InUseError(
                    f"Workflow {name!r} is run by the schedule(s) {', '.join(users)}; delete those first.", users=users
                )
            users = sorted(
                wf["name"]
                for wf in self._store.all(self.collection)
                if wf["name"] != name and any(node.get("workflow") == name for node in wf.get("nodes", []))
            )
            if users:
                raise InUseError(
                    f"Workflow {name!r} is run by the workflow(s) {', '.join(users)}; change or delete those first.",
                    users=users,
                )
            self._store.delete(self.collection, name)
