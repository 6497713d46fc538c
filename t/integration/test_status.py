"""balancer-manager and metrics through the real binary (issue 6): counters after
traffic, JSON API edits seen by every worker, nonce and StatusAllow protection,
runtime add/remove of a member, edits surviving a HUP, Prometheus text."""
import json
import re

import drover as dr


def cluster(drover, backend, **server):
    a, b = backend("A"), backend("B")
    conf = {"BalancerManager": "/balancer-manager", "Metrics": "/metrics",
            "ProxyPass": "/ balancer://c/"}
    conf.update(server)
    d = drover(global_={"WorkerProcesses": "2"}, server=conf,
               balancers={"c": {"BalancerMember": ["%s route=a" % a.url, "%s route=b" % b.url],
                                "ProxySet": "growth=2"}})
    return d, a, b


def manager(d):
    r = dr.request(d.port, "GET", "/balancer-manager?format=json")
    assert r.status == 200, r
    return r.json()


def api(d, method, path, body, nonce):
    headers = {"Content-Type": "application/json"}
    if nonce is not None:
        headers["X-Drover-Nonce"] = nonce
    return dr.request(d.port, method, "/balancer-manager/api/c" + path, headers=headers,
                      body=json.dumps(body).encode())


def backends_of(d, n):
    return [dr.request(d.port, "GET", "/x").header("X-Backend") for _ in range(n)]


def test_manager_lists_members_with_counters(drover, backend):
    d, a, b = cluster(drover, backend)
    assert sorted(backends_of(d, 10)) == ["A"] * 5 + ["B"] * 5
    j = manager(d)
    members = j["balancers"][0]["members"]
    assert [m["route"] for m in members] == ["a", "b"]
    assert [m["elected"] for m in members] == [5, 5]
    html = dr.request(d.port, "GET", "/balancer-manager")
    assert html.status == 200 and a.url in html.body.decode() and b.url in html.body.decode()


def test_api_edit_changes_distribution_in_every_worker(drover, backend):
    d, a, b = cluster(drover, backend)
    nonce = manager(d)["nonce"]
    r = api(d, "PUT", "/members/a", {"status": "+D"}, nonce)
    assert r.status == 200, r
    assert set(backends_of(d, 20)) == {"B"}  # fresh connections land on both workers
    r = api(d, "PUT", "/members/a", {"status": "-D", "loadfactor": 3}, nonce)
    assert r.status == 200, r
    got = backends_of(d, 40)
    assert got.count("A") == 30 and got.count("B") == 10


def test_nonce_and_status_allow_protect(drover, backend):
    d, a, b = cluster(drover, backend)
    assert api(d, "PUT", "/members/a", {"status": "+D"}, None).status == 403
    assert api(d, "PUT", "/members/a", {"status": "+D"}, "0" * 32).status == 403
    assert set(backends_of(d, 4)) == {"A", "B"}
    d2, _, _ = cluster(drover, backend, StatusAllow="10.0.0.0/8")
    assert dr.request(d2.port, "GET", "/balancer-manager").status == 403
    assert dr.request(d2.port, "GET", "/metrics").status == 403


def test_add_and_remove_member_at_runtime(drover, backend):
    d, a, b = cluster(drover, backend)
    c = backend("C")
    nonce = manager(d)["nonce"]
    r = api(d, "POST", "/members", {"url": c.url, "route": "c", "status": ""}, nonce)
    assert r.status in (200, 201), r
    assert set(backends_of(d, 30)) == {"A", "B", "C"}
    r = api(d, "DELETE", "/members/c", {}, nonce)
    assert r.status == 200, r
    assert set(backends_of(d, 20)) == {"A", "B"}


def test_edits_and_counters_survive_reload(drover, backend):
    d, a, b = cluster(drover, backend)
    backends_of(d, 6)
    nonce = manager(d)["nonce"]
    assert api(d, "PUT", "/members/b", {"loadfactor": 2}, nonce).status == 200
    d.reload(wait_old_exit=True)
    members = manager(d)["balancers"][0]["members"]
    assert members[1]["loadfactor"] == 2
    assert sum(m["elected"] for m in members) == 6


def test_metrics_match_traffic(drover, backend):
    d, a, b = cluster(drover, backend)
    backends_of(d, 8)
    r = dr.request(d.port, "GET", "/metrics")
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain")
    values = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        assert m, "not Prometheus text: %r" % line
        values[(m.group(1), m.group(2) or "")] = float(m.group(3))
    reqs = {k[1]: v for k, v in values.items() if k[0] == "drover_member_requests_total"}
    assert sorted(reqs.values()) == [4.0, 4.0]
    ups = [v for k, v in values.items() if k[0] == "drover_member_up"]
    assert ups == [1.0, 1.0]


def test_enable_through_the_api_starts_the_slowstart_ramp(drover, backend):
    # a has slowstart=100s: once re-enabled its share starts at a tenth (factors 10 : 100,
    # rising by about 1 a second), so it gets about 2 of the next 22 requests where an
    # enable without a ramp would give it 11.
    a, b = backend("A"), backend("B")
    d = drover(global_={"WorkerProcesses": "2"},
               server={"BalancerManager": "/balancer-manager", "ProxyPass": "/ balancer://c/"},
               balancers={"c": {"BalancerMember": ["%s route=a slowstart=100" % a.url,
                                                   "%s route=b" % b.url]}})
    assert sorted(backends_of(d, 4)) == ["A", "A", "B", "B"]  # no ramp at start
    nonce = manager(d)["nonce"]
    assert api(d, "PUT", "/members/a", {"status": "+D"}, nonce).status == 200
    assert set(backends_of(d, 6)) == {"B"}
    assert api(d, "PUT", "/members/a", {"status": "-D"}, nonce).status == 200
    got = backends_of(d, 22)
    assert 1 <= got.count("A") <= 4, got
