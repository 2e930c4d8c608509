"""Standards and policies loaded from files: the shipped ones, a programme's own, bad ones."""

from __future__ import annotations

import re
import textwrap
from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from domain.errors import InvalidCommand
from domain.policies import DEPARTMENT_AVERAGE, EVERY_REQUIREMENT, LICENSED_LEVEL_ONLY
from domain.standards import TrainingStandard
from service.regulations import SHIPPED_DIRECTORY, RegulationFileError, load_regulations

SHIPPED_STANDARDS = {
    "general practice@2014",
    "general surgery@2014",
    "general surgery@2022",
    "internal medicine@2014",
    "internal medicine@2022",
    "paediatrics@2014",
    "paediatrics@2022",
}
SHIPPED_POLICIES = {"chongqing@2015", "jilin@2017", "jiangsu@2016", "jiangsu@2025"}
INTERNAL_MEDICINE = SHIPPED_DIRECTORY / "standards" / "internal_medicine.yaml"
# Where internal medicine@2014 begins, as messages about it must say.
INTERNAL_MEDICINE_2014_LINE = INTERNAL_MEDICINE.read_text(encoding="utf-8").splitlines().index(
    '  - version: "2014"') + 1

# A programme's own standard. Line numbers matter: tests below break particular lines.
DERMATOLOGY = """\
specialty: dermatology
aliases: [皮肤科]
versions:
  - version: "2024"
    effective_from: 2024-09-01
    degree_category: CLINICAL_MEDICINE
    total_months: 33
    source: programme's own, illustrative
    departments:
      - name: dermatology
        months: 24
        min_counts: {CASE: 100}
      - name: dermatopathology
        months: 4
"""


def write(directory: Path, folder: str, name: str, text: str) -> Path:
    (directory / folder).mkdir(parents=True, exist_ok=True)
    path = directory / folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str, folder: str = "standards") -> str:
    write(tmp_path, folder, "own.yaml", text)
    with pytest.raises(RegulationFileError) as raised:
        load_regulations(tmp_path)
    return str(raised.value)


# --- the shipped files ------------------------------------------------------------------


def test_every_shipped_file_loads_and_says_what_it_is() -> None:
    regulations = load_regulations()
    assert set(regulations.standards) == SHIPPED_STANDARDS
    assert set(regulations.policies) == SHIPPED_POLICIES
    shipped_files = {p.stem for p in (SHIPPED_DIRECTORY / "standards").glob("*.yaml")}
    assert shipped_files == {"internal_medicine", "general_surgery", "general_practice",
                             "paediatrics"}
    for standard in regulations.standards.values():
        assert standard.illustrative and standard.source, standard.id
        assert standard.total_months == 33
        assert standard.degree_category == "CLINICAL_MEDICINE"
        required = sum(d.months for d in standard.departments if d.required)
        assert required + standard.elective_months <= standard.total_months, standard.id


def test_sourced_numbers_are_the_sourced_ones() -> None:
    regulations = load_regulations()
    surgery = regulations.standards["general surgery@2014"]
    assert [d.months for d in surgery.departments] == [16, 6, 3, 3, 2, 2, 1]
    cardiology = regulations.standards["internal medicine@2014"].department("心血管内科")
    assert cardiology is not None and cardiology.name == "cardiology"
    assert cardiology.months == 4
    assert dict(cardiology.min_counts) == {"CASE": 54, "PROCEDURE": 72}
    # A department without its own list takes the standard's default assessments.
    assert cardiology.assessments == ("MINI_CEX", "DOPS", "DEPARTURE_EXAM")


@pytest.mark.parametrize(
    ("name", "specialty"),
    [
        ("internal medicine", "internal medicine"),
        ("内科", "internal medicine"),
        ("general surgery", "general surgery"),
        ("外科", "general surgery"),
        ("Surgery", "general surgery"),
        ("general practice", "general practice"),
        ("全科", "general practice"),
        ("paediatrics", "paediatrics"),
        ("儿科", "paediatrics"),
        ("pediatrics", "paediatrics"),
    ],
)
def test_each_specialty_is_found_by_its_name_and_its_chinese_name(name: str,
                                                                  specialty: str) -> None:
    standard = load_regulations().standard_in_force(name, date(2024, 9, 1))
    assert standard.specialty == specialty


@pytest.mark.parametrize(
    ("enrolled", "version"), [(date(2022, 9, 1), "2014"), (date(2024, 9, 1), "2022")]
)
def test_the_standard_in_force_at_enrollment_binds(enrolled: date, version: str) -> None:
    standard = load_regulations().standard_in_force("internal medicine", enrolled)
    assert standard.version == version


@pytest.mark.parametrize(("on", "threshold"), [(date(2025, 1, 1), 80), (date(2025, 3, 1), 88)])
def test_jiangsu_raised_its_completion_gate_in_2025(on: date, threshold: float) -> None:
    policy = load_regulations().policy_in_force("jiangsu", on)
    assert policy.completion_method == DEPARTMENT_AVERAGE
    assert policy.completion_threshold_percent == threshold


def test_chongqing_and_jilin_differ_where_their_seeds_do() -> None:
    regulations = load_regulations()
    chongqing = regulations.policy_in_force("Chongqing", date(2024, 9, 1))
    jilin = regulations.policy_in_force("jilin", date(2024, 9, 1))
    assert chongqing.certificate_holders_may_enroll and not jilin.certificate_holders_may_enroll
    assert chongqing.prior_training_credit == LICENSED_LEVEL_ONLY
    assert chongqing.degree_publication_kinds == {"REVIEW", "CASE_ANALYSIS"}
    assert jilin.degree_publication_kinds == frozenset()
    assert set(jilin.bachelor_majors) == {
        "CLINICAL_MEDICINE", "STOMATOLOGY", "TCM", "INTEGRATED_TCM_WESTERN"}
    assert chongqing.completion_method == jilin.completion_method == EVERY_REQUIREMENT


def test_an_unknown_specialty_or_jurisdiction_lists_the_known_ones() -> None:
    regulations = load_regulations()
    with pytest.raises(InvalidCommand, match="known specialties: general practice, general "
                       "surgery, internal medicine, paediatrics"):
        regulations.standard_in_force("dentistry", date(2024, 9, 1))
    with pytest.raises(InvalidCommand, match="known jurisdictions: chongqing, jiangsu, jilin"):
        regulations.policy_in_force("hainan", date(2024, 9, 1))


# --- a programme's own directory --------------------------------------------------------


def test_a_programme_adds_a_specialty_and_a_new_version(tmp_path: Path) -> None:
    write(tmp_path, "standards", "dermatology.yaml", DERMATOLOGY)
    write(tmp_path, "standards", "im_2026.yaml", """\
        specialty: internal medicine
        versions:
          - version: "2026-local"
            effective_from: 2026-09-01
            degree_category: CLINICAL_MEDICINE
            total_months: 33
            departments:
              - {name: cardiology, months: 6, min_counts: {CASE: 60}}
        """)
    regulations = load_regulations(tmp_path)
    dermatology = regulations.standard_in_force("皮肤科", date(2025, 9, 1))
    assert isinstance(dermatology, TrainingStandard) and dermatology.id == "dermatology@2024"
    assert dermatology.illustrative  # unless a file says otherwise
    newest = regulations.standard_in_force("内科", date(2026, 9, 1))
    assert newest.version == "2026-local"
    assert newest.department("cardiology").months == 6
    assert regulations.standard_in_force("内科", date(2026, 8, 31)).version == "2022"
    assert set(load_regulations().standards) == SHIPPED_STANDARDS  # nothing leaks


def test_a_published_version_cannot_be_published_again(tmp_path: Path) -> None:
    message = refusal(tmp_path, """\
        specialty: internal medicine
        versions:
          - version: 2014
            effective_from: 2015-01-01
            degree_category: CLINICAL_MEDICINE
            total_months: 33
            departments: [{name: cardiology, months: 4}]
        """)
    assert message == (f"{tmp_path / 'standards' / 'own.yaml'}:3: versions[0]: "
                       "internal medicine@2014 is already published in "
                       f"service/data/standards/internal_medicine.yaml:{INTERNAL_MEDICINE_2014_LINE}")


def test_a_policy_version_cannot_be_published_again(tmp_path: Path) -> None:
    jilin = (SHIPPED_DIRECTORY / "policies" / "jilin.yaml").read_text(encoding="utf-8")
    message = refusal(tmp_path, jilin, folder="policies")
    assert message.startswith(f"{tmp_path / 'policies' / 'own.yaml'}:")
    assert "jilin@2017 is already published in service/data/policies/jilin.yaml:" in message


def test_a_directory_without_standards_or_policies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegulationFileError, match="has neither standards/ nor policies/"):
        load_regulations(tmp_path)
    with pytest.raises(RegulationFileError, match="is not a directory"):
        load_regulations(tmp_path / "missing")


# --- bad files: file:line: field: problem -----------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("months: 4\n", "months: four\n",
         "14: versions[0].departments[1].months: must be a number, got 'four'"),
        ("months: 24\n", "months: 24\n        minimum_counts: {CASE: 1}\n",
         "12: versions[0].departments[0].minimum_counts: unknown field; expected one of: "
         "name, aliases, months, required, min_counts, assessments"),
        ("      - name: dermatopathology\n", "      - aliases: [皮肤病理]\n",
         "13: versions[0].departments[1].name: missing required field"),
        ("    total_months: 33\n", "",
         "4: versions[0].total_months: missing required field"),
        ("CASE: 100", "CASES: 100",
         "12: versions[0].departments[0].min_counts.CASES: unknown entry kind 'CASES'; "
         "allowed: CASE, PROCEDURE, DUTY_SHIFT, TEACHING_ROUND, LECTURE, OTHER"),
        ("aliases: [皮肤科]", "aliases: [皮肤科",
         "3: not valid YAML: expected ',' or ']', but got ':' "
         "(while parsing a flow sequence at line 2)"),
        ("CLINICAL_MEDICINE", "NURSING",
         "6: versions[0].degree_category: unknown degree category 'NURSING'; allowed: "
         "CLINICAL_MEDICINE, STOMATOLOGY, TCM, INTEGRATED_TCM_WESTERN"),
        ("months: 4\n", "months: -1\n",
         "14: versions[0].departments[1].months: must be at least 0, got -1"),
        ("months: 4\n", "months: 10\n",
         "7: versions[0].total_months: required departments' 34 months + elective_months 0 "
         "exceed total_months 33"),
        ("name: dermatopathology", "name: Dermatology",
         "13: versions[0].departments[1]: department name 'Dermatology' is already used "
         "at line 10"),
        ("    total_months: 33\n", "    total_months: 33\n    total_months: 36\n",
         "8: versions[0].total_months: repeats the field at line 7"),
        ("2024-09-01", "2024-09-01 08:00",
         "5: versions[0].effective_from: must be a date like 2014-12-01, got '2024-09-01 08:00'"),
        ("[皮肤科]", "[内科]",
         "4: versions[0]: the name '内科' already means 'internal medicine' in "
         f"service/data/standards/internal_medicine.yaml:{INTERNAL_MEDICINE_2014_LINE}"),
    ],
)
def test_a_bad_standard_is_reported_as_file_line_field_problem(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert DERMATOLOGY.count(old) == 1
    message = refusal(tmp_path, DERMATOLOGY.replace(old, new))
    assert message == f"{tmp_path / 'standards' / 'own.yaml'}:{expected}"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("completion_threshold_percent: 100", "completion_threshold_percent: 101",
         "versions[0].completion_threshold_percent: must be between 0 and 100, got 101"),
        ("completion_method: every_requirement", "completion_method: average",
         "versions[0].completion_method: unknown completion method 'average'; allowed: "
         "every_requirement, department_average"),
        ("prior_training_credit: any_level", "prior_training_credit: all",
         "versions[0].prior_training_credit: unknown prior training credit 'all'; allowed: "
         "any_level, licensed_level_only"),
        ("degree_publication_kinds: []", "degree_publication_kinds: [review]",
         "versions[0].degree_publication_kinds[0]: must be an upper-case name like REVIEW, "
         "got 'review'"),
    ],
)
def test_a_bad_policy_is_reported_the_same_way(tmp_path: Path, old: str, new: str,
                                               expected: str) -> None:
    text = (SHIPPED_DIRECTORY / "policies" / "jilin.yaml").read_text(encoding="utf-8")
    text = text.replace("jurisdiction: jilin", "jurisdiction: hainan")
    assert text.count(old) == 1
    line = text[: text.index(old)].count("\n") + 1
    message = refusal(tmp_path, text.replace(old, new), folder="policies")
    assert message == f"{tmp_path / 'policies' / 'own.yaml'}:{line}: {expected}"


def test_a_policy_must_state_the_settings_the_seeds_disagree_on(tmp_path: Path) -> None:
    message = refusal(tmp_path, """\
        jurisdiction: hainan
        versions:
          - version: "2020"
            effective_from: 2020-09-01
            bachelor_majors: {CLINICAL_MEDICINE: [临床医学]}
        """, folder="policies")
    assert message == (f"{tmp_path / 'policies' / 'own.yaml'}:3: "
                       "versions[0].certificate_holders_may_enroll: missing required field")


# --- the command line -------------------------------------------------------------------


def test_the_cli_lists_every_standard_and_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "standards", "dermatology.yaml", DERMATOLOGY)
    monkeypatch.setenv("DUALTRACK_DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.setenv("DUALTRACK_REGULATIONS_DIR", str(tmp_path))
    assert main(["regulations"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = {re.split(r"\s{2,}", line)[1] for line in lines}
    assert ids == SHIPPED_STANDARDS | SHIPPED_POLICIES | {"dermatology@2024"}
    assert "standard  internal medicine@2014     effective 2014-12-01  illustrative" in lines
    assert "policy    jiangsu@2025               effective 2025-02-20" in lines


def test_the_cli_reports_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "standards", "own.yaml", DERMATOLOGY.replace("months: 4", "months: x"))
    assert main(["regulations", "--dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"dualtrack: error: {path}:14: versions[0].departments[1].months: "
                            "must be a number, got 'x'\n")
