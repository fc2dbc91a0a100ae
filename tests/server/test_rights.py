"""Each request's rule, in one table: every request type has one, and what
changes or forgets a job is its owner's (and for some, the admins')."""

import pytest

from wq.errors import WqError
from wq.protocol import messages as m
from wq.server import rights
from wq.server.rights import RULES, Rule


def test_every_request_type_has_a_rule_and_every_rule_a_request():
    assert set(RULES) == set(m.REQUESTS)


@pytest.mark.parametrize("request_type", sorted(RULES))
def test_a_member_acts_on_anothers_job_only_where_the_rule_is_anyone(request_type):
    allowed = rights.on_job(request_type, "bob", "ann", admin=False)
    assert allowed == (RULES[request_type] is Rule.ANYONE)
    mine = rights.on_job(request_type, "ann", "ann", admin=False)
    assert mine == (RULES[request_type] in (Rule.ANYONE, Rule.OWNER, Rule.OWNER_ADMIN))


def test_an_admin_stops_and_forgets_others_jobs_but_never_reruns_or_reads_them():
    for request_type in ("rm", "clean", "info"):
        assert rights.on_job(request_type, "root", "ann", admin=True)
    for request_type in ("rerun", "signature", "log", "attach", "session_end"):
        assert not rights.on_job(request_type, "root", "ann", admin=True)
        with pytest.raises(WqError, match="job 12 is ann's: .* is theirs alone$"):
            rights.job(request_type, "12", "root", "ann", admin=True)
    assert rights.whose("clean", "ann", admin=False) == "ann"
    assert rights.whose("clean", "root", admin=True) is None


def test_admin_and_operator_requests_name_who_may():
    with pytest.raises(WqError, match=r"wq node is for the lab's admins \(ann, root\)"):
        rights.request("node", "bob", False, "root", ["ann", "root"])
    rights.request("node", "ann", True, "root", ["ann", "root"])
    with pytest.raises(WqError, match="wq stop is for root, who runs this server, alone"):
        rights.request("stop", "ann", True, "root", ["ann", "root"])
    rights.request("stop", "root", True, "root", ["root"])
