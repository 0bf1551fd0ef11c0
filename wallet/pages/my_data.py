"""``/card/my-data``: everything we hold about the signed-in shopper, as a readable page (the
same export as ``GET /api/v1/me/export``, 152-FZ)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from wallet import clock
from wallet.pages.render import page
from wallet.privacy import service as privacy


class MyDataPageController(Controller):
    path = "/card/my-data"
    include_in_schema = False

    @get()
    async def my_data(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        data = await privacy.export(p.session.member_id, now=clock.now())
        return p.render("my_data.html", data=data, ru=p.lang == "ru")
