"""The case base's pure parts: outcomes, episodes, blind time, case records, similarity and its
explanation, playbook tasks, and the strict reading of standard case files."""
from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from backend.book.risk_cases import parse_risk_case
from backend.book.strict_yaml import BookFileError
from backend.domain.case_features import FEATURES, Candidate, EpisodeContext, best_matches, features_of
from backend.domain.case_records import CaseSubject, close_case
from backend.domain.cases import EpisodeAction, EpisodeAlert, Outcome, OutcomeError, blind_seconds, case_id, episode_of
from backend.domain.playbooks import PlaybookError, PlaybookStep, check_steps, may_complete, tasks_for, to_escalate


def alert(id_, type_, opened, resolved=None, lot="lot-1", loan="loan-1", gateway="gw-1", **details) -> EpisodeAlert:
    return EpisodeAlert(id_, type_, opened, resolved, lot, loan, gateway, "bank-a", MappingProxyType(details))


MAPS = {"commodity_of_lot": {"lot-1": "steel", "lot-2": "steel", "lot-9": "copper"},
        "lots_of_loan": {"loan-1": ("lot-1",), "loan-2": ("lot-2",)},
        "gateway_of_lot": {"lot-1": "gw-1", "lot-2": "gw-2", "lot-9": "gw-1"}}


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "confirmed_loss"}, "needs loss_amount"),
    ({"kind": "false_alarm", "loss_amount": Decimal("5"), "loss_currency": "CNY"}, "carries no loss amount"),
    ({"kind": "confirmed_loss", "loss_amount": Decimal("-1"), "loss_currency": "CNY"}, "positive"),
    ({"kind": "confirmed_loss", "loss_amount": Decimal("5"), "loss_currency": "yuan"}, "three-letter"),
    ({"kind": "nonsense"}, "unknown outcome"),
    ({"kind": "fraud", "loss_currency": "CNY"}, "without loss_amount")])
def test_an_outcome_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(OutcomeError, match=message):
        Outcome(**kwargs)


def test_fraud_may_carry_an_amount_or_not():
    assert Outcome("fraud").loss_amount is None
    assert Outcome("fraud", "", Decimal("10.00"), "USD").loss_currency == "USD"


def test_an_episode_links_its_lot_loan_gateway_and_commodity_in_time_only():
    seed = alert("a", "unauthorized_removal", 10_000, lot="lot-1", loan="loan-1")
    candidates = [
        alert("ltv", "ltv_warning", 10_060, lot=None, loan="loan-1", gateway=None),
        alert("gw", "gateway_offline", 8_000, 9_500, lot=None, loan=None, gateway="gw-1"),
        alert("price", "price_outlier", 11_000, 11_100, lot=None, loan=None, gateway=None, commodity="steel"),
        alert("other-lot", "stock_shortfall", 10_000, lot="lot-2", loan="loan-2", gateway="gw-2"),
        alert("other-gw", "gateway_offline", 10_000, lot=None, loan=None, gateway="gw-2"),
        alert("copper", "price_stale", 10_000, lot=None, loan=None, gateway=None, commodity="copper"),
        alert("long-ago", "sensor_fault", 500, 1_000),
        alert("chained", "sensor_fault", 5_500, 8_100),       # reaches the episode through "gw"
    ]
    episode = episode_of(seed, candidates, 12_000, **MAPS)
    assert [a.id for a in episode] == ["chained", "gw", "a", "ltv", "price"]


def test_blind_time_is_the_union_of_gaps_from_when_each_began():
    alerts = [alert("f", "sensor_fault", 1_000, 2_000),
              alert("u", "collateral_unverified", 1_600, 3_000, since_s=900),       # began before it opened
              alert("g", "gateway_offline", 5_000, None, lot=None, loan=None),     # still open at now
              alert("l", "weight_count_mismatch", 9_000, blind_from_s=8_000, blind_to_s=8_500)]
    assert blind_seconds(alerts[:3], 6_000) == (3_000 - 900) + (6_000 - 5_000)
    assert blind_seconds(alerts, 9_000) == (3_000 - 900) + (9_000 - 5_000)        # the loss's gap lies inside g's


def test_a_closed_case_keeps_its_episode_features_and_outcome():
    episode = [alert("f", "sensor_fault", 1_000, 4_000), alert("r", "unauthorized_removal", 3_000),
               alert("m", "margin_call", 3_060, lot=None, gateway=None, ltv=0.85)]
    actions = [EpisodeAction(2_000, "release", "refused", "loan-1", "lot-1", "would lift LTV above target")]
    subject = CaseSubject("bank-a", "acme", "loan-1", "lot-1", "wh-1", "gw-1", "steel")
    outcome = Outcome("confirmed_loss", "gone", Decimal("1000.00"), "CNY")
    case = close_case("r", subject, episode, actions, EpisodeContext(pledged_items={"lot-1": 40}), outcome, "sam", 5_000)
    assert (case.id, case.alert_ids, case.alert_types) == (case_id("r"), ("f", "r", "m"),
                                                           ("sensor_fault", "unauthorized_removal", "margin_call"))
    assert (case.opened_at_s, case.closed_at_s, case.blind_s, case.outcome, case.recorded_by) == (
        1_000, 5_000, 3_000, outcome, "sam")
    f = case.features
    assert (f["blind_then_loss"], f["tags_gone"], f["release_refused"], f["no_cure"], f["temperature"]) == (1, 1, 1, 1, 0)
    assert case.summary["actions"] == {"release_refused": 1, "margin_calls": 1}
    assert case.summary["ltv_path"] == {"first": 0.85, "peak": 0.85, "last": 0.85, "statuses": ["margin_call"],
                                        "history": None}
    with_history = close_case("r", subject, episode, actions, EpisodeContext(), outcome, "sam", 5_000,
                              [(3_100, 0.86), (1_000, 0.55), (4_000, 0.7)])
    assert with_history.summary["ltv_path"]["history"] == {"first": 0.55, "low": 0.55, "high": 0.86, "last": 0.7,
                                                           "points": 3}
    assert case_id("r") == case.id != case_id("s")


def test_similarity_is_explained_and_deterministic():
    features = features_of([alert("t", "tag_conflict", 0)], [], EpisodeContext(), 600)
    assert set(features) == set(FEATURES)
    candidates = [Candidate("case", "c-2", "clone", "fraud", {"tag_conflict": 1.0}),
                  Candidate("standard", "s-1", "clone", None, {"tag_conflict": 1.0}),
                  Candidate("standard", "s-0", "pledge", None, {"double_pledge": 1.0, "tag_conflict": 0.5}),
                  Candidate("standard", "s-9", "heat", None, {"temperature": 1.0})]
    matches = best_matches(features, candidates, top=5)
    assert [m.id for m in matches] == ["s-1", "c-2", "s-0"]                # a tie: standard cases first; no zero
    best = matches[0]
    assert sum(share for _, share in best.matched) == pytest.approx(best.score, abs=1e-3)
    assert best.matched[0][0] == "tag_conflict" and matches[2].missing == ("double_pledge",)
    assert best_matches(features, candidates, top=5) == matches
    assert best_matches({name: 0.0 for name in FEATURES}, candidates) == []


STEPS = (PlaybookStep("Freeze", "supervisor", 3_600), PlaybookStep("Call", "lender", 7_200, "the bank"))


def test_playbook_steps_become_tasks_that_escalate_once():
    tasks = tasks_for("al-1", 1_000, "bank-a", "loan-1", "lot-1", "filler-swap", 2, STEPS)
    assert [(t.step, t.owner_role, t.deadline_s, t.version) for t in tasks] == [
        (1, "supervisor", 4_600, 2), (2, "lender", 8_200, 2)]
    assert [t.state(5_000) for t in tasks] == ["overdue", "open"]
    escalated = to_escalate(tasks, 5_000)
    assert [(t.step, t.escalated_at_s) for t in escalated] == [(1, 5_000)]
    assert to_escalate(escalated, 9_000) == []
    assert may_complete(tasks[1], "lender") and not may_complete(tasks[0], "lender")
    assert may_complete(tasks[0], "supervisor") and not may_complete(tasks[0], "gateway")


@pytest.mark.parametrize("steps, message", [
    ((), "1 to 20 steps"), ((PlaybookStep(" ", "supervisor", 1),), "title"),
    ((PlaybookStep("x", "janitor", 1),), "owner_role"), ((PlaybookStep("x", "lender", -1),), "deadline")])
def test_a_bad_playbook_is_refused(steps, message):
    with pytest.raises(PlaybookError, match=message):
        check_steps(steps)


CASE = """id: my-case
title: T
summary: S
pattern: {tag_conflict: 1.0}
indicators: [i]
sources: [s]
playbook:
  - {title: Go, owner: supervisor, within: 1h}
"""


@pytest.mark.parametrize("text, message", [
    (CASE.replace("summary: S", "summary: S\nsumary: S"), ":4: sumary: unknown key"),
    (CASE.replace("tag_conflict", "tag_conflcit"), "unknown feature 'tag_conflcit'"),
    (CASE.replace("within: 1h", "within: soon"), "bad duration 'soon'"),
    (CASE.replace("owner: supervisor", "owner: janitor"), "owner 'janitor'"),
    (CASE.replace("id: my-case", "id: other-case"), ":1: id: must be the file's name"),
    (CASE + "title: again\n", "key 'title' appears twice"),
    (CASE.replace("{tag_conflict: 1.0}", "{tag_conflict: 2.0}"), "not in (0, 1]")])
def test_a_standard_case_file_is_read_strictly(text, message):
    with pytest.raises(BookFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        parse_risk_case(text, "cases/my-case.yaml")
    assert parse_risk_case(CASE, "cases/my-case.yaml").playbook[0].deadline_s == 3_600


def test_a_folder_without_case_files_stops_the_start(tmp_path):
    from backend.book.risk_cases import load_risk_cases
    with pytest.raises(BookFileError, match="no risk case files"):
        load_risk_cases(tmp_path)
