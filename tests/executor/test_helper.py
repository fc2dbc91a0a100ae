"""The server side of the helper's protocol: launches of one turn as one request."""

from hypothesis import given
from hypothesis import strategies as st

from wq.executor.helper import as_one

TEXT = st.text(max_size=5)
ENV = st.dictionaries(st.sampled_from("ABCD"), st.sampled_from(["1", "2"]))
REQUEST = st.fixed_dictionaries(
    {"op": st.just("launch"), "name": TEXT, "cwd": st.sampled_from(["/a", "/b"]),
     "env": st.sampled_from([{"PATH": "/bin"}, {"PATH": "/bin", "X": "1"}]), "own": ENV},
    optional={"limit": st.sampled_from(["60", "120"]), "stdin": TEXT})


def expand(request: dict) -> list[dict]:
    """What node/helper.py makes of a request: the launches it starts."""
    if request["op"] == "launch":
        return [request]
    return [{"op": "launch", **request["common"], **each} for each in request["each"]]


@given(st.lists(REQUEST, min_size=1, max_size=6))
def test_launches_say_what_they_share_once_and_lose_nothing(requests):
    requests = [{**r, "id": n} for n, r in enumerate(requests, 1)]
    batch = as_one(requests)
    assert expand(batch) == requests
    if len(requests) > 1:
        for key in ("env", "cwd"):
            shared = all(r[key] == requests[0][key] for r in requests)
            assert (key in batch["common"]) == shared
            assert all((key in each) != shared for each in batch["each"])
