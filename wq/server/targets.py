"""Dependencies' targets as the store knows them: checked at submission, and
tallied for the engine (which follows them from then on).

Both read the store in the same step as the engine is fed (no await in
between), so the store's rows and the engine's jobs agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from wq.errors import WqError
from wq.model import After, DepKind, Job, JobState
from wq.scheduler import deps
from wq.scheduler.deps import Key, Tally
from wq.store import Store


def check(store: Store, after: tuple[After, ...], tasks: list[int] | None,
          known: dict[Key, Tally]) -> None:
    """Refuse dependencies that name no job, or that can never be met."""
    for one in after:
        array = store.array_info(one.number)
        if array is not None and not array[1]:
            raise WqError(f"refused: {one}: array {one.number} is still being submitted")
        if one.kind is DepKind.AFTERCORR:
            if tasks is None:
                raise WqError(f"refused: {one}: aftercorr is for arrays (task i after "
                              f"task i of {one.number})")
            if array is None:
                raise WqError(f"refused: {one}: job {one.number} is not an array")
            continue
        key: Key = (one.number, one.task)
        tally = known.get(key) or Tally.of(store.states_of(*key))
        if not tally.exists:
            what = f"task {one.number}.{one.task}" if one.task is not None else \
                f"job {one.number}"
            raise WqError(f"refused: {one}: there is no {what}")
        if deps.status(one, tally) is deps.Status.NEVER:
            raise WqError(f"refused: dependency can never be met: "
                          f"{deps.describe(one, key, tally)}")


def tallies(store: Store, jobs: Iterable[Job], followed: dict[Key, Tally]) -> dict[Key, Tally]:
    """What the store knows of the targets the waiting `jobs` depend on, but the
    engine does not follow yet (`followed`)."""
    out: dict[Key, Tally] = {}
    corr: dict[int, list[int]] = {}          # an aftercorr target -> the tasks it is asked of
    for job in jobs:
        if job.state is not JobState.WAITING:
            continue
        for after in job.spec.after:
            key = deps.key_of(after, job)
            if key in out or key in followed:
                continue
            if after.kind is DepKind.AFTERCORR and key[1] is not None:
                corr.setdefault(key[0], []).append(key[1])
            else:
                out[key] = Tally.of(store.states_of(*key))
    for number, asked in corr.items():        # one read per target, not per task
        states = store.task_states(number, min(asked), max(asked))
        for task in asked:
            state = states.get(task)
            out[(number, task)] = Tally.of({state: 1} if state else {})
    return out
