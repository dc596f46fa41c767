"""GET /: the front-office page, HTML with its search form, calling the API with the caller's
headers."""

from __future__ import annotations


def test_page_is_html_with_its_search_form(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<form id="search">' in page
    for field in ('id="user"', 'id="role"', 'id="purpose"', '<input id="q"'):
        assert field in page, field
    # Every read sends who, role and why; the form reaches all three reads of the API.
    for header in ("X-MPP-User", "X-MPP-Role", "X-MPP-Purpose"):
        assert f'"{header}"' in page, header
    for path in ('"/citizens/"', '"/citizens/lookup"', '"/citizens/search"', '"/permits/"'):
        assert path in page, path
    assert "/citizens?name=" not in page  # a name never in a URL
