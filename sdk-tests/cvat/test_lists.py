"""GET /api/users through cvat-sdk 2.80.0, low level (`users_api.list`) and high level
(`client.users.list()`, which walks the pages itself and builds `filter` from its own DSL):
pages and their links, page_size and its cap, the exact filters, `search`, `sort`, JSON-Logic
`filter` (each result compared with the same selection computed here from the users this
module made), and bad list parameters (400 with a JSON body, never 5xx).

Every query is narrowed to this module's population with `search=<prefix>` or a
JSON-Logic substring test on the username, so the few other users (the admin) never count."""

from __future__ import annotations

import json
import random
import secrets

import pytest
from cvat_sdk import make_client
from cvat_sdk.api_client.exceptions import ApiException, NotFoundException
from cvat_sdk.core.filters import F

from conftest import (
    ADMIN_PASSWORD,
    admin_auth,
    error_json,
    list_page,
    make_people,
    scim,
    scim_body,
    send,
)

PREFIX = "p" + secrets.token_hex(3)  # in every username of the population, in no one else's
SIZE = 30
FIRSTS = ["Ada", "Alan", "Barbara", "Grace", "Linus", "Margaret"]
LASTS = ["Hamilton", "Hopper", "Liskov", "Lovelace", "Turing"]
MINE = {"in": [PREFIX, {"var": "username"}]}


@pytest.fixture(scope="module")
def population(roster):
    """SIZE users: usernames in an order unlike their ids, names repeating, every fourth
    inactive. Sorted by id (the default order)."""
    order = list(range(SIZE))
    random.Random(7).shuffle(order)
    specs = [
        {"username": f"{PREFIX}-{order[i]:02d}", "first": FIRSTS[i % len(FIRSTS)], "last": LASTS[i % len(LASTS)],
         "active": i % 4 != 3}
        for i in range(SIZE)
    ]
    people = make_people(roster, specs)
    return sorted((p.as_dict() for p in people), key=lambda u: u["id"])


@pytest.fixture(scope="module")
def client(roster):
    """The high-level client, logged in as the admin with a password (session + CSRF)."""
    with make_client(roster.base_url, credentials=(roster.admin_user, ADMIN_PASSWORD)) as c:
        yield c


def ids(users) -> list[int]:
    return [u["id"] if isinstance(u, dict) else u.id for u in users]


def mine(population, pred=lambda u: True) -> list[int]:
    return [u["id"] for u in population if pred(u)]


def whole(api, **params) -> list:
    """Every result of a low-level list, page by page (page_size 100)."""
    out, page = [], 1
    while True:
        got, resp = api.users_api.list(page=page, page_size=100, **params)
        assert resp.status == 200
        out.extend(got.results)
        if got.next is None:
            return out
        page += 1


# -- JSON-Logic, as the server must read it ------------------------------------------------


def jl(expr, user: dict):
    """A JSON-Logic evaluator for the operators Roster supports, over one user's fields."""
    if isinstance(expr, list):
        return [jl(e, user) for e in expr]
    if not isinstance(expr, dict):
        return expr
    ((op, args),) = expr.items()
    if op == "var":
        return user[args]
    if op == "!":
        return not jl(args[0] if isinstance(args, list) else args, user)
    vals = [jl(a, user) for a in args]
    if op == "and":
        return all(vals)
    if op == "or":
        return any(vals)
    if op == "in":
        needle, hay = vals
        return needle in hay  # a list: membership; a string: substring
    if op in ("<", "<=") and len(vals) == 3:
        lo, mid, hi = vals
        return lo < mid < hi if op == "<" else lo <= mid <= hi
    a, b = vals
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def mid_id(pop):
    return pop[len(pop) // 2]["id"]


# name -> expression built from the population (ids are only known once it exists)
EXPRESSIONS = {
    "active-and-username-in": lambda pop: {"and": [{"==": [{"var": "is_active"}, True]},
                                                   {"in": [{"var": "username"}, [u["username"] for u in pop[:9]]]}]},
    "inactive": lambda pop: {"==": [{"var": "is_active"}, False]},
    "not-active-dict": lambda pop: {"!": {"==": [{"var": "is_active"}, True]}},
    "not-active-list": lambda pop: {"!": [{"==": [{"var": "is_active"}, True]}]},
    "first-name-not-ada": lambda pop: {"!=": [{"var": "first_name"}, "Ada"]},
    "id-lt": lambda pop: {"<": [{"var": "id"}, mid_id(pop)]},
    "id-le": lambda pop: {"<=": [{"var": "id"}, mid_id(pop)]},
    "id-gt": lambda pop: {">": [{"var": "id"}, mid_id(pop)]},
    "id-ge": lambda pop: {">=": [{"var": "id"}, mid_id(pop)]},
    "id-between": lambda pop: {"and": [{">": [{"var": "id"}, pop[3]["id"]]}, {"<": [{"var": "id"}, pop[11]["id"]]}]},
    "id-in": lambda pop: {"in": [{"var": "id"}, [pop[0]["id"], pop[5]["id"], pop[-1]["id"]]]},
    "last-or-first": lambda pop: {"or": [{"==": [{"var": "last_name"}, "Turing"]},
                                         {"==": [{"var": "first_name"}, "Grace"]}]},
    "last-name-substring": lambda pop: {"in": ["ove", {"var": "last_name"}]},
    "last-name-before-l": lambda pop: {"<": [{"var": "last_name"}, "L"]},
    "first-name-in": lambda pop: {"in": [{"var": "first_name"}, ["Alan", "Linus"]]},
    "nested": lambda pop: {"or": [{"and": [{"==": [{"var": "first_name"}, "Ada"]},
                                           {"!": {"==": [{"var": "is_active"}, True]}}]},
                                  {"==": [{"var": "username"}, pop[2]["username"]]}]},
    "nothing": lambda pop: {"==": [{"var": "username"}, "nobody-" + PREFIX]},
}


# -- pages ---------------------------------------------------------------------------------


def test_pages_walk_the_population_in_id_order_with_absolute_links(roster, admin_api, population):
    seen, page = [], 1
    while True:
        got, resp = admin_api.users_api.list(search=PREFIX, page=page, page_size=7)
        assert resp.status == 200 and got.count == SIZE
        assert len(got.results) == (7 if page < 5 else SIZE - 28)
        seen.extend(got.results)
        if page == 1:
            assert got.previous is None
        else:
            assert got.previous.startswith(f"{roster.base_url}/api/users?"), got.previous
        if page < 5:
            assert got.next.startswith(f"{roster.base_url}/api/users?") and f"page={page + 1}" in got.next, got.next
        else:
            assert got.next is None
            break
        page += 1
    assert ids(seen) == mine(population)
    # The links lead where they say.
    got, _ = admin_api.users_api.list(search=PREFIX, page=2, page_size=7)
    status, _, body = send(roster, "GET", got.next[len(roster.base_url):], headers=admin_auth(roster))
    assert status == 200 and ids(body["results"]) == mine(population)[14:21], body
    # Past the end: 404 Invalid page.
    with pytest.raises(NotFoundException) as e:
        admin_api.users_api.list(search=PREFIX, page=6, page_size=7)
    assert error_json(e.value) == {"detail": "Invalid page."}
    # The default page size is 10.
    got, _ = admin_api.users_api.list(search=PREFIX)
    assert ids(got.results) == mine(population)[:10] and got.next


def test_page_size_is_capped_at_100(roster, admin_api, population):
    tag = secrets.token_hex(2)
    for i in range(105 - SIZE):  # bare users, no password: cheap to make; no `-`, no PREFIX
        status, _, body = scim(roster, "POST", "/Users", scim_body(f"bulk{tag}{i:03d}"))
        assert status == 201, body
    got, _ = admin_api.users_api.list(page_size=1000)
    assert got.count >= 105
    assert len(got.results) == 100 and got.next
    rest, _ = admin_api.users_api.list(page_size=1000, page=2)
    assert len(rest.results) == got.count - 100
    assert not set(ids(got.results)) & set(ids(rest.results))
    assert ids(got.results) == sorted(ids(got.results)), "default order: by id"


def test_the_high_level_list_walks_every_page(roster, client, admin_api, population):
    everyone = client.users.list()
    total = admin_api.users_api.list()[0].count
    assert total > 25 and len(everyone) == total
    assert len(set(ids(everyone))) == total
    assert ids(client.users.list(search=PREFIX)) == mine(population)
    assert [u.username for u in client.users.list(search=PREFIX)] == [u["username"] for u in population]


# -- exact filters, search, sort -----------------------------------------------------------


@pytest.mark.parametrize(
    "params,pred",
    [
        ({"first_name": "Grace"}, lambda u: u["first_name"] == "Grace"),
        ({"last_name": "Turing"}, lambda u: u["last_name"] == "Turing"),
        ({"first_name": "Ada", "last_name": "Hamilton"}, lambda u: (u["first_name"], u["last_name"]) == ("Ada", "Hamilton")),
        ({"is_active": True}, lambda u: u["is_active"]),
        ({"is_active": False}, lambda u: not u["is_active"]),
        ({"first_name": "Nobody"}, lambda u: False),
    ],
    ids=["first_name", "last_name", "both-names", "is_active-True", "is_active-False", "no-match"],
)
def test_exact_filters(admin_api, population, params, pred):
    got, _ = admin_api.users_api.list(search=PREFIX, page_size=100, **params)
    assert ids(got.results) == mine(population, pred)
    assert got.count == len(got.results)


def test_username_filter_is_exact_and_booleans_are_read_in_every_spelling(roster, admin_api, population):
    one = population[4]
    got, _ = admin_api.users_api.list(username=one["username"])
    assert ids(got.results) == [one["id"]]
    got, _ = admin_api.users_api.list(username=one["username"][:-1])
    assert got.count == 0 and got.results == []
    active = mine(population, lambda u: u["is_active"])
    for spelling in ("True", "true", "1"):
        status, _, body = list_page(roster, search=PREFIX, page_size=100, is_active=spelling)
        assert status == 200 and ids(body["results"]) == active, (spelling, body)
    status, _, body = list_page(roster, search=PREFIX, page_size=100, is_active="False")
    assert status == 200 and ids(body["results"]) == mine(population, lambda u: not u["is_active"])


@pytest.mark.parametrize(
    "term,pred",
    [
        (PREFIX.upper(), lambda u: True),
        ("ovela", lambda u: "ovela" in u["last_name"].lower()),
        ("GRACE", lambda u: u["first_name"] == "Grace"),
        ("-0", lambda u: "-0" in u["username"]),
        ("%", lambda u: False),
        ("_", lambda u: False),
    ],
    ids=["prefix-upper", "last-name", "first-name-upper", "username-part", "percent-literal", "underscore-literal"],
)
def test_search_is_a_case_insensitive_substring_of_the_names(admin_api, population, term, pred):
    got, _ = admin_api.users_api.list(search=term, page_size=100)
    assert ids(got.results) == mine(population, pred)


def sorted_like(population, sort: str) -> list[dict]:
    """`sort` applied here: one stable sort per field, the last field first."""
    out = list(population)
    for f in reversed(sort.split(",")):
        out.sort(key=lambda u: u[f.lstrip("-")], reverse=f.startswith("-"))
    return out


@pytest.mark.parametrize(
    "sort",
    ["username", "-username", "id", "-id", "first_name,-id", "-last_name,id", "-is_active,id", "is_active,-first_name,username"],
)
def test_sort(admin_api, population, sort):
    got, _ = admin_api.users_api.list(search=PREFIX, sort=sort, page_size=100)
    assert ids(got.results) == ids(sorted_like(population, sort))


# -- JSON-Logic ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_json_logic_filter_selects_what_the_expression_says(admin_api, population, name):
    expr = EXPRESSIONS[name](population)
    want = mine(population, lambda u: jl(expr, u))
    got, _ = admin_api.users_api.list(filter=json.dumps({"and": [MINE, expr]}), page_size=100)
    assert ids(got.results) == want, expr
    assert got.count == len(want)
    # Filters and the other parameters combine (and).
    got, _ = admin_api.users_api.list(filter=json.dumps(expr), search=PREFIX, is_active=True, page_size=100)
    assert ids(got.results) == [i for i in want if i in mine(population, lambda u: u["is_active"])]


def test_the_high_level_filter_dsl_and_lookups(client, population):
    by_dsl = client.users.list(filter=F.username.contains(PREFIX) & (F.is_active == True))  # noqa: E712
    assert ids(by_dsl) == mine(population, lambda u: u["is_active"])
    names = [u["username"] for u in population[::3]]
    by_lookup = client.users.list(username__in=names, first_name__ne="Ada")  # {"!": {"==": ...}}
    assert ids(by_lookup) == mine(population, lambda u: u["username"] in names and u["first_name"] != "Ada")
    by_id = client.users.list(filter=F.username.contains(PREFIX), id__gte=population[20]["id"])
    assert ids(by_id) == mine(population)[20:]
    negated = client.users.list(filter=~(F.last_name == "Hopper") & F.username.contains(PREFIX))
    assert ids(negated) == mine(population, lambda u: u["last_name"] != "Hopper")


# -- bad input -----------------------------------------------------------------------------

BAD_LIST_PARAMS = {
    "sort-unknown": {"sort": "shoe_size"},
    "sort-email": {"sort": "email"},
    "sort-one-bad-of-two": {"sort": "username,nope"},
    "sort-descending-unknown": {"sort": "-password"},
    "filter-not-json": {"filter": "{not json"},
    "filter-truncated": {"filter": '{"==": [{"var": "id"}, 1]'},
    "filter-unknown-op": {"filter": '{"regex": [{"var": "username"}, "^a"]}'},
    "filter-unknown-op-nested": {"filter": '{"and": [{"==": [{"var": "id"}, 1]}, {"like": [{"var": "username"}, "a"]}]}'},
    "filter-email": {"filter": '{"==": [{"var": "email"}, "a@example.com"]}'},
    "filter-password": {"filter": '{"==": [{"var": "password"}, "secret"]}'},
    "filter-groups-in-or": {"filter": '{"or": [{"==": [{"var": "id"}, 1]}, {"in": ["admin", {"var": "groups"}]}]}'},
    "filter-unknown-var-in-not": {"filter": '{"!": {"==": [{"var": "date_joined"}, "x"]}}'},
}


@pytest.mark.parametrize("params", list(BAD_LIST_PARAMS.values()), ids=list(BAD_LIST_PARAMS))
def test_bad_list_parameters_are_400_with_a_json_body(roster, admin_api, params):
    status, _, body = list_page(roster, **params)
    assert status == 400, body
    assert isinstance(body, dict) and body, body
    # The SDK raises the plain ApiException for it (not a retry, not a ServiceException).
    with pytest.raises(ApiException) as e:
        admin_api.users_api.list(**params)
    assert type(e.value) is ApiException and e.value.status == 400
    assert error_json(e.value)


ODD_LIST_PARAMS = {
    "quote": {"search": "' OR 1=1 --"},
    "backslash": {"search": "\\"},
    "nul": {"search": "\x00"},
    "unicode": {"search": "Łódź ☃"},
    "long": {"search": "x" * 5000},
    "username-quote": {"username": '"; DROP TABLE users; --'},
    "page-size-zero": {"page_size": "0"},
    "page-size-negative": {"page_size": "-5"},
    "page-size-text": {"page_size": "lots"},
    "page-zero": {"page": "0"},
    "page-text": {"page": "first"},
    "page-huge": {"page": "99999999999999999999"},
    "is-active-odd": {"is_active": "maybe"},
    "sort-empty": {"sort": ""},
    "filter-empty-object": {"filter": "{}"},
    "filter-array": {"filter": "[1, 2]"},
    "filter-deep": {"filter": '{"!": ' * 200 + '{"==": [{"var": "id"}, 1]}' + "}" * 200},
    "filter-wrong-arity": {"filter": '{"==": [{"var": "id"}]}'},
    "filter-var-number": {"filter": '{"==": [{"var": 7}, 1]}'},
    "filter-type-mismatch": {"filter": '{"<": [{"var": "username"}, 5]}'},
    "org-id-text": {"org_id": "abc"},
}


@pytest.mark.parametrize("params", list(ODD_LIST_PARAMS.values()), ids=list(ODD_LIST_PARAMS))
def test_odd_list_parameters_never_get_a_5xx(roster, params):
    status, _, body = list_page(roster, **params)
    assert status < 500, (status, body)
    assert isinstance(body, dict), body
    if status == 200:
        assert isinstance(body["count"], int) and isinstance(body["results"], list), body
