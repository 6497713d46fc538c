"""Balancers over the shared slot table (issue 3's "Done means"): exact byrequests
across worker processes, sticky sessions by cookie and URL, failover, nofailover,
stickysessioninsert, Location / Set-Cookie rewriting, and state kept over a reload.

Backends are named after their routes and tag every answer with X-Backend, so a test
reads which member served each request (the style of HAProxy's balance-rr.vtc).
Every test starts a fresh drover, so the shared lbstatus counters start at zero."""
import collections
import concurrent.futures
import urllib.parse

import drover as dr


def q(s):
    return urllib.parse.quote(s, safe="")


def cluster(drover, members, proxyset=None, workers=4, server=None, global_=None):
    """drover with [balancer://mycluster] made of `members` [(backend, "key=value ...")]
    and the seed scenario's `ProxyPassMatch = ^(/.*)$ balancer://mycluster$1`."""
    bal = {"BalancerMember": [("%s %s" % (b.url, keys)).strip() for b, keys in members]}
    if proxyset:
        bal["ProxySet"] = proxyset
    s = {"ProxyPassMatch": "^(/.*)$ balancer://mycluster$1"}
    s.update(server or {})
    g = {"WorkerProcesses": workers}
    g.update(global_ or {})
    return drover(global_=g, server=s, balancers={"mycluster": bal})


def who(d, path="/", headers=None):
    """One request on a fresh connection; the X-Backend that answered (asserts 200)."""
    r = dr.request(d.port, "GET", path, headers=headers)
    assert r.status == 200, r
    return r.header("X-Backend")


def two_nodes(backend):
    return backend("node1"), backend("node2")


def test_seed_scenario(drover, backend):
    n1, n2 = two_nodes(backend)
    d = drover(global_={"User": "nobody", "Group": "nogroup", "WorkerProcesses": 4},
               server={"ProxyPassMatch": "^(/.*)$ balancer://mycluster$1",
                       "ProxyPassReverse": ["/ %s/" % n1.url, "/ %s/" % n2.url],
                       "ProxyPassReverseCookieDomain": "127.0.0.1 localhost"},
               balancers={"mycluster": {
                   "BalancerMember": ["%s route=node1" % n1.url, "%s route=node2" % n2.url],
                   "ProxySet": "stickysession=BALANCEID"}})
    # No route: byrequests over two equal members alternates, first member first.
    assert [who(d, "/s%d" % i) for i in range(6)] == ["node1", "node2"] * 3
    # The route after the first '.' of BALANCEID picks the member, from every worker.
    for i in range(24):
        assert who(d, "/x%d" % i, {"Cookie": "BALANCEID=balancer.node2"}) == "node2"
    # 302 with the member's absolute Location reaches the client on its own Host.
    for node in (n1, n2):
        r = dr.request(d.port, "GET", "/redirect?to=%s" % q(node.url + "/login"),
                       headers={"Host": "front.example",
                                "Cookie": "BALANCEID=x.%s" % node.name})
        assert r.status == 302 and r.header("X-Backend") == node.name
        assert r.header("Location") == "http://front.example/login"
    # Set-Cookie Domain=<member address> -> Domain=localhost.
    r = dr.request(d.port, "GET", "/cookie?v=%s" % q("s=1; Domain=127.0.0.1"))
    assert r.header("Set-Cookie") == "s=1; Domain=localhost"


def test_loadfactor_3_to_1_is_exact_under_concurrency(drover, backend):
    a, b = backend("A"), backend("B")
    d = cluster(drover, [(a, "loadfactor=3"), (b, "loadfactor=1")])
    d.wait_workers(4)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda i: who(d, "/r%d" % i), range(400)))
    assert collections.Counter(names) == {"A": 300, "B": 100}


def test_loadfactors_1_2_1_sequence_over_workers(drover, backend):
    a, b, c = backend("A"), backend("B"), backend("C")
    d = cluster(drover, [(a, "loadfactor=1"), (b, "loadfactor=2"), (c, "loadfactor=1")])
    d.wait_workers(4)
    seq = "".join(who(d, "/s%d" % i) for i in range(16))
    assert seq == "BACBBACB" * 2


def test_sticky_cookie_always_reaches_its_route(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID")
    for i in range(30):
        assert who(d, "/c%d" % i, {"Cookie": "BALANCEID=balancer.node2"}) == "node2"
    # Among other cookies, and with the route after the FIRST separator only.
    assert who(d, "/", {"Cookie": "a=1; BALANCEID=balancer.node1; b=2"}) == "node1"
    assert who(d, "/", {"Cookie": "BALANCEID=x.node1"}) == "node1"


def test_sticky_url_parameter_before_cookie(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=JSESSIONID|jsessionid")
    for i in range(10):
        assert who(d, "/echo;jsessionid=x.node1") == "node1"
        assert who(d, "/echo?jsessionid=x.node1&i=%d" % i) == "node1"
        assert who(d, "/echo?i=%d&jsessionid=x.node2" % i) == "node2"
        assert who(d, "/p%d" % i, {"Cookie": "JSESSIONID=y.node2"}) == "node2"
    # The URL parameter wins over the cookie.
    assert who(d, "/echo;jsessionid=x.node1", {"Cookie": "JSESSIONID=y.node2"}) == "node1"
    # The path parameter reaches the member untouched.
    r = dr.request(d.port, "GET", "/echo;jsessionid=x.node1?a=b")
    assert r.json()["target"] == "/echo;jsessionid=x.node1?a=b"


def test_unknown_or_missing_route_is_rebalanced(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID")
    names = [who(d, "/u%d" % i, {"Cookie": "BALANCEID=balancer.nodeX"}) for i in range(10)]
    assert collections.Counter(names) == {"node1": 5, "node2": 5}
    # A value without the separator carries no route.
    names = [who(d, "/v%d" % i, {"Cookie": "BALANCEID=node2"}) for i in range(10)]
    assert collections.Counter(names) == {"node1": 5, "node2": 5}


def test_sticky_member_down_fails_over_without_client_error(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID")
    assert who(d, "/", {"Cookie": "BALANCEID=s.node2"}) == "node2"
    n2.kill()
    for i in range(10):
        assert who(d, "/f%d" % i, {"Cookie": "BALANCEID=s.node2"}) == "node1"
    for i in range(4):
        assert who(d, "/g%d" % i) == "node1"


def test_nofailover_gives_503(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID nofailover=On")
    assert who(d, "/", {"Cookie": "BALANCEID=s.node2"}) == "node2"
    n2.kill()
    for i in range(5):
        r = dr.request(d.port, "GET", "/n%d" % i, headers={"Cookie": "BALANCEID=s.node2"})
        assert r.status == 503, r
    # Requests without a route are still served by the member that is up.
    for i in range(4):
        assert who(d, "/ok%d" % i) == "node1"


def test_stickysessioninsert_sets_a_route_cookie_that_sticks(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID stickysessioninsert=On")
    r = dr.request(d.port, "GET", "/first")
    node = r.header("X-Backend")
    assert r.header_all("Set-Cookie") == ["BALANCEID=.%s; Path=/; HttpOnly" % node]
    cookie = {"Cookie": "BALANCEID=.%s" % node}
    for i in range(10):
        r = dr.request(d.port, "GET", "/again%d" % i, headers=cookie)
        assert r.status == 200 and r.header("X-Backend") == node
        assert r.header("Set-Cookie") is None  # route unchanged: no new cookie
    # The member goes away: the request fails over and the cookie names the new route.
    (n1 if node == "node1" else n2).kill()
    other = "node2" if node == "node1" else "node1"
    r = dr.request(d.port, "GET", "/moved", headers=cookie)
    assert r.status == 200 and r.header("X-Backend") == other
    assert r.header_all("Set-Cookie") == ["BALANCEID=.%s; Path=/; HttpOnly" % other]


def test_location_and_set_cookie_rewriting(drover, backend):
    n1, n2 = two_nodes(backend)
    d = cluster(drover, [(n1, "route=node1"), (n2, "route=node2")],
                proxyset="stickysession=BALANCEID",
                server={"ProxyPassReverse": "/ balancer://mycluster/",
                        "ProxyPassReverseCookieDomain": "127.0.0.1 localhost",
                        "ProxyPassReverseCookiePath": "/internal /public"})
    for node in (n1, n2):
        hdrs = {"Host": "front.example:8080", "Cookie": "BALANCEID=x.%s" % node.name}
        r = dr.request(d.port, "GET", "/redirect?status=301&to=%s"
                       % q(node.url + "/login?a=1"), headers=hdrs)
        assert r.status == 301 and r.header("X-Backend") == node.name
        assert r.header("Location") == "http://front.example:8080/login?a=1"
        r = dr.request(d.port, "GET", "/header?name=Content-Location&value=%s"
                       % q(node.url + "/doc"), headers=hdrs)
        assert r.header("Content-Location") == "http://front.example:8080/doc"
        r = dr.request(d.port, "GET", "/cookie?v=%s&v=%s&v=%s" % (
            q("s=1; Domain=127.0.0.1; Path=/internal/x; HttpOnly"),
            q("t=2; path=/internal"),
            q("u=3; Domain=other.example; Path=/elsewhere")), headers=hdrs)
        assert r.header_all("Set-Cookie") == [
            "s=1; Domain=localhost; Path=/public; HttpOnly",
            "t=2; path=/public",
            "u=3; Domain=other.example; Path=/elsewhere"]


def test_balancer_state_survives_reload(drover, backend):
    a, b, c = backend("A"), backend("B"), backend("C")
    d = cluster(drover, [(a, "loadfactor=1"), (b, "loadfactor=2"), (c, "loadfactor=1")])
    d.wait_workers(4)
    assert "".join(who(d, "/h%d" % i) for i in range(5)) == "BACBB"
    d.reload(wait_old_exit=True)
    # A restarted schedule would begin with B again; a carried-over one continues.
    assert "".join(who(d, "/k%d" % i) for i in range(11)) == "ACB" + "BACBBACB"
