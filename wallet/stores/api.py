from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody

from wallet.auth.guards import allow
from wallet.http import errors
from wallet.stores import service
from wallet.stores.schemas import Store, StoreIn, StorePatch


class StoresController(Controller):
    path = "/api/v1/admin/stores"
    tags = ["admin: stores"]
    guards = [allow("admin", "support", "marketer")]

    @get(operation_id="listStores", summary="List the stores")
    async def list_stores(self) -> list[Store]:
        return await service.list_stores()

    @post(
        operation_id="createStore",
        summary="Add a store",
        guards=[allow("admin")],
        responses=errors(400, 409, 422),
    )
    async def create_store(self, data: JSONBody[StoreIn]) -> Store:
        return await service.create_store(data)

    @patch(
        "/{code:str}",
        operation_id="updateStore",
        summary="Change a store's name, address, location or time zone",
        guards=[allow("admin")],
        responses=errors(400, 404, 422),
    )
    async def update_store(self, code: FromPath[str], data: JSONBody[StorePatch]) -> Store:
        return await service.update_store(code, data)
