"""Loads the assessment forms shipped as data files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from domain.forms import AssessmentForm, RatingScale

FORMS_DIRECTORY = Path(__file__).parent / "data" / "forms"


class FormFileError(Exception):
    pass


def load_forms() -> dict[str, AssessmentForm]:
    forms = {}
    for path in sorted(FORMS_DIRECTORY.glob("*.yaml")):
        if path.is_file():
            form = parse_form(path.name, yaml.safe_load(path.read_text(encoding="utf-8")))
            forms[form.form_id] = form
    return forms


def parse_form(source: str, data: Any) -> AssessmentForm:
    def need(mapping: Any, key: str, where: str) -> Any:
        if not isinstance(mapping, dict) or key not in mapping:
            raise FormFileError(f"{source}: {where} is missing field '{key}'")
        return mapping[key]

    scale = need(data, "scale", "the form")
    items = need(data, "rated_items", "the form")
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or not items:
        raise FormFileError(f"{source}: rated_items must be a non-empty list of item names")
    try:
        rating_scale = RatingScale(
            minimum=int(need(scale, "min", "scale")),
            maximum=int(need(scale, "max", "scale")),
            pass_from=int(need(scale, "pass_from", "scale")),
        )
    except (TypeError, ValueError):
        raise FormFileError(f"{source}: scale min, max and pass_from must be integers") from None
    if not rating_scale.minimum <= rating_scale.pass_from <= rating_scale.maximum:
        raise FormFileError(f"{source}: scale.pass_from must lie between min and max")
    return AssessmentForm(
        form_id=str(need(data, "form_id", "the form")),
        name=str(need(data, "name", "the form")),
        scale=rating_scale,
        rated_items=tuple(items),
    )
