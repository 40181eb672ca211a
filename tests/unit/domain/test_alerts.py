from backend.domain.alerts import (
    AlertBook,
    AlertOpened,
    AlertResolved,
    Condition,
    acknowledge,
    alert_id,
    resolve,
    update,
)

CONFIRM, CLEAR = 600, 300
THEFT = Condition("unauthorized_removal", "lot-1", lot="lot-1")
OFFLINE = Condition("gateway_offline", "gw-1", gateway="gw-1")
NOTICE = Condition("double_pledge_attempt", "lot-1", lot="lot-1")


def run(timeline):
    """timeline: [(now_s, [conditions])] → (book, [(now_s, event kind, type)])."""
    book, seen = AlertBook(), []
    for now_s, conditions in timeline:
        book, events = update(book, conditions, now_s, CONFIRM, CLEAR)
        seen += [(now_s, type(e).__name__, e.alert.type) for e in events]
    return book, seen


def test_a_noisy_condition_opens_only_after_the_confirmation_window():
    _, seen = run([(t, [THEFT]) for t in range(0, 601, 60)])
    assert seen == [(600, "AlertOpened", "unauthorized_removal")]


def test_an_interrupted_condition_starts_its_window_again():
    timeline = [(t, [THEFT]) for t in range(0, 541, 60)] + [(600, [])]
    timeline += [(t, [THEFT]) for t in range(660, 1200, 60)]
    _, seen = run(timeline)
    assert seen == []


def test_one_alert_per_episode_and_it_resolves_after_the_clear_window():
    timeline = [(t, [THEFT]) for t in range(0, 1201, 60)] + [(t, []) for t in range(1260, 1600, 60)]
    _, seen = run(timeline)
    assert seen == [(600, "AlertOpened", "unauthorized_removal"),
                    (1560, "AlertResolved", "unauthorized_removal")]


def test_a_gap_condition_opens_and_resolves_at_once():
    _, seen = run([(0, [OFFLINE]), (60, [OFFLINE]), (120, [])])
    assert seen == [(0, "AlertOpened", "gateway_offline"), (120, "AlertResolved", "gateway_offline")]


def test_notices_stay_open_until_a_person_resolves_them():
    book, seen = run([(0, [NOTICE]), (60, []), (120, [NOTICE])])
    assert seen == [(0, "AlertOpened", "double_pledge_attempt")]
    (alert,) = book.active.values()
    book = acknowledge(book, alert.id, 200)
    assert book.active[NOTICE.key].state == "acknowledged"
    book, closed = resolve(book, alert.id, 300)
    assert (closed.state, closed.resolved_at_s, book.active) == ("resolved", 300, {})


def test_ids_are_deterministic_and_differ_per_episode():
    assert alert_id("tag_conflict", "lot-1", 60) == alert_id("tag_conflict", "lot-1", 60)
    assert alert_id("tag_conflict", "lot-1", 60) != alert_id("tag_conflict", "lot-1", 120)


def test_acknowledged_alert_keeps_its_id_until_resolved():
    book, _ = run([(0, [OFFLINE])])
    opened = book.active[OFFLINE.key]
    book = acknowledge(book, opened.id, 10)
    book, events = update(book, [], 20, CONFIRM, CLEAR)
    assert isinstance(events[0], AlertResolved) and events[0].alert.id == opened.id
    assert not isinstance(events[0], AlertOpened)
