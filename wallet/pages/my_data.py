"""``/card/my-data``: everything we hold about the signed-in shopper, as a readable page (the
same export as ``GET /api/v1/me/export``, 152-FZ), and erasing it: a button emails a code,
the code typed on the page erases the person (as ``POST /api/v1/me/erase`` does)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from wallet import clock, db
from wallet.errors import Conflict, TooManyAttempts, retry_after
from wallet.pages.render import Page, page
from wallet.privacy import service as privacy
from wallet.privacy.api import mail_erase_code
from wallet.signin.service import CodeRefused


class MyDataPageController(Controller):
    path = "/card/my-data"
    include_in_schema = False

    @get()
    async def my_data(self, request: Request[Any, Any, Any]) -> Response[Any]:
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        return await _render(p)

    @post("/erase")
    async def erase(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Without ``code``: email a code to confirm. With it: erase me, sign me out."""
        p = await page(request)
        if p.session is None:
            return p.redirect("/signin")
        form = await p.form()
        if form is None:
            return p.refused()
        ru = p.lang == "ru"
        member_id = p.session.member_id
        now = clock.now()
        code = form.get("code", "").strip()[:20]
        if not code:
            try:
                async with db.write_transaction():
                    email, new_code = await privacy.request_erase_code(member_id, now=now)
            except Conflict:
                message = (
                    "У вас не указан email, чтобы подтвердить удаление: напишите в поддержку."
                    if ru
                    else "There is no email to confirm the erasure with: write to support."
                )
                return await _render(p, status=409, error=message)
            except TooManyAttempts as exc:
                refused = await _render(
                    p,
                    status=429,
                    error="Слишком много кодов, попробуйте позже."
                    if ru
                    else "Too many codes asked, try again later.",
                )
                refused.headers["Retry-After"] = str(retry_after(exc) or 60)
                return refused
            await mail_erase_code(email, new_code, member_id)
            return await _render(p, code_sent=email)
        try:
            await privacy.confirm_and_erase(member_id, code=code, now=now)
        except CodeRefused as exc:
            message = (
                f"Код не подошёл, осталось попыток: {exc.left}."
                if ru
                else f"The code is wrong; tries left: {exc.left}."
            )
            return await _render(p, status=422, error=message, code_sent="")
        p.clear_session()
        return p.render("erased.html", ru=ru)


async def _render(
    p: Page, *, status: int = 200, error: str | None = None, code_sent: str | None = None
) -> Response[Any]:
    assert p.session is not None
    data = await privacy.export(p.session.member_id, now=clock.now())
    return p.render(
        "my_data.html",
        status=status,
        data=data,
        ru=p.lang == "ru",
        error=error,
        code_sent=code_sent,
    )
