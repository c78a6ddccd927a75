"""Arguments of manual runs: checked against the parameters a job declares.

    @monitored_job("rebuild_index", ..., params={"days": int, "dry_run": bool})
    @monitored_job("export", ..., params={"type": "object", "properties": {...}})  # JSON schema

A manual run (API ``{"params": {"days": 3}}`` or the job page's form) may pass only
declared names with values of the declared type (or what the JSON schema allows); a job
declaring none takes no arguments.
"""

import jsonschema

from scheduler_monitor.models import JobDefinition
from scheduler_monitor.registry import is_json_schema

# JSON schema types and the simple type a form field converts to.
JSON_TYPES = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}


class ParamsInvalid(ValueError):
    """Arguments a job does not accept; ``field`` names the offending one."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _typed(kind: str, value):
    """``value`` as the declared type, or raise TypeError. JSON numbers: no bools."""
    if kind == "bool" and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise TypeError
    if kind == "int" and isinstance(value, int):
        return value
    if kind == "float" and isinstance(value, int | float) and value == value:
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    raise TypeError


def job_params_validate(*, job: JobDefinition, params) -> dict:
    """Return the checked arguments (empty for none); raise ParamsInvalid naming the bad one."""
    if params is None or params == {}:
        return {}
    if not isinstance(params, dict):
        raise ParamsInvalid("params", "must be an object of name: value")
    schema = job.params_schema or {}
    if not schema:
        raise ParamsInvalid("params", f"job {job.job_id!r} declares no parameters")
    if is_json_schema(schema):
        return _json_schema_validate(schema, params)
    checked = {}
    for name, value in params.items():
        kind = schema.get(name)
        if kind is None:
            declared = ", ".join(f"{n} ({k})" for n, k in schema.items())
            raise ParamsInvalid(f"params.{name}", f"unknown parameter; declared: {declared}")
        try:
            checked[name] = _typed(kind, value)
        except TypeError:
            raise ParamsInvalid(f"params.{name}", f"must be of type {kind}") from None
    return checked


def _json_schema_validate(schema: dict, params: dict) -> dict:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(params)
    )
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise ParamsInvalid(f"params.{where}" if where else "params", error.message)
    return params


def form_fields(job: JobDefinition) -> list[tuple[str, str]]:
    """(name, simple type) of the job's arguments, for the job page's form."""
    schema = job.params_schema or {}
    if is_json_schema(schema):
        return sorted(
            (name, JSON_TYPES.get(spec.get("type"), "str") if isinstance(spec, dict) else "str")
            for name, spec in schema.get("properties", {}).items()
        )
    return sorted(schema.items())


def job_params_from_form(*, job: JobDefinition, form: dict) -> dict:
    """Arguments typed into the job page's form (strings), converted to the declared types.

    Empty fields are left out; a value that does not convert is a ParamsInvalid.
    """
    params = {}
    for name, kind in form_fields(job):
        raw = (form.get(f"param_{name}") or "").strip()
        if not raw:
            continue
        try:
            if kind == "int":
                params[name] = int(raw)
            elif kind == "float":
                params[name] = float(raw)
            elif kind == "bool":
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                params[name] = raw.lower() in ("true", "1", "yes")
            else:
                params[name] = raw
        except ValueError:
            raise ParamsInvalid(f"params.{name}", f"must be of type {kind}") from None
    return job_params_validate(job=job, params=params)
