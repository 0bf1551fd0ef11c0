"""Found by schemathesis: revoking a key by an id beyond the column's 32-bit range answered
500 on PostgreSQL (asyncpg refused the parameter); now 400 naming the field, as every other
id in a path does, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.shop import Shop, bearer


async def test_a_key_id_beyond_the_columns_range_is_refused_not_a_server_error(client):
    shop = await Shop.open(client)
    for key_id in ("906071931912", "0"):
        reply = await client.post(
            f"/api/v1/admin/keys/{key_id}/revoke", headers=bearer(shop.admin_key)
        )
        assert reply.status_code == 400, (key_id, reply.text)
        assert set(reply.json()) >= {"code", "message", "details"}
    unknown = await client.post(
        "/api/v1/admin/keys/2147483647/revoke", headers=bearer(shop.admin_key)
    )
    assert unknown.status_code == 404, unknown.text
