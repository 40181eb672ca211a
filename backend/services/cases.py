"""The risk case base: match every new alert's episode against the standard and closed cases,
open the best standard case's playbook as tasks, and turn a closed episode into a case.

Matching runs in the monitor, before the new alerts are stored, so the matches are stored
and sent to the bank with the alert. A new alert is compared with the standard cases and
with the closed cases of its own lender only (an alert without a lender, which only staff
see, with every closed case): no bank learns of another bank's cases through a match.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from backend.domain.alerts import AlertOpened
from backend.domain.case_features import Candidate, CaseMatch, best_matches, features_of
from backend.domain.case_records import Case, close_case, context_in, episode_in, subject_in
from backend.domain.cases import LINK_GAP_S, EpisodeAlert, Outcome
from backend.domain.playbooks import StandardCase, tasks_for
from backend.domain.registry import Registry
from backend.ports.alerts import AlertRecord
from backend.ports.cases import CaseStore, EpisodeSource, PlaybookStore
from backend.services import access
from backend.services.api_keys import Principal

LOOKBACK_S = 7 * 86_400     # how far back an episode's stored alerts are looked for
LtvHistory = Callable[[str, float, float], Sequence[tuple[float, float]]]


class CaseExists(ValueError):
    """The alert's episode was recorded as a case already."""


@dataclass(frozen=True)
class MatchSettings:
    top: int = 3
    playbook_threshold: float = 0.6
    compare_with: int = 5000


def scope_in(registry: Registry, alert: EpisodeAlert) -> tuple[set[str], set[str]]:
    """The lots and loans whose alerts may belong to the alert's episode."""
    loans = {alert.loan} if alert.loan else set()
    if alert.lot and alert.lot in registry.loan_of_lot:
        loans.add(registry.loan_of_lot[alert.lot])
    lots = {alert.lot} if alert.lot else set()
    lots |= {lot for loan in loans if loan in registry.loans for lot in registry.loans[loan].lot_ids}
    if not lots and not loans and alert.gateway:     # a gateway's alert: the lots it watches
        lots = {lot.id for lot in registry.lots.values()
                if getattr(registry.warehouses.get(lot.warehouse_id), "gateway_id", None) == alert.gateway}
        loans = {registry.loan_of_lot[lot] for lot in lots if lot in registry.loan_of_lot}
    return lots, loans


class CaseBase:
    def __init__(self, *, cases: CaseStore, episodes: EpisodeSource, playbooks: PlaybookStore,
                 standard: Sequence[StandardCase], registry: Callable[[], Registry],
                 settings: MatchSettings = MatchSettings(), ltv_history: LtvHistory | None = None) -> None:
        """`ltv_history(loan, from_s, to_s)`: the loan's (time, LTV) points, for a case's LTV path."""
        self.ltv_history = ltv_history
        self.cases, self.episodes, self.playbooks = cases, episodes, playbooks
        self.standard = {case.id: case for case in standard}
        self.registry, self.settings = registry, settings
        self._candidates = [Candidate("standard", c.id, c.title, c.typical_outcome, c.pattern) for c in standard]

    def episode(self, registry: Registry, seed: EpisodeAlert, fresh: Sequence[EpisodeAlert],
                now_s: float) -> list[EpisodeAlert]:
        lots, loans = scope_in(registry, seed)
        stored = self.episodes.alerts_about(lots, loans, now_s - LOOKBACK_S)
        return episode_in(registry, seed, [*stored, *fresh], now_s)

    def features(self, registry: Registry, seed: EpisodeAlert, episode: Sequence[EpisodeAlert],
                 now_s: float) -> dict[str, float]:
        lots, loans = scope_in(registry, seed)
        start_s = min(alert.opened_at_s for alert in episode)
        actions = self.episodes.actions_about(lots, loans, start_s - LINK_GAP_S, now_s)
        subject = subject_in(registry, seed)
        prior = self.cases.prior_count(subject.lot, subject.borrower, start_s)
        return features_of(episode, actions, context_in(registry, episode, prior), now_s)

    def closed_candidates(self, lender: str | None) -> list[Candidate]:
        """The closed cases a new alert of `lender` is compared with (None: every case)."""
        return [Candidate("case", c.id, _title(c), c.outcome.kind, c.features)
                for c in self.cases.for_matching(lender, self.settings.compare_with)]

    def match(self, features: dict[str, float], closed: Sequence[Candidate]) -> list[CaseMatch]:
        return best_matches(features, [*self._candidates, *closed], self.settings.top)

    def attach_matches(self, events: Sequence[object], registry: Registry, now_s: float) -> list[object]:
        """Each opened alert with the cases most like its episode as of now."""
        fresh = [EpisodeAlert.of(e.alert) for e in events if isinstance(e, AlertOpened)]
        closed: dict[str | None, list[Candidate]] = {}       # read once per lender, however many alerts
        out: list[object] = []
        for event in events:
            if isinstance(event, AlertOpened):
                seed = EpisodeAlert.of(event.alert)
                if seed.lender not in closed:
                    closed[seed.lender] = self.closed_candidates(seed.lender)
                episode = self.episode(registry, seed, fresh, now_s)
                matches = self.match(self.features(registry, seed, episode, now_s), closed[seed.lender])
                event = AlertOpened(event.alert, tuple(matches))
            out.append(event)
        return out

    def open_playbooks(self, events: Sequence[object], registry: Registry, now_s: float) -> int:
        """Tasks from the playbook of each opened alert's best standard match at or above the
        threshold, unless that playbook runs already in the alert's episode."""
        opened = 0
        current = self.playbooks.current()
        for event in events:
            best = next((m for m in getattr(event, "matches", ()) if m.kind == "standard"), None)
            if not isinstance(event, AlertOpened) or best is None or best.score < self.settings.playbook_threshold \
                    or best.id not in current:
                continue
            alert = event.alert
            episode = self.episode(registry, EpisodeAlert.of(alert), [], now_s)
            if best.id in self.playbooks.cases_with_tasks([a.id for a in episode if a.id != alert.id]):
                continue
            version = current[best.id]
            opened += self.playbooks.open_tasks(tasks_for(alert.id, alert.opened_at_s, alert.lender, alert.loan,
                                                          alert.lot, best.id, version.version, version.steps))
        return opened

    def record(self, alert: AlertRecord, outcome: Outcome, by: str, now_s: float) -> Case:
        """The alert's episode as a case closed now with the outcome; CaseExists the second time."""
        registry = self.registry()
        seed = EpisodeAlert(alert.id, alert.type, alert.opened_at_s, alert.resolved_at_s, alert.lot, alert.loan,
                            alert.gateway, alert.lender, alert.details)
        lots, loans = scope_in(registry, seed)
        episode = episode_in(registry, seed, self.episodes.alerts_about(lots, loans, alert.opened_at_s - LOOKBACK_S),
                             now_s)
        start_s = min(a.opened_at_s for a in episode)
        actions = self.episodes.actions_about(lots, loans, start_s - LINK_GAP_S, now_s)
        subject = subject_in(registry, seed)
        context = context_in(registry, episode, self.cases.prior_count(subject.lot, subject.borrower, start_s))
        history = self.ltv_history(subject.loan, start_s, now_s) if self.ltv_history and subject.loan else []
        case = close_case(alert.id, subject, episode, actions, context, outcome, by, now_s, history)
        if not self.cases.add(case):
            raise CaseExists(f"alert {alert.id} is recorded as a case already")
        return case


    def find(self, caller: Principal, *, outcome: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Case]:
        """The cases the caller may see (a lender: its own), newest closed first."""
        return self.cases.find(lender=access.alert_lender_filter(caller), outcome=outcome, limit=limit, offset=offset)

    def visible(self, caller: Principal, case_id: str) -> Case:
        case = self.cases.get(case_id)
        lender = access.alert_lender_filter(caller)
        if case is None or (lender is not None and case.subject.lender != lender):
            raise CaseNotFound(f"no case {case_id!r}")
        return case


class CaseNotFound(LookupError):
    """No such case, or not one the caller may see."""


def _title(case: Case) -> str:
    about = case.subject.lot or case.subject.loan or case.subject.gateway or case.alert_id
    return f"{' → '.join(dict.fromkeys(case.alert_types))} on {about}"
