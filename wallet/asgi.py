"""The ASGI entry point for uvicorn (``wallet.asgi:app``)."""

from wallet.app import create_app

app = create_app()
