"""Found by schemathesis (GET /api/v1/admin/reports/liability?format=xlsx: "Undocumented
Content-Type"): a report asked for as a file answers a type its operation documents, for
every report that takes ``format``, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.shop import Shop, bearer


async def test_a_report_as_a_file_answers_a_content_type_the_document_lists(client):
    shop = await Shop.open(client)
    document = (await client.get("/schema/openapi.json")).json()
    with_format = [
        path
        for path, item in document["paths"].items()
        if "get" in item
        and "{" not in path
        and any(p["name"] == "format" for p in item["get"].get("parameters", []))
    ]
    assert "/api/v1/admin/reports/liability" in with_format
    for path in with_format:
        documented = set(document["paths"][path]["get"]["responses"]["200"]["content"])
        for kind in ("csv", "xlsx"):
            reply = await client.get(path, params={"format": kind}, headers=bearer(shop.admin_key))
            if reply.status_code != 200:
                continue  # a report that needs more parameters; its 200 is not asked here
            media_type = reply.headers["content-type"].split(";")[0].strip()
            assert media_type in documented, (path, kind, media_type, documented)
