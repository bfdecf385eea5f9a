"""FastAPI dependencies: settings, database and blob store come from the app, so tests swap them."""

from __future__ import annotations

from fastapi import Request

from gateway.blobs import BlobStore
from gateway.db import Database
from gateway.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.database
    return database


def get_blob_store(request: Request) -> BlobStore:
    """The app's attachment store."""
    store: BlobStore = request.app.state.blobs
    return store
