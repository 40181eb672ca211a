"""Standard risk case files (seeds/risk_cases/*.yaml), read strictly at start-up.

One case per file: its id (the file's name), title, summary, pattern (features of
backend/domain/case_features.py with values in (0, 1]), indicators, sources, typical outcome
and playbook. An unknown key, a key written twice, an unknown feature, owner role or outcome,
or a bad duration raises `BookFileError` naming the file, the line and the key.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from backend.book.durations import parse_duration
from backend.book.strict_yaml import BookFileError, first_error, located, read_yaml
from backend.domain.cases import OUTCOMES
from backend.domain.playbooks import (
    OWNER_ROLES,
    PlaybookError,
    PlaybookStep,
    StandardCase,
    check_pattern,
    check_steps,
)

Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Strict):
    title: str = Field(min_length=1, max_length=200)
    owner: str
    within: Duration                           # the deadline, after the alert opened
    description: str = Field("", max_length=2000)

    @field_validator("owner")
    @classmethod
    def _known_owner(cls, value: str) -> str:
        if value not in OWNER_ROLES:
            raise ValueError(f"owner {value!r} is not one of {', '.join(OWNER_ROLES)}")
        return value


class RiskCaseSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1)
    pattern: dict[str, float]
    indicators: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    typical_outcome: str | None = None
    playbook: list[StepSpec] = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
        try:
            check_pattern(value)
        except PlaybookError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("typical_outcome")
    @classmethod
    def _known_outcome(cls, value: str | None) -> str | None:
        if value is not None and value not in OUTCOMES:
            raise ValueError(f"typical_outcome {value!r} is not one of {', '.join(OUTCOMES)}")
        return value


def parse_risk_case(text: str, path: str) -> StandardCase:
    data, root = read_yaml(text, path)
    if not isinstance(data, dict):
        raise BookFileError(f"{path}: expected a mapping of risk case keys at the top")
    try:
        spec = RiskCaseSpec.model_validate(data)
    except ValidationError as exc:
        raise BookFileError(located(path, root, *first_error(exc))) from exc
    if Path(path).stem != spec.id:
        raise BookFileError(located(path, root, ("id",), f"must be the file's name, {Path(path).stem!r}"))
    steps = tuple(PlaybookStep(s.title, s.owner, s.within, s.description) for s in spec.playbook)
    check_steps(steps)
    return StandardCase(spec.id, spec.title, spec.summary, MappingProxyType(dict(spec.pattern)),
                        tuple(spec.indicators), tuple(spec.sources), spec.typical_outcome, steps)


def load_risk_cases(folder: str | Path | None = None) -> list[StandardCase]:
    """Every `*.yaml` in `folder` (default: the packaged seeds/risk_cases), sorted by id."""
    root = Path(folder) if folder is not None else Path(str(resources.files("seeds").joinpath("risk_cases")))
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        raise BookFileError(f"{root}: no risk case files (*.yaml)")
    cases = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BookFileError(f"{path}: cannot read: {exc.strerror}") from exc
        cases.append(parse_risk_case(text, str(path)))
    return sorted(cases, key=lambda case: case.id)
