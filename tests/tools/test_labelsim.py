"""Tier 1: the simulated labelling team (virtual time only, no timing assertions)."""

from __future__ import annotations

import itertools
import pickle
from collections import Counter, defaultdict

import pytest

from streamsift.errors import ConfigurationError
from streamsift.tools import LabellingTeam, SimLabel, SyntheticEvent, SyntheticStream
from tests.stream.fakes import synthetic_request


def _events(n: int, seed: int = 0) -> list[SyntheticEvent]:
    return SyntheticStream(seed=seed).take(n)


def _run(team: LabellingTeam, n: int, needed: int = 1, step: float = 0.0) -> list[SimLabel]:
    now = 0.0
    for e in _events(n):
        assert team.submit(e.event_id, e.features, now, annotators_needed=needed) == "accepted"
        now += step
    return team.drain()


def test_same_seed_same_labels() -> None:
    kw = {"annotators": 4, "noise": (0.0, 0.1, 0.2, 0.3), "max_backlog": 10_000, "seed": 3}
    a = _run(LabellingTeam(**kw), 500)  # type: ignore[arg-type]
    b = _run(LabellingTeam(**kw), 500)  # type: ignore[arg-type]
    assert a == b


def test_clean_annotators_give_the_true_label() -> None:
    team = LabellingTeam(annotators=3, noise=0.0, max_backlog=10_000)
    events = {e.event_id: e for e in _events(600)}
    for lab in _run(team, 600):
        assert lab.label == events[lab.event_id].label == lab.true_label
        assert not lab.flipped


def test_noise_rate_per_annotator() -> None:
    noise = (0.0, 0.0, 0.0, 0.3, 0.3)
    team = LabellingTeam(annotators=5, noise=noise, max_backlog=100_000, seed=7)
    labels = _run(team, 10_000)
    wrong: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for lab in labels:
        total[lab.annotator_id] += 1
        wrong[lab.annotator_id] += lab.label != lab.true_label
        assert lab.flipped == (lab.label != lab.true_label)
    for i, p in enumerate(noise):
        aid = f"annotator-{i}"
        assert total[aid] > 1500
        rate = wrong[aid] / total[aid]
        assert abs(rate - p) < 0.03, (aid, rate)
    assert team.flipped == dict(wrong)
    assert team.given == dict(total)


def test_annotators_needed_gives_distinct_annotators() -> None:
    team = LabellingTeam(annotators=5, max_backlog=100_000, seed=2)
    labels = _run(team, 300, needed=3)
    by_event: dict[str, list[str]] = defaultdict(list)
    for lab in labels:
        by_event[lab.event_id].append(lab.annotator_id)
    assert len(by_event) == 300
    for annotators in by_event.values():
        assert len(annotators) == 3 == len(set(annotators))
    # work is spread: every annotator took part
    assert len({a for v in by_event.values() for a in v}) == 5


def test_more_annotators_needed_than_exist_uses_everyone_and_counts() -> None:
    team = LabellingTeam(annotators=2, delay_median=0.0)
    assert team.submit("e", _events(1)[0].features, 0.0, annotators_needed=4) == "accepted"
    assert sorted(lab.annotator_id for lab in team.drain()) == ["annotator-0", "annotator-1"]
    assert team.counts["short"] == 1


def test_capacity_is_respected() -> None:
    # 3 annotators x 360/h = one label per 10 s each; flood it with 200 requests at t=0.
    team = LabellingTeam(annotators=3, labels_per_hour=360, delay_median=0.0, max_backlog=10_000)
    labels = _run(team, 200)
    per_annotator: dict[str, list[float]] = defaultdict(list)
    for lab in labels:
        per_annotator[lab.annotator_id].append(lab.labelled_at)
    for times in per_annotator.values():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 10.0 - 1e-9
    # within any hour, the team cannot exceed its capacity
    finished_first_hour = sum(lab.labelled_at <= 3600.0 for lab in labels)
    assert finished_first_hour <= team.capacity_per_hour
    assert max(lab.labelled_at for lab in labels) >= 200 / 3 * 10.0 - 10.0


def test_time_scale_speeds_everything_up() -> None:
    slow = LabellingTeam(annotators=1, labels_per_hour=60, delay_median=5.0, seed=1)
    fast = LabellingTeam(annotators=1, labels_per_hour=60, delay_median=5.0, seed=1, time_scale=10)
    a, b = _run(slow, 20), _run(fast, 20)
    for x, y in zip(a, b, strict=True):
        assert y.labelled_at == pytest.approx(x.labelled_at / 10)


def test_backlog_limit_refuses_then_recovers() -> None:
    team = LabellingTeam(annotators=1, labels_per_hour=3600, delay_median=0.0, max_backlog=3)
    x = _events(1)[0].features
    assert [team.submit(f"e{i}", x, 0.0) for i in range(4)] == ["accepted"] * 3 + ["full"]
    assert team.backlog(0.0) == 3 and not team.has_room(0.0)
    assert team.counts["full"] == 1
    assert team.has_room(1.0)  # the first label is finished at t = 1 s
    assert team.submit("e4", x, 1.0) == "accepted"
    assert [lab.event_id for lab in team.due(2.0)] == ["e0", "e1"]


def test_delay_is_lognormal_around_the_median() -> None:
    team = LabellingTeam(annotators=50, labels_per_hour=3600, delay_median=2.0, seed=4)
    x = _events(1)[0].features
    for i in range(50):
        team.submit(f"e{i}", x, 0.0)
    delays = sorted(lab.labelled_at - 1.0 for lab in team.drain())
    assert all(d > 0 for d in delays)
    assert 1.0 < delays[len(delays) // 2] < 4.0


def test_due_returns_each_label_once_in_time_order() -> None:
    team = LabellingTeam(annotators=2, max_backlog=1000, seed=5)
    for e in _events(40):
        team.submit(e.event_id, e.features, 0.0)
    seen: list[SimLabel] = []
    t = 0.0
    while team.next_due_at is not None:
        t += 7.0
        seen.extend(team.due(t))
    assert len(seen) == 40 == len({s.event_id for s in seen})
    times = [s.labelled_at for s in seen]
    assert times == sorted(times)


def test_unlabellable_features_are_counted() -> None:
    team = LabellingTeam()
    assert team.submit("e", {"amount": 3.0}, 0.0) == "unlabellable"
    assert team.counts["unlabellable"] == 1 and team.drain() == []


def test_submit_request_and_label_event() -> None:
    e = _events(1)[0]
    req = synthetic_request(e, "r-1", annotators_needed=2)
    team = LabellingTeam(annotators=3, delay_median=0.0)
    assert team.submit_request(req, now=1_767_225_600.0) == "accepted"
    events = [lab.to_label_event() for lab in team.drain()]
    assert len(events) == 2
    for ev in events:
        assert ev.event_id == e.event_id and ev.request_id == "r-1"
        assert ev.label == e.label and ev.team == "simulated"
        assert ev.labelled_at.timestamp() == 1_767_225_600.0 + 30.0


def test_team_pickles_mid_run() -> None:
    team = LabellingTeam(annotators=2, noise=0.2, seed=9)
    for e in _events(10):
        team.submit(e.event_id, e.features, 0.0)
    clone = pickle.loads(pickle.dumps(team))
    assert clone.drain() == team.drain()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"annotators": 0},
        {"annotators": 2, "noise": (0.1, 0.2, 0.3)},
        {"noise": 1.5},
        {"labels_per_hour": 0},
        {"delay_median": -1},
        {"time_scale": 0},
        {"max_backlog": 0},
        {"classes": ("a",)},
    ],
)
def test_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        LabellingTeam(**kwargs)  # type: ignore[arg-type]


def test_benched_annotators_get_no_new_work_while_others_can_take_it() -> None:
    team = LabellingTeam(annotators=5, noise=0.0, max_backlog=10_000, seed=2)
    team.bench({"annotator-3", "annotator-4", "not-in-the-team"})
    assert team.benched == {"annotator-3", "annotator-4"}
    labels = _run(team, 300, needed=3)
    by = Counter(lab.annotator_id for lab in labels)
    assert set(by) == {"annotator-0", "annotator-1", "annotator-2"}
    assert team.counts["benched_fill"] == 0
    assert sum(team.given_while_benched.values()) == 0


def test_benched_annotators_fill_a_request_no_one_else_can_and_it_is_counted() -> None:
    team = LabellingTeam(annotators=3, noise=0.0, max_backlog=10_000, seed=2)
    team.bench({"annotator-2"})
    labels = _run(team, 10, needed=3)  # needs all three: the benched one fills in
    assert Counter(lab.annotator_id for lab in labels)["annotator-2"] == 10
    assert team.counts["benched_fill"] == 10
    assert team.given_while_benched["annotator-2"] == 10
    team.bench(set())  # unflagged: back to work, no longer counted as a fill
    _run(team, 5, needed=3)
    assert team.counts["benched_fill"] == 10


def test_flagged_annotators_are_read_from_the_worker_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from streamsift.metrics import Metrics
    from streamsift.tools.label_loop import flagged_in_metrics

    reg = CollectorRegistry()
    m = Metrics(reg)
    m.annotator_flagged.labels(annotator="annotator-4").set(1.0)
    m.annotator_flagged.labels(annotator="annotator-1").set(0.0)
    m.annotator_flagged.labels(annotator="other").set(1.0)
    assert flagged_in_metrics(generate_latest(reg).decode()) == {"annotator-4"}


def test_flag_poller_unions_the_workers_and_keeps_the_last_answer_on_failure() -> None:
    import http.server
    import threading

    from streamsift.tools.label_loop import FlagPoller

    bodies = {
        "/a": 'streamsift_quality_annotator_flagged{annotator="x"} 1\n',
        "/b": 'streamsift_quality_annotator_flagged{annotator="y"} 1\n'
        'streamsift_quality_annotator_flagged{annotator="z"} 0\n',
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(503)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        poller = FlagPoller([f"{base}/a", f"{base}/b"], timeout=5.0)
        assert poller.current() is None  # nothing heard yet
        poller.poll_once()
        assert poller.current() == {"x", "y"}
        bodies.pop("/a")  # worker a stops answering: its last answer stands
        poller.poll_once()
        assert poller.current() == {"x", "y"} and poller.failures == 1
    finally:
        server.shutdown()
        server.server_close()
