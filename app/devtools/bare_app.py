"""The ceiling `bench live` compares pages with: FastAPI answering a small HTML page and nothing
else, served the same way (same uvicorn, same number of workers)."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

PAGE = "<!doctype html><html lang=en><title>Bare</title><h1>Hello</h1></html>"


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


@app.get("/healthz")
async def health() -> dict:
    return {"status": "ok"}  # what the bench waits for before it starts
